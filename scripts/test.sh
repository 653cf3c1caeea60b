#!/usr/bin/env bash
# The whole test suite, twice: on SQLite and on PostgreSQL, with a real Redis and Celery worker.
#
#   bash scripts/test.sh                 # everything (what CI runs)
#   bash scripts/test.sh -x -q tests/reports   # extra arguments go to pytest, both times
#
# Installs what the tests need when it is missing (Debian/Ubuntu packages, the virtualenv from
# requirements-dev.txt, node_modules) and starts PostgreSQL and Redis on 127.0.0.1 when they are down.
#
# Environment (all optional):
#   TEST_DATABASES     which runs: "sqlite postgres" (default), "sqlite" or "postgres"
#   TEST_SQLITE_URL    default sqlite:///<repo>/var/ci.sqlite3   (tests use var/test-sqlite/test_ci.sqlite3)
#   TEST_POSTGRES_URL  default postgres://postgres@127.0.0.1:5432/baatracker_ci  (tests use test_baatracker_ci)
#   REDIS_URL          default redis://127.0.0.1:6379/15 (the second pass uses /14); the tests flush them
#   TEST_PARALLEL      1 (default): both passes at the same time; 0: one after the other
# Pick your own names when several people run the tests on one machine.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TEST_DATABASES="${TEST_DATABASES:-sqlite postgres}"
TEST_SQLITE_URL="${TEST_SQLITE_URL:-sqlite:///$REPO_ROOT/var/ci.sqlite3}"
TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/baatracker_ci}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/15}"

# Chromium and its driver for the browser tests (Playwright's own Node.js needs libatomic), poppler and
# qpdf to read the PDF reports, Java for the Nu HTML Checker (vnu-jar), wrk for the load test of
# scale/loadtest.py. The servers come below.
apt_ensure "${RUNTIME_PACKAGES[@]}" chromium chromium-driver libatomic1 poppler-utils qpdf default-jre-headless=java wrk
venv_ensure requirements-dev.txt
node_modules_ensure

local_port() { # the port of a URL whose host is this machine, or nothing
    [[ "$1" =~ ^[a-z0-9]+://([^@/]*@)?(127\.0\.0\.1|localhost)(:([0-9]+))? ]] && echo "${BASH_REMATCH[4]:-$2}"
}
port="$(local_port "$REDIS_URL" 6379)" && redis_ensure "$port"
if [[ " $TEST_DATABASES " == *" postgres "* ]]; then
    port="$(local_port "$TEST_POSTGRES_URL" 5432)" && postgres_ensure "$port"
fi

mkdir -p var
summaries=()
failed=0

# redis_url_for_pass INDEX: REDIS_URL for the first pass, the Redis database below it for the second
# (redis://127.0.0.1:6379/15 -> /14), so that two passes at the same time never flush each other's.
redis_url_for_pass() {
    local index="$1" base number
    if [[ "$REDIS_URL" =~ ^(.*/)([0-9]+)$ ]]; then
        base="${BASH_REMATCH[1]}"
        number="${BASH_REMATCH[2]}"
        [ "$number" -ge "$index" ] || die "REDIS_URL: database $number leaves no room for pass $((index + 1))"
        echo "$base$((number - index))"
    else
        [ "$index" -eq 0 ] || die "REDIS_URL must end with a database number (e.g. /15) for a second pass"
        echo "$REDIS_URL"
    fi
}

# run_pass DATABASE INDEX PYTEST_ARGS...: one pytest run with its own var dir, Redis database and Celery
# queue (tests/conftest.py), so that two passes can run side by side; its output goes to standard output.
run_pass() {
    local database="$1" index="$2" url
    shift 2
    case "$database" in
    sqlite) url="$TEST_SQLITE_URL" ;;
    postgres) url="$TEST_POSTGRES_URL" ;;
    *) die "TEST_DATABASES: unknown database $database (use sqlite and/or postgres)" ;;
    esac
    mkdir -p "var/test-$database"
    DATABASE_URL="$url" REDIS_URL="$(redis_url_for_pass "$index")" BAATRACKER_VAR_DIR="$REPO_ROOT/var/test-$database" \
        "$VENV/bin/python" -m pytest "$@" </dev/null 2>&1
}

summarize() { # summarize DATABASE STATUS
    summaries+=("$1: $(grep -v '^\s*$' "var/pytest-$1.log" | tail -n 1) (exit $2)")
    [ "$2" -eq 0 ] || failed=1
}

# By default the passes run at the same time: each is mostly one process waiting on its database, its
# Celery worker or Chromium, so two of them share two cores well and CI takes about half as long. Each
# pass's output is kept in var/pytest-DATABASE.log and printed when it ends. TEST_PARALLEL=0 runs them
# one after the other with the output on the terminal as it comes.
TEST_PARALLEL="${TEST_PARALLEL:-1}"
read -r -a databases <<<"$TEST_DATABASES"
if [ "$TEST_PARALLEL" = 1 ] && [ "${#databases[@]}" -gt 1 ]; then
    pids=()
    for index in "${!databases[@]}"; do
        log "pytest on ${databases[$index]}, in the background (var/pytest-${databases[$index]}.log)"
        run_pass "${databases[$index]}" "$index" "$@" >"var/pytest-${databases[$index]}.log" &
        pids+=($!)
    done
    for index in "${!databases[@]}"; do
        status=0
        wait "${pids[$index]}" || status=$?
        log "pytest on ${databases[$index]}: its output"
        cat "var/pytest-${databases[$index]}.log"
        summarize "${databases[$index]}" "$status"
    done
else
    for index in "${!databases[@]}"; do
        log "pytest on ${databases[$index]}"
        status=0
        run_pass "${databases[$index]}" "$index" "$@" | tee "var/pytest-${databases[$index]}.log" || status=$?
        summarize "${databases[$index]}" "$status"
    done
fi

# The benchmark at small size, so that it cannot rot (it asserts nothing about time; the tests check what
# must hold): a fresh database beside the test database, seeded by the benchmark itself. One timed run of
# each path after its warm-up (--runs 1): every path and its floor still run, and the figures that count
# come from a dedicated run on an idle machine (docs/benchmarks.md). Only on a full run (no pytest arguments).
if [[ " $TEST_DATABASES " == *" postgres "* ]] && [ "$#" -eq 0 ]; then
    bench_url="${TEST_POSTGRES_URL%%\?*}_bench"
    log "Benchmark at small size ($bench_url)"
    status=0
    {
        DATABASE_URL="$bench_url" "$VENV/bin/python" scripts/recreate_database.py &&
            DATABASE_URL="$bench_url" "$VENV/bin/python" manage.py migrate --noinput -v 0 &&
            DATABASE_URL="$bench_url" "$VENV/bin/python" manage.py bench --size small --runs 1 --json var/bench-small.json
    } </dev/null 2>&1 | tee var/bench-small.log || status=$?
    summaries+=("benchmark (small): var/bench-small.json (exit $status)")
    [ "$status" -eq 0 ] || failed=1
fi

log "Summary"
printf '  %s\n' "${summaries[@]}"
exit "$failed"
