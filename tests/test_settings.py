"""Settings from the environment: a bad value stops start-up with a message naming the variable, and
production mode (DEBUG=false) passes Django's deployment checks.

Each case starts the app for real (``manage.py check`` in a subprocess) with the variable set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from baatracker.env import email_settings_from_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Not a real key: long and varied enough for Django's deployment check, used nowhere else.
PRODUCTION_SECRET_KEY = "t3st-only-Qm9vX2Jhcl9iYXpfcXV4X3Rlc3Rfb25seV9rZXlfZm9yX2NoZWNrcw"
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": PRODUCTION_SECRET_KEY, "ALLOWED_HOSTS": "example.org"}
# Variables of the developer's or CI's environment that would change what these tests start.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "EMAIL_URL",
    "CELERY_BROKER_URL",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "TRUSTED_PROXY_COUNT",
    # Set by the browser tests for their own thread; a production start must never inherit it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def start_up(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS_VARIABLES}
    env.update(BAATRACKER_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="baatracker.settings")
    env.update(variables)
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_it_starts_with_no_variables_set(tmp_path):
    result = start_up(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"IDLE_LOGOFF_MINUTES": "ten"}, "IDLE_LOGOFF_MINUTES='ten' is not a whole number"),
        ({"IDLE_LOGOFF_MINUTES": "0"}, "IDLE_LOGOFF_MINUTES=0 is below the minimum of 1"),
        ({"ALERT_LEAD_DAYS": "90,sixty"}, "ALERT_LEAD_DAYS='90,sixty' must be a comma-separated list"),
        ({"COMPLIANCE_RUN_AT": "2am"}, "COMPLIANCE_RUN_AT='2am' is not a time of day"),
        ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE='Mars/Olympus' is not a known time zone"),
        ({"EMAIL_URL": "mailto://x@example.org"}, "EMAIL_URL='mailto://x@example.org': the scheme must be"),
        ({"EMAIL_URL": "smtp://mail.example.org/?tsl=true"}, "EMAIL_URL: unknown option 'tsl'"),
        ({"EMAIL_URL": "smtp://mail.example.org:25/?tls=true&ssl=true"}, "EMAIL_URL: choose either tls"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL='nonsense' is not a database URL"),
        ({"DATABASE_URL": "mysql://u:p@db/app"}, "DATABASE_URL must point at PostgreSQL"),
        ({"CELERY_BROKER_URL": "sqs://queue"}, "CELERY_BROKER_URL='sqs://queue'"),
        ({"TRUSTED_PROXY_COUNT": "one"}, "TRUSTED_PROXY_COUNT='one' is not a whole number"),
        ({"DEBUG": "false"}, "SECRET_KEY must be set in production"),
        ({"DEBUG": "false", "SECRET_KEY": "short-but-not-the-development-key"}, "SECRET_KEY must be at least 50"),
        ({"DEBUG": "false", "SECRET_KEY": PRODUCTION_SECRET_KEY}, "ALLOWED_HOSTS must list the host names"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else None,
)
def test_it_refuses_to_start_with_a_bad_value(tmp_path, variables, message):
    result = start_up(tmp_path, **variables)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr, result.stderr[-2000:]


def test_it_passes_the_deployment_checks_in_production_mode(tmp_path):
    result = start_up(tmp_path, "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stderr


def test_it_reads_an_smtp_url_with_starttls():
    assert email_settings_from_url("EMAIL_URL", "smtp://user:pw@host:587/?tls=True", file_path="/unused") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "host",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "user",
        "EMAIL_HOST_PASSWORD": "pw",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 30,
    }


def test_it_decodes_a_password_with_special_characters():
    url = "smtps://alerts%40example.org:p%40ss%2Fw@smtp.example.org"
    settings = email_settings_from_url("EMAIL_URL", url, file_path="")
    assert (settings["EMAIL_HOST_USER"], settings["EMAIL_HOST_PASSWORD"]) == ("alerts@example.org", "p@ss/w")
    assert (settings["EMAIL_PORT"], settings["EMAIL_USE_SSL"], settings["EMAIL_USE_TLS"]) == (465, True, False)


def test_it_writes_email_to_files_without_a_url():
    assert email_settings_from_url("EMAIL_URL", None, file_path="/srv/var/mail") == {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": "/srv/var/mail",
    }


def example_variables() -> dict[str, str]:
    """Every NAME=value of .env.example, commented out or not."""
    lines = (BASE_DIR / ".env.example").read_text().splitlines()
    return dict(m.groups() for line in lines if (m := re.match(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$", line)))


def test_it_documents_every_variable_in_the_env_example():
    source = (BASE_DIR / "baatracker" / "settings.py").read_text()
    read = set(re.findall(r"\b(?:env_\w+|email_settings_from_url)\(\s*\"([A-Z][A-Z0-9_]*)\"", source))
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "EMAIL_URL"} <= read
    assert read - set(example_variables()) == set()


def test_it_starts_in_production_mode_with_the_env_example_values(tmp_path):
    variables = example_variables()
    variables.update(SECRET_KEY=PRODUCTION_SECRET_KEY, BAATRACKER_VAR_DIR=str(tmp_path), MEDIA_ROOT=str(tmp_path / "m"))
    result = start_up(tmp_path, "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode == 0, result.stdout + result.stderr


def site_url(tmp_path: Path, **variables: str) -> str:
    env = {name: value for name, value in os.environ.items() if name not in SETTINGS_VARIABLES | {"SITE_URL", "PORT"}}
    env.update(BAATRACKER_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="baatracker.settings", **variables)
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-v",
            "0",
            "-c",
            "from django.conf import settings; print(settings.SITE_URL)",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_it_links_to_the_port_the_development_server_serves(tmp_path):
    """`PORT=8731 bash scripts/run.sh` must not send emails whose links point to port 8000."""
    assert site_url(tmp_path) == "http://127.0.0.1:8000"
    assert site_url(tmp_path, PORT="8731") == "http://127.0.0.1:8731"
    assert site_url(tmp_path, PORT="8731", SITE_URL="https://baa.example.org/") == "https://baa.example.org"
