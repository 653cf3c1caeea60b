#!/usr/bin/env bash
# BAA Tracker on this machine: the web app on http://127.0.0.1:8000 with a Celery worker and beat.
#
# Installs what is missing (Debian/Ubuntu packages, the virtualenv, node_modules), migrates, seeds the
# demo organization on the first run, then serves until Ctrl-C. With no environment variables set it
# is self-contained: SQLite in var/db.sqlite3, a filesystem Celery broker in var/broker, email written
# to files in var/mail. See .env.example for the variables that change that.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ADDRESS="127.0.0.1:${PORT:-8000}"

apt_ensure "${RUNTIME_PACKAGES[@]}"
venv_ensure requirements.txt
node_modules_ensure

PY="$VENV/bin/python"
log "Migrating the database"
"$PY" manage.py migrate --noinput

# How many organizations exist, and the demo's user names and password (organizations/demo.py).
IFS='|' read -r organizations demo_users demo_password demo_password_env < <("$PY" manage.py shell -v 0 -c '
from organizations import demo
from organizations.models import Organization
print(Organization.objects.count(), ", ".join(u.username for u in demo.USERS), demo.DEFAULT_PASSWORD,
      demo.PASSWORD_ENV, sep="|")' | tail -n 1)
[ -n "$organizations" ] || die "could not read the database (see the error above)"
if [ "$organizations" = "0" ]; then
    log "First run: seeding the demo organization"
    "$PY" manage.py seed_demo
fi

LOGS="${BAATRACKER_VAR_DIR:-$REPO_ROOT/var}/log"
mkdir -p "$LOGS"
pids=()
stop_background() {
    [ ${#pids[@]} -eq 0 ] && return
    log "Stopping the web server, the Celery worker and beat"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
}
trap stop_background EXIT
trap 'exit 130' INT TERM

log "Starting the Celery worker and beat (logs in $LOGS)"
"$VENV/bin/celery" -A baatracker worker --pool=solo -l info >>"$LOGS/celery-worker.log" 2>&1 &
pids+=($!)
"$VENV/bin/celery" -A baatracker beat -l info >>"$LOGS/celery-beat.log" 2>&1 &
pids+=($!)

cat <<EOF

  BAA Tracker: http://$ADDRESS/
  Sign in as $demo_users (the demo users), password $demo_password
  (or the \$$demo_password_env that was set when the demo was seeded). Admin site: http://$ADDRESS/admin/
  Email is written to files in var/mail/. Stop with Ctrl-C.

EOF
# In the background and waited for, so that Ctrl-C or a kill of this script stops all three at once.
"$PY" manage.py runserver "$ADDRESS" &
pids+=($!)
wait "${pids[-1]}"
