.PHONY: run test bench build fmt vet

run:
	go run . demo

test:
	./scripts/test.sh

bench:
	go test -run '^$$' -bench . -benchmem ./...

build:
	go build -o trostpflaster .

fmt:
	gofmt -w .

vet:
	go vet ./...
