#!/usr/bin/env bash
# scripts/test.sh — run the whole test suite with every service it needs.
#
# Usage (from any directory):
#   ./scripts/test.sh                          # gofmt, go vet ./..., go test ./...
#   ./scripts/test.sh -run Places ./models/    # only those packages / tests
#   ./scripts/test.sh -v -race                 # extra flags, still ./...
#   ./scripts/test.sh ./app/... -args -foo     # -args and what follows go to the test binaries
#
# Arguments are passed to `go test` after its defaults
# (`-count=1 -timeout 20m`), so a later `-count`/`-timeout` of yours wins.
# Package patterns among the arguments (any argument that is not a flag or a
# flag's value, e.g. ./models/ or ./app/...) replace the default ./...;
# with only flags, ./... is still tested. `go vet` runs on the same packages
# (with your -tags, if any); `gofmt -l .` always checks the whole tree.
#
# What it sets up (each torn down on exit, including on failure or Ctrl-C):
#   * stripe-mock (installed with `go install` if missing) on kernel-chosen
#     free ports                               -> STRIPE_MOCK_URL
#   * Chromium (apt-get installed if missing and we can be root)
#                                              -> CHROMIUM_PATH
#   * a fresh PostgreSQL database tp_test_<epoch>_<pid> on
#     ${PGHOST:-127.0.0.1}:${PGPORT:-5432} as ${PGUSER:-postgres}
#     (PGPASSWORD is honoured), dropped on exit -> TEST_POSTGRES_URL
#   * Redis on 127.0.0.1:${TEST_REDIS_PORT:-6379} (Debian's redis-server,
#     apt-get installed and started without persistence if not answering;
#     left running like the PostgreSQL cluster) -> TEST_REDIS_URL
#   * TEST_REQUIRE_ALL=1 (tests fail instead of skipping when a service is
#     missing), TEST_ARTIFACTS=<repo>/test-artifacts, CGO_ENABLED=1
#
# Set TEST_REQUIRE_ALL=0 to run without a service that cannot be provided
# (its tests then skip); by default a missing service is a hard error.
#
# On a full run (no package arguments) a fourth step runs govulncheck against
# an offline vulnerability database built from the golang.org/x/vulndb
# module (see scripts/lib.sh run_vulncheck; VULNCHECK=0 skips it).
#
# Runs every step even if an earlier one fails, prints a one-line
# summary last, and exits non-zero if any step failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

START_MS=$(lib_now_ms)
lib_install_traps

# --------------------------------------------------------------- arguments ---

