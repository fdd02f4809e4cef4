# shellcheck shell=bash
# scripts/lib.sh — helpers shared by scripts/test.sh (and future scripts such
# as a benchmark runner). Source it from bash after `set -euo pipefail`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Every ensure_*/start_* function exports the variables the Go tests read and
# registers its own cleanup with lib_on_exit; call lib_install_traps once.
#
# Functions return non-zero (after printing why) when a service cannot be
# provided; the caller decides whether that is fatal.

# ---------------------------------------------------------------- logging ---

lib_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# log MSG... — progress line on stderr, prefixed so it stands out in CI logs.
log() { printf '==> %s\n' "$*"; }
warn() { printf '==> WARNING: %s\n' "$*" >&2; }
die() {
	printf '==> ERROR: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------- cleanup ---

LIB_CLEANUPS=()

# lib_on_exit CMD — run CMD (a string, eval'd) on exit, last registered first.
lib_on_exit() { LIB_CLEANUPS+=("$1"); }

lib_run_cleanups() {
	local i
	for ((i = ${#LIB_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${LIB_CLEANUPS[i]}" || true
	done
	LIB_CLEANUPS=()
}

lib_install_traps() {
	trap 'rc=$?; trap - EXIT; lib_run_cleanups; exit $rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# ------------------------------------------------------------ root / apt ---

# as_root CMD... — run as root directly or through non-interactive sudo.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		return 1
	fi
}

can_root() {
	[[ $(id -u) -eq 0 ]] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

LIB_APT_UPDATED=0

# apt_install PKG... — install Debian packages (apt-get update at most once).
apt_install() {
	command -v apt-get >/dev/null 2>&1 || {
		warn "apt-get not available; cannot install $*"
		return 1
	}
	can_root || {
		warn "not root and no passwordless sudo; cannot install $*"
		return 1
	}
	if [[ $LIB_APT_UPDATED -eq 0 ]]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
		LIB_APT_UPDATED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# ------------------------------------------------------------------- misc ---

# wait_tcp HOST PORT SECONDS — wait until something accepts connections.
wait_tcp() {
	local host=$1 port=$2 deadline=$(($(date +%s) + $3))
	while (($(date +%s) < deadline)); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# urlencode STR — percent-encode for use in a URL userinfo/path component.
urlencode() {
	local s=$1 out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[a-zA-Z0-9.~_-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

# ------------------------------------------------------------------- gcc ----

# ensure_cgo — CGO_ENABLED=1 needs a C compiler (mattn/go-sqlite3).
ensure_cgo() {
	export CGO_ENABLED=1
	if ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
		log "no C compiler found; installing gcc (needed for cgo SQLite)"
		apt_install gcc libc6-dev || return 1
	fi
}

# ------------------------------------------------------------ stripe-mock ---

STRIPE_MOCK_VERSION=${STRIPE_MOCK_VERSION:-v0.203.0}

# go_bin_dir — where `go install` puts binaries.
go_bin_dir() {
	local gobin
	gobin=$(go env GOBIN)
	if [[ -n $gobin ]]; then
		echo "$gobin"
	else
		local gopath
		gopath=$(go env GOPATH)
		echo "${gopath%%:*}/bin"
	fi
}

# ensure_stripe_mock — make `stripe-mock` resolvable on PATH, installing it
# with `go install` if needed.
ensure_stripe_mock() {
	local bindir
	bindir=$(go_bin_dir)
	case ":$PATH:" in *":$bindir:"*) ;; *) export PATH="$PATH:$bindir" ;; esac
	if command -v stripe-mock >/dev/null 2>&1; then
		return 0
	fi
	log "installing github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
	go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" || return 1
	command -v stripe-mock >/dev/null 2>&1 || {
		warn "stripe-mock installed but not found in $bindir"
		return 1
	}
}

# start_stripe_mock — start stripe-mock on kernel-chosen free ports (so
# concurrent runs never collide), wait until it answers, export
# STRIPE_MOCK_URL. Stopped on exit.
start_stripe_mock() {
	ensure_stripe_mock || return 1
	local logf pid port='' deadline
	logf=$(mktemp "${TMPDIR:-/tmp}/stripe-mock.XXXXXX.log")
	# Port 0 / empty port = the kernel picks a free one; stripe-mock prints
	# the address it bound ("Listening for HTTP at address: 127.0.0.1:N").
	stripe-mock -http-addr 127.0.0.1:0 -https-addr 127.0.0.1:0 >"$logf" 2>&1 </dev/null &
	pid=$!
	lib_on_exit "stop_pid $pid stripe-mock; rm -f '$logf'"
	deadline=$(($(date +%s) + 30))
	while ((${#port} == 0)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			warn "stripe-mock exited early; its output:"
			sed 's/^/    /' "$logf" >&2
			return 1
		fi
		if (($(date +%s) >= deadline)); then
			warn "stripe-mock did not report a listening port within 30s; its output:"
			sed 's/^/    /' "$logf" >&2
			return 1
		fi
		port=$(sed -n 's/^Listening for HTTP at address: .*:\([0-9][0-9]*\)$/\1/p' "$logf" | head -n1)
		[[ -n $port ]] || sleep 0.1
	done
	# It says it is listening; make sure it also answers HTTP.
	if command -v curl >/dev/null 2>&1; then
		local ok=0
		for _ in $(seq 1 150); do
			if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/v1/customers" \
				-H 'Authorization: Bearer sk_test_123'; then
				ok=1
				break
			fi
			sleep 0.2
		done
		((ok)) || {
			warn "stripe-mock on port $port does not answer HTTP"
			return 1
		}
	else
		wait_tcp 127.0.0.1 "$port" 30 || {
			warn "stripe-mock on port $port does not accept connections"
			return 1
		}
	fi
	export STRIPE_MOCK_URL="http://127.0.0.1:$port"
	log "stripe-mock (pid $pid) at $STRIPE_MOCK_URL"
}

# stop_pid PID NAME — TERM, then KILL after ~5 s.
stop_pid() {
	local pid=$1 name=${2:-process}
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	log "stopped $name (pid $pid)"
}

# --------------------------------------------------------------- chromium ---

# ensure_chromium — install Chromium if missing, export CHROMIUM_PATH.
ensure_chromium() {
	local path=${CHROMIUM_PATH:-/usr/bin/chromium}
	if [[ ! -x $path && $path != /usr/bin/chromium ]]; then
		warn "CHROMIUM_PATH=$path is not executable; trying /usr/bin/chromium"
		path=/usr/bin/chromium
	fi
	if [[ ! -x $path ]]; then
		log "chromium not found at $path; installing it with apt-get"
		apt_install chromium fonts-dejavu-core || return 1
		path=/usr/bin/chromium
		[[ -x $path ]] || {
			warn "chromium still missing at $path after install"
			return 1
		}
	fi
	export CHROMIUM_PATH=$path
	log "chromium: $("$path" --version 2>/dev/null || echo '(version unknown)') at $CHROMIUM_PATH"
}

# ------------------------------------------------------------- postgresql ---

PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
PG_USER=${PGUSER:-postgres}

# pg_psql ARGS... — psql against the maintenance database, no .psqlrc.
pg_psql() {
	PGCONNECT_TIMEOUT=3 psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres "$@" </dev/null
}

pg_answering() {
	if command -v psql >/dev/null 2>&1; then
		pg_psql -Atc 'SELECT 1' >/dev/null 2>&1
	elif command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -t 3
	else
		wait_tcp "$PG_HOST" "$PG_PORT" 1
	fi
}

# ensure_postgres_server — make sure the server answers; try starting the
# local Debian cluster if it does not.
ensure_postgres_server() {
	if ! command -v psql >/dev/null 2>&1 && ! command -v createdb >/dev/null 2>&1; then
		log "neither psql nor createdb found; installing postgresql-client"
		apt_install postgresql-client || {
			warn "no PostgreSQL client (psql/createdb) available"
			return 1
		}
	fi
	pg_answering && return 0
	case $PG_HOST in
	127.0.0.1 | localhost | ::1 | /*) ;;
	*)
		warn "PostgreSQL at $PG_HOST:$PG_PORT is not answering"
		return 1
		;;
	esac
	if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
		# The newest installed version's "main" cluster, if it is configured
		# for the port we want (pg_lsclusters -h: ver cluster port status ...).
		local ver='' cport=''
		ver=$(ls /etc/postgresql | sort -V | tail -n1)
		if [[ -n $ver ]] && command -v pg_lsclusters >/dev/null 2>&1; then
			cport=$(pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main" { print $3 }')
			if [[ -n $cport && $cport != "$PG_PORT" ]]; then
				warn "cluster $ver/main is configured for port $cport, not $PG_PORT; not starting it"
				ver=''
			fi
		fi
		if [[ -n $ver ]]; then
			log "PostgreSQL not answering; starting cluster $ver/main"
			as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start ||
				warn "pg_ctlcluster $ver main start failed"
			for _ in $(seq 1 60); do
				pg_answering && return 0
				sleep 0.5
			done
		fi
	fi
	warn "PostgreSQL at $PG_HOST:$PG_PORT (user $PG_USER) is not answering"
	return 1
}

# create_postgres_db PREFIX — create a fresh database named
# PREFIX_<epoch>_<pid>, export TEST_POSTGRES_URL; dropped on exit.
create_postgres_db() {
	local prefix=${1:-tp_test}
	ensure_postgres_server || return 1
	local db="${prefix}_$(date +%s)_$$"
	if command -v psql >/dev/null 2>&1; then
		pg_psql -c "CREATE DATABASE \"$db\"" || return 1
	else
		PGCONNECT_TIMEOUT=3 createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$db" </dev/null || return 1
	fi
	lib_on_exit "drop_postgres_db '$db'"
	local userinfo host
	userinfo=$(urlencode "$PG_USER")
	if [[ -n ${PGPASSWORD:-} ]]; then
		userinfo+=":$(urlencode "$PGPASSWORD")"
	fi
	host=$PG_HOST
	if [[ $host == /* ]]; then # Unix socket directory
		export TEST_POSTGRES_URL="postgres://$userinfo@/$db?host=$(urlencode "$host")&port=$PG_PORT&sslmode=disable"
	else
		[[ $host == *:* ]] && host="[$host]" # IPv6 literal
		export TEST_POSTGRES_URL="postgres://$userinfo@$host:$PG_PORT/$db?sslmode=disable"
	fi
	log "PostgreSQL database $db at $PG_HOST:$PG_PORT"
}

drop_postgres_db() {
	local db=$1
	if command -v psql >/dev/null 2>&1; then
		pg_psql -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" ||
			{ warn "could not drop database $db"; return 0; }
	else
		PGCONNECT_TIMEOUT=3 dropdb --if-exists --force -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$db" </dev/null ||
			{ warn "could not drop database $db"; return 0; }
	fi
	log "dropped PostgreSQL database $db"
}

# ------------------------------------------------------------------ redis ---

REDIS_HOST=127.0.0.1
REDIS_PORT=${TEST_REDIS_PORT:-6379}

# redis_answering — PING over bash's /dev/tcp (no redis-cli needed).
redis_answering() {
	local reply=''
	exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" 2>/dev/null || return 1
	printf 'PING\r\n' >&3
	read -r -t 2 reply <&3 || true
	exec 3<&- 3>&-
	[[ $reply == +PONG* ]]
}

# start_redis — make Redis answer on 127.0.0.1:$REDIS_PORT (installing
# Debian's redis-server if needed, started without persistence) and export
# TEST_REDIS_URL. Like the PostgreSQL cluster, a server started here keeps
# running as a local service; the tests namespace their keys.
start_redis() {
	if ! redis_answering; then
		if ! command -v redis-server >/dev/null 2>&1; then
			log "redis-server not found; installing it with apt-get"
			apt_install redis-server || return 1
		fi
		log "starting redis-server on $REDIS_HOST:$REDIS_PORT"
		redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no >/dev/null || return 1
		for _ in $(seq 1 50); do
			redis_answering && break
			sleep 0.1
		done
		redis_answering || {
			warn "redis-server did not answer on $REDIS_HOST:$REDIS_PORT"
			return 1
		}
	fi
	export TEST_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0"
}

# ------------------------------------------------------------- toolchain ---

# GO_RELEASE is the patched Go release the tests, vet and govulncheck run on
# (and `make build` builds with): govulncheck finds standard-library
# vulnerabilities (html/template, net/http, crypto/x509 …) in older 1.26
# releases. The go command fetches it from the module proxy as
# golang.org/toolchain the first time (about 75 MB); a machine whose own Go
# is at least this new keeps its own.
GO_RELEASE=go1.26.10

use_patched_go() {
	local have
	have=$(GOTOOLCHAIN=local go env GOVERSION)
	if [[ $(printf '%s\n%s\n' "$GO_RELEASE" "$have" | sort -V | head -n1) == "$GO_RELEASE" ]]; then
		return 0 # the local Go is new enough
	fi
	export GOTOOLCHAIN=$GO_RELEASE
	go version >/dev/null || {
		warn "could not fetch $GO_RELEASE; staying on $have"
		export GOTOOLCHAIN=local
	}
}

# ------------------------------------------------------------ govulncheck ---

GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

# run_vulncheck — govulncheck against an offline database built from the
# golang.org/x/vulndb module (vuln.go.dev is not reachable here; the module
# proxy is), cached under ${XDG_CACHE_HOME:-~/.cache}/trostpflaster/.
# Called vulnerabilities in modules fail the step; those in the standard
# library fail too (the tests run on GO_RELEASE, see use_patched_go);
# VULNCHECK_STDLIB=list only lists them. See tools/vulncheck.
run_vulncheck() {
	local bin cache dir
	bin=$(command -v govulncheck || true)
	[[ -n $bin ]] || bin="$(go_bin_dir)/govulncheck"
	if [[ ! -x $bin ]]; then
		log "installing govulncheck $GOVULNCHECK_VERSION with go install"
		go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" || return 1
	fi
	cache="${XDG_CACHE_HOME:-$HOME/.cache}/trostpflaster/vulndb-$VULNDB_VERSION"
	if [[ ! -f $cache/index/db.json ]]; then
		log "building the offline vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
		dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || return 1
		[[ -d $dir/data/osv ]] || {
			warn "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv"
			return 1
		}
		mkdir -p "$(dirname "$cache")"
		go run ./tools/vulncheck index -osv "$dir/data/osv" -out "$cache" || return 1
	fi
	local gate=()
	[[ ${VULNCHECK_STDLIB:-fail} == fail ]] && gate=(-stdlib=fail)
	"$bin" -db "file://$cache" -format json ./... | go run ./tools/vulncheck gate ${gate[@]+"${gate[@]}"}
}
