"""Strict readers for settings taken from the environment.

A bad value stops start-up with a message naming the variable and what is wrong with it,
so a typo in production never falls back silently to a development default.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of true/false, 1/0, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} is above the maximum of {maximum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(name: str, default: list[int]) -> list[int]:
    items = env_list(name, [str(d) for d in default])
    try:
        values = [int(item) for item in items]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}={os.environ.get(name)!r} must be a comma-separated list of whole numbers."
        ) from None
    if any(v < 0 for v in values):
        raise ImproperlyConfigured(f"{name} must not contain negative numbers.")
    return values


def env_time(name: str, default: str) -> tuple[int, int]:
    """An HH:MM time of day, returned as (hour, minute)."""
    raw = os.environ.get(name, default)
    try:
        hour_text, minute_text = raw.split(":")
        hour, minute = int(hour_text), int(minute_text)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a time of day: use HH:MM, e.g. 02:30.") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid time of day (00:00 to 23:59).")
    return hour, minute


def env_database(name: str, default: str) -> dict:
    import dj_database_url

    raw = os.environ.get(name, default)
    try:
        config = dj_database_url.parse(raw, conn_max_age=60)
    except Exception as exc:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a database URL ({exc}); e.g. postgres://user:pass@host:5432/db or sqlite:///path."
        ) from None
    if config.get("ENGINE") not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ImproperlyConfigured(
            f"{name} must point at PostgreSQL (postgres://) or SQLite (sqlite:///); got {raw!r}."
        )
    return config


def email_settings_from_url(name: str, raw: str | None, *, file_path: str) -> dict[str, object]:
    """Email backend settings from an URL: smtp://user:password@host:587/?tls=True, or files.

    Without a URL, mail is written to files under var/mail (the embedded default).
    """
    if not raw:
        return {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": file_path}
    parts = urlsplit(raw)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": parts.path or file_path,
        }
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(f"{name}={raw!r}: the scheme must be smtp://, smtps://, file:// or console://.")
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name}={raw!r} names no host.")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    for flag in query:
        if flag not in {"tls", "ssl", "timeout"}:
            raise ImproperlyConfigured(f"{name}: unknown option {flag!r}; known options are tls, ssl and timeout.")

    def flag(key: str) -> bool:
        value = query.get(key, "false").lower()
        if value not in _TRUE | _FALSE:
            raise ImproperlyConfigured(f"{name}: option {key}={value!r} must be true or false.")
        return value in _TRUE

    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
        timeout = int(query.get("timeout", "30"))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} has a port or timeout that is not a number.") from None
    use_ssl = parts.scheme == "smtps" or flag("ssl")
    use_tls = flag("tls")
    if use_ssl and use_tls:
        raise ImproperlyConfigured(f"{name}: choose either tls (STARTTLS) or ssl, not both.")
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": timeout,
    }