# go test / go build flags that take no value (everything else of the form
# "-flag" without "=" consumes the next argument).
is_bool_flag() {
	local f=${1#-}
	f=${f#-}
	f=${f#test.}
	case $f in
	a | n | x | v | c | race | msan | asan | cover | work | json | short | failfast | \
		fullpath | benchmem | artifacts | trimpath | linkshared | modcacherw | buildvcs)
		return 0
		;;
	esac
	return 1
}

TEST_FLAGS=()  # flags (and their values) for go test
PKGS=()        # package patterns
BIN_ARGS=()    # -args and everything after it
VET_FLAGS=()   # build flags go vet should share (-tags)
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[i]}
	case $a in
	-args | --args)
		BIN_ARGS=("${args[@]:i}")
		break
		;;
	-tags=* | --tags=*)
		TEST_FLAGS+=("$a")
		VET_FLAGS+=("$a")
		;;
	-tags | --tags)
		TEST_FLAGS+=("$a" "${args[i + 1]:-}")
		VET_FLAGS+=("$a" "${args[i + 1]:-}")
		i=$((i + 1))
		;;
	-*=*)
		TEST_FLAGS+=("$a")
		;;
	-*)
		TEST_FLAGS+=("$a")
		if ! is_bool_flag "$a" && ((i + 1 < ${#args[@]})); then
			i=$((i + 1))
			TEST_FLAGS+=("${args[i]}")
		fi
		;;
	*)
		PKGS+=("$a")
		;;
	esac
done
((${#PKGS[@]})) || PKGS=(./...)

# ---------------------------------------------------------------- services ---

case ${TEST_REQUIRE_ALL:-1} in
0 | false | no | '') unset TEST_REQUIRE_ALL ;;
*) export TEST_REQUIRE_ALL=1 ;;
esac

# need NAME CMD... — run a setup step; a failure is fatal under
# TEST_REQUIRE_ALL, a warning otherwise.
need() {
	local name=$1 t0
	shift
	t0=$(lib_now_ms)
	if "$@"; then
		log "$name ready in $(($(lib_now_ms) - t0)) ms"
	elif [[ -n ${TEST_REQUIRE_ALL:-} ]]; then
		printf '==> ERROR: %s is unavailable and TEST_REQUIRE_ALL is set (set TEST_REQUIRE_ALL=0 to skip its tests)\n' "$name" >&2
		lib_run_cleanups
		echo "==> SUMMARY: FAIL — setup: $name unavailable — total $(awk -v ms="$(($(lib_now_ms) - START_MS))" 'BEGIN { printf "%.1f", ms / 1000 }')s"
		exit 1
	else
		warn "$name is unavailable; its tests will be skipped"
	fi
}

use_patched_go
log "setup ($(go version | cut -d' ' -f3-))"
need "C compiler (cgo)" ensure_cgo
need "stripe-mock" start_stripe_mock
need "chromium" ensure_chromium
need "postgresql" create_postgres_db tp_test
need "redis" start_redis

export TEST_ARTIFACTS="$PWD/test-artifacts"
mkdir -p "$TEST_ARTIFACTS"
export CGO_ENABLED=1

SETUP_MS=$(($(lib_now_ms) - START_MS))
log "setup done in ${SETUP_MS} ms"
for v in STRIPE_MOCK_URL CHROMIUM_PATH TEST_POSTGRES_URL TEST_REDIS_URL TEST_REQUIRE_ALL TEST_ARTIFACTS CGO_ENABLED; do
	printf '    %s=%s\n' "$v" "${!v:-<unset>}"
done

# ------------------------------------------------------------------- steps ---

RESULTS=()
FAILED=0

# Each step's command runs in its own process group (setsid) and the script
# waits for it, so a SIGTERM/SIGINT to this script interrupts at once and the
# EXIT trap kills the whole group (go, test binaries, browsers) before the
# services are torn down.
CHILD_PID=
run_child() {
	local rc=0
	if command -v setsid >/dev/null 2>&1; then
		setsid "$@" &
	else
		"$@" &
	fi
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=
	return "$rc"
}
kill_child() {
	[[ -n $CHILD_PID ]] || return 0
	log "interrupted; stopping process group $CHILD_PID"
	kill -TERM -- "-$CHILD_PID" "$CHILD_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 -- "-$CHILD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$CHILD_PID" 2>/dev/null || true
	CHILD_PID=
}
lib_on_exit kill_child # registered last, so it runs first

# step NAME CMD... — print a header, run, record the outcome and duration.
step() {
	local name=$1 t0 rc=0
	shift
	local shown="$*"
	shown=${shown#run_child }
	[[ $1 == gofmt_check ]] && shown="gofmt -l ."
	printf '\n==> [%s] %s\n' "$name" "$shown"
	t0=$(lib_now_ms)
	"$@" || rc=$?
	local secs
	secs=$(awk -v ms="$(($(lib_now_ms) - t0))" 'BEGIN { printf "%.1f", ms / 1000 }')
	if ((rc == 0)); then
		RESULTS+=("$name ok ${secs}s")
	else
		RESULTS+=("$name FAIL(rc=$rc) ${secs}s")
		FAILED=1
	fi
}

gofmt_check() {
	local out
	out=$(gofmt -l .) || {
		printf '%s\n' "$out"
		return 1
	}
	if [[ -n $out ]]; then
		echo "gofmt: these files need formatting (run: gofmt -w .):"
		printf '    %s\n' $out
		return 1
	fi
}

step gofmt gofmt_check
step vet run_child go vet ${VET_FLAGS[@]+"${VET_FLAGS[@]}"} "${PKGS[@]}"
step test run_child go test -count=1 -timeout 20m ${TEST_FLAGS[@]+"${TEST_FLAGS[@]}"} "${PKGS[@]}" \
	${BIN_ARGS[@]+"${BIN_ARGS[@]}"}
# govulncheck on full runs only (no package arguments), unless VULNCHECK=0.
if [[ ${PKGS[*]} == ./... && ${VULNCHECK:-1} != 0 ]]; then
	step govulncheck run_child bash -c 'set -euo pipefail; source scripts/lib.sh; run_vulncheck'
fi

# ----------------------------------------------------------------- summary ---

# Tear the services down now so the summary really is the last line.
echo
lib_run_cleanups
TOTAL=$(awk -v ms="$(($(lib_now_ms) - START_MS))" 'BEGIN { printf "%.1f", ms / 1000 }')
SETUP=$(awk -v ms="$SETUP_MS" 'BEGIN { printf "%.1f", ms / 1000 }')
SUMMARY=$(printf '%s, ' "${RESULTS[@]}")
SUMMARY=${SUMMARY%, }
if ((FAILED)); then
	echo "==> SUMMARY: FAIL — setup ${SETUP}s, $SUMMARY — total ${TOTAL}s"
	exit 1
fi
echo "==> SUMMARY: PASS — setup ${SETUP}s, $SUMMARY — total ${TOTAL}s"
