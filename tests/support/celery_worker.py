"""A real Celery worker in a subprocess, on a real Redis broker, working on pytest-django's test database.

The test process is pointed at the same broker and queue (``app_sending_to``), so a task's ``.delay()``
in a test travels through Redis to the worker like it does in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import Celery
from django.conf import settings
from kombu import pools


def worker_database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database a connection is using now: in a test, the test database."""
    name = str(settings_dict["NAME"])
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        # settings.py names the SQLite test database as a file, never :memory:, for exactly this.
        assert name != ":memory:" and "mode=memory" not in name, "a worker cannot share an in-memory database"
        return f"sqlite:///{name}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"


def drop_broker_connections(app: Celery) -> None:
    """Forget the app's broker connections and everything cached from the old broker and queue settings."""
    # Closes every pooled connection and empties kombu's registry: a closed pool is never handed out again.
    pools.reset()
    app._pool = None
    app.__dict__.pop("amqp", None)  # caches the queues, the router and the producer pool


@contextmanager
def app_sending_to(app: Celery, broker_url: str, queue: str) -> Iterator[Celery]:
    """Point the test process's Celery app at ``broker_url`` and ``queue``, not eager; restore it afterwards."""
    changes = {
        "broker_url": broker_url,
        "broker_write_url": None,
        "broker_read_url": None,
        "broker_transport_options": {"visibility_timeout": 3600},
        "task_default_queue": queue,
        "task_always_eager": False,
    }
    saved = {key: app.conf.get(key) for key in changes}
    app.conf.update(changes)
    drop_broker_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        drop_broker_connections(app)


@dataclass
class CeleryWorker:
    """A worker process. ``process`` is the Popen: a test may ``process.send_signal(signal.SIGKILL)``."""

    process: subprocess.Popen
    hostname: str
    queue: str
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        return "Worker log (last lines):\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_ready(self, app: Celery, timeout: float = 60) -> None:
        """Wait until the worker answers a ping through the broker; fail with its log if it exits or is slow."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"The Celery worker exited with code {self.process.returncode} while starting.\n{self.log_tail()}",
                    pytrace=False,
                )
            if app.control.ping(destination=[self.hostname], timeout=0.5):
                return
        self.stop()
        pytest.fail(f"The Celery worker was not ready after {timeout:g}s.\n{self.log_tail()}", pytrace=False)

    def kill(self) -> None:
        """SIGKILL: the worker dies at once, as on a crash or an out-of-memory kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a warm shutdown: the current task finishes), then SIGKILL after ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def start_worker(
    *,
    broker_url: str,
    queue: str,
    database_url: str,
    hostname: str,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
) -> CeleryWorker:
    """Start ``celery -A baatracker worker`` consuming only ``queue``; does not wait for it to be ready."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "baatracker.settings"),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Files a test's worker writes go where the test (maybe through the settings fixture) looks for them.
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "baatracker",
        "worker",
        "--pool=solo",
        "-Q",
        queue,
        "-n",
        hostname,
        "-l",
        "info",
        # Nothing to synchronise with: start fast and talk only when asked.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return CeleryWorker(process=process, hostname=hostname, queue=queue, log_path=log_path, env=env)
