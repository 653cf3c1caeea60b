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
#   TEST_SQLITE_URL    default sqlite:///<repo>/var/ci.sqlite3   (tests use var/test_ci.sqlite3)
#   TEST_POSTGRES_URL  default postgres://postgres@127.0.0.1:5432/baatracker_ci  (tests use test_baatracker_ci)
#   REDIS_URL          default redis://127.0.0.1:6379/15; the tests flush this Redis database
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
for database in $TEST_DATABASES; do
    case "$database" in
    sqlite) url="$TEST_SQLITE_URL" ;;
    postgres) url="$TEST_POSTGRES_URL" ;;
    *) die "TEST_DATABASES: unknown database $database (use sqlite and/or postgres)" ;;
    esac
    log "pytest on $database ($url)"
    output="var/pytest-$database.log"
    status=0
    DATABASE_URL="$url" "$VENV/bin/python" -m pytest "$@" </dev/null 2>&1 | tee "$output" || status=$?
    summaries+=("$database: $(grep -v '^\s*$' "$output" | tail -n 1) (exit $status)")
    [ "$status" -eq 0 ] || failed=1
done

# The benchmark at small size, so that it cannot rot (it asserts nothing about time; the tests check what
# must hold): a fresh database beside the test database, seeded by the benchmark itself. Only on a full
# run (no pytest arguments).
if [[ " $TEST_DATABASES " == *" postgres "* ]] && [ "$#" -eq 0 ]; then
    bench_url="${TEST_POSTGRES_URL%%\?*}_bench"
    log "Benchmark at small size ($bench_url)"
    status=0
    {
        DATABASE_URL="$bench_url" "$VENV/bin/python" scripts/recreate_database.py &&
            DATABASE_URL="$bench_url" "$VENV/bin/python" manage.py migrate --noinput -v 0 &&
            DATABASE_URL="$bench_url" "$VENV/bin/python" manage.py bench --size small --json var/bench-small.json
    } </dev/null 2>&1 | tee var/bench-small.log || status=$?
    summaries+=("benchmark (small): var/bench-small.json (exit $status)")
    [ "$status" -eq 0 ] || failed=1
fi

log "Summary"
printf '  %s\n' "${summaries[@]}"
exit "$failed"
