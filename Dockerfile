# Trostpflaster container image (see docs/production.md).
#
#   docker build -t trostpflaster .
#   docker run -d -p 8080:8080 -v trostpflaster-data:/data \
#     -e SECRET_KEY=$(openssl rand -hex 32) -e BASE_URL=https://gutscheine.example.de \
#     trostpflaster
#
# Build stage: cgo is needed for the embedded SQLite driver (mattn/go-sqlite3).
# The Go release is pinned: go.mod needs at least 1.26.8, and 1.26.10 is the
# first without called standard-library vulnerabilities (see govulncheck in
# docs/production.md). The official image sets GOTOOLCHAIN=local, so an older
# cached 1.26 image would fail instead of fetching a newer toolchain.
ARG GO_VERSION=1.26.10
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/trostpflaster . \
 && /out/trostpflaster --help >/dev/null

# Run stage: glibc (for cgo), CA certificates (SMTP, Stripe), no shell tools
# beyond the slim base, a fixed non-root user, data on a volume.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 trostpflaster \
 && useradd --system --uid 10001 --gid trostpflaster --home-dir /data --shell /usr/sbin/nologin trostpflaster \
 && install -d -o trostpflaster -g trostpflaster -m 0700 /data
COPY --from=build /out/trostpflaster /usr/local/bin/trostpflaster
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENV ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:/data/trostpflaster.db
EXPOSE 8080
# docker stop sends SIGTERM: in-flight requests finish, the worker stops.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/trostpflaster"]
CMD ["serve"]
