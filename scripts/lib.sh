# Shared by scripts/run.sh and scripts/test.sh (sourced, not run): system packages, the virtualenv,
# node_modules and the local PostgreSQL and Redis servers. Every step is idempotent and quick when
# there is nothing to do.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BAATRACKER_VENV:-$REPO_ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root is needed for: $*  (run as root, or install sudo)"
    fi
}

# apt_ensure SPEC...: install the Debian packages that are missing, with one `apt-get update` at most.
# A SPEC is a package name, present when dpkg has it installed, or PACKAGE=COMMAND, present when
# COMMAND is on the PATH (e.g. nodejs=node, so a Node.js from elsewhere is used as it is).
_APT_UPDATED=""
apt_ensure() {
    local spec package command missing=()
    for spec in "$@"; do
        package="${spec%%=*}"
        if [ "$spec" != "$package" ]; then
            command="${spec#*=}"
            command -v "$command" >/dev/null 2>&1 && continue
        elif dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
            continue
        fi
        missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing system packages: ${missing[*]}; this script installs them on Debian/Ubuntu only"
    log "Installing system packages: ${missing[*]}"
    if [ -z "$_APT_UPDATED" ]; then
        as_root apt-get update -qq
        _APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What the app needs at run time: WeasyPrint's libraries and a font for the PDF reports, Node.js and
# npm for node_modules (Bootstrap), Tesseract with English and orientation detection for OCR of
# scanned BAAs (documents/reader.py).
# shellcheck disable=SC2034  # used by run.sh and test.sh
RUNTIME_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core nodejs=node npm=npm tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd)

# venv_ensure REQUIREMENTS_FILE: create the virtualenv if missing and pip-install the file, unless a
# stamp shows the same requirements (and the files they include) are already installed.
venv_ensure() {
    local requirements="$REPO_ROOT/$1"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "Python 3.11 or newer is needed; $PYTHON is $("$PYTHON" --version 2>&1)"
    if [ ! -x "$VENV/bin/python" ]; then
        log "Creating the virtualenv $VENV"
        if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            # Debian's Python leaves venv and ensurepip to a separate package.
            apt_ensure python3-venv
            "$PYTHON" -m venv "$VENV" || die "could not create the virtualenv $VENV"
        fi
    fi
    local stamp digest
    stamp="$VENV/.installed-$(basename "$requirements").sha256"
    digest="$(cat "$requirements" "$REPO_ROOT"/requirements*.txt <("$VENV/bin/python" --version) | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    log "Installing Python packages from $1"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" >"$stamp"
}

# node_modules_ensure: `npm ci` unless node_modules already holds exactly what package-lock.json pins.
node_modules_ensure() {
    if "$PYTHON" - "$REPO_ROOT" <<'PY'; then
import json, sys
from pathlib import Path

root = Path(sys.argv[1])


def pins(path: Path) -> dict:
    packages = json.loads(path.read_text())["packages"]
    return {name: (p.get("version"), p.get("integrity")) for name, p in packages.items() if name}


try:
    sys.exit(pins(root / "package-lock.json") != pins(root / "node_modules" / ".package-lock.json"))
except (OSError, ValueError, KeyError):
    sys.exit(1)
PY
        return 0
    fi
    log "Installing node_modules (npm ci)"
    # No install scripts: vnu-jar's would download a Java runtime; the system Java is used instead.
    (cd "$REPO_ROOT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

# Is something answering on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

redis_pong() (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'PING\r\n' >&3
    reply=""
    read -r -t 3 reply <&3 || true
    [ "${reply%$'\r'}" = "+PONG" ]
)

wait_for() { # wait_for SECONDS COMMAND...
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.5
    done
}

# redis_ensure PORT: a Redis on 127.0.0.1:PORT, installed and started when there is none.
redis_ensure() {
    local port="$1"
    redis_pong "$port" 2>/dev/null && return 0
    apt_ensure redis-server
    if ! wait_for 3 redis_pong "$port" 2>/dev/null; then
        log "Starting Redis on 127.0.0.1:$port"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir /tmp >/dev/null
    fi
    wait_for 20 redis_pong "$port" 2>/dev/null || die "Redis did not start on 127.0.0.1:$port"
}

# postgres_ensure PORT: a PostgreSQL on 127.0.0.1:PORT that user postgres can reach without a password.
# A server installed here gets trust authentication for postgres over local TCP, as a CI or development
# machine has; one that was already installed keeps its configuration.
postgres_ensure() {
    local port="$1" version hba
    port_open "$port" && return 0
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        apt_ensure postgresql
        version="$(ls /etc/postgresql | sort -V | tail -n 1)"
        hba="/etc/postgresql/$version/main/pg_hba.conf"
        if ! as_root grep -q "added by BAA Tracker" "$hba"; then
            log "Trust authentication for user postgres on 127.0.0.1 and ::1 ($hba)"
            as_root sed -i \
                -e "1i # added by BAA Tracker's scripts/lib.sh for a development or CI machine" \
                -e "1i host all postgres 127.0.0.1/32 trust" \
                -e "1i host all postgres ::1/128 trust" "$hba"
        fi
        # The package may have started the server already: reload the authentication rules.
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
        wait_for 5 port_open "$port" && return 0
    fi
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    log "Starting PostgreSQL $version on port $port"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for 30 port_open "$port" || die "PostgreSQL did not start on 127.0.0.1:$port"
}
