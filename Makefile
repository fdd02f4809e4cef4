.PHONY: run test bench build fmt vet

run:
	go run . demo

test:
	./scripts/test.sh

# Seeds 10,000 merchants, starts the app on loopback and measures it against
# a bare SQLite baseline; prints a table and writes bench/results/latest.json.
# BENCH_FLAGS=-duration=1s for a quick look; see `go run ./bench -h`.
bench:
	go run ./bench $(BENCH_FLAGS)

# Release builds use the patched Go release (GO_RELEASE in scripts/lib.sh).
build:
	GOTOOLCHAIN=go1.26.10 go build -trimpath -o trostpflaster .

fmt:
	gofmt -w .

vet:
	go vet ./...
