"""The real servers the tests use. An unreachable server fails the tests with a message that says what to
start; it never skips them."""

from __future__ import annotations

import os

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_url_from_environment() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def redis_ready(url: str) -> None:
    """Fail unless Redis answers at ``url``; then empty that database for this test session."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
    try:
        client.ping()
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at REDIS_URL={url}:\n{exc}\nStart it, e.g. `redis-server --daemonize yes "
            '--bind 127.0.0.1 --port 6379 --save "" --appendonly no`, or run the tests with `bash scripts/test.sh`, '
            "which starts it.",
            pytrace=False,
        )
    finally:
        client.close()


def database_server_ready(settings_dict: dict) -> None:
    """Fail unless the PostgreSQL server of ``settings_dict`` accepts its user (SQLite needs no server)."""
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg2

    where = f"{settings_dict.get('HOST') or 'localhost'}:{settings_dict.get('PORT') or 5432}"
    try:
        psycopg2.connect(
            dbname="postgres",
            user=settings_dict.get("USER") or None,
            password=settings_dict.get("PASSWORD") or None,
            host=settings_dict.get("HOST") or None,
            port=settings_dict.get("PORT") or None,
            connect_timeout=5,
        ).close()
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {where} as {settings_dict.get('USER')!r} (DATABASE_URL):\n"
            f"{str(exc).strip()}\nStart it, e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
            "start`, or run the tests with `bash scripts/test.sh`, which starts it.",
            pytrace=False,
        )
