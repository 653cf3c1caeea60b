"""Fixtures for every test: real Redis, real PostgreSQL (when DATABASE_URL says so) and a real Celery worker.

A server that is not there fails the tests that need it, with a message saying what to start; nothing
is skipped. ``bash scripts/test.sh`` starts both servers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, connections

from tests.support.celery_worker import (
    CeleryWorker,
    app_sending_to,
    drop_broker_connections,
    start_worker,
    worker_database_url,
)
from tests.support.services import database_server_ready, redis_ready, redis_url_from_environment


def pytest_terminal_summary(terminalreporter):
    """The fault suite's table (tests/support/fault_table.py), when fault scenarios ran."""
    from tests.support.fault_table import write_summary

    write_summary(terminalreporter)


def pytest_collection_modifyitems(config, items):
    """Tests of PostgreSQL-only code (the benchmark and its SQL floor) belong to the PostgreSQL pass of
    scripts/test.sh: on another database they are deselected, not skipped, and the pass says so."""
    if connection.vendor == "postgresql":
        return
    deselected = [item for item in items if item.get_closest_marker("postgresql_only")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql_only")]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings) -> None:
    """Before pytest-django creates the test databases: is their server there at all?"""
    for alias in connections:
        database_server_ready(connections[alias].settings_dict)


@pytest.fixture(scope="session", autouse=True)
def _static_root_exists() -> None:
    """WhiteNoise warns at every middleware set-up when STATIC_ROOT is missing; tests never run
    collectstatic (the live server serves static files from the finders), so an empty one will do."""
    from django.conf import settings

    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """REDIS_URL (default redis://127.0.0.1:6379/15), answering and emptied for this session."""
    url = redis_url_from_environment()
    redis_ready(url)
    return url


@pytest.fixture(scope="session")
def celery_queue() -> str:
    """This session's own queue, so test sessions sharing a Redis never take each other's tasks."""
    return f"baatracker-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def celery_worker_factory(
    transactional_db, redis_url, celery_queue, tmp_path, monkeypatch
) -> Iterator[Callable[..., CeleryWorker]]:
    """Starts real Celery workers on this session's queue; each one is stopped after the test.

    Data must be committed for a worker to see it, hence ``transactional_db``. While the test runs, the
    test process sends its tasks (``.delay()``) through the same Redis to the same queue. Queued tasks
    left over from an earlier test are purged first. ``extra_env`` sets variables for the worker only,
    e.g. ``{"CELERY_VISIBILITY_TIMEOUT": "10"}``.
    """
    from baatracker.celery import app

    # The CELERY_BROKER_URL variable, if set, beats app.conf in Celery: keep the test process on Redis too.
    monkeypatch.setenv("CELERY_BROKER_URL", redis_url)
    workers: list[CeleryWorker] = []
    with app_sending_to(app, redis_url, celery_queue):
        app.control.purge()

        def start(*, extra_env: dict[str, str] | None = None, timeout: float = 60) -> CeleryWorker:
            number = len(workers) + 1
            worker = start_worker(
                broker_url=redis_url,
                queue=celery_queue,
                database_url=worker_database_url(connection.settings_dict),
                hostname=f"{celery_queue}-{number}@localhost",
                log_path=tmp_path / f"celery-worker-{number}.log",
                extra_env=extra_env,
            )
            workers.append(worker)
            worker.wait_ready(app, timeout=timeout)
            return worker

        try:
            yield start
        finally:
            for worker in workers:
                worker.stop()


@pytest.fixture
def celery_worker(celery_worker_factory) -> CeleryWorker:
    """One real Celery worker (``--pool=solo``), ready; see ``celery_worker_factory``."""
    return celery_worker_factory()


# Administrators need two-factor sign-in (settings.TWO_FACTOR_REQUIRED_FOR_ADMINS, identity/twofactor.py).
# The tests of everything else sign administrators in with a password alone; the tests of two-factor
# sign-in (tests/identity, tests/browser/test_two_factor.py) switch it back on. Servers that tests start
# as subprocesses (gunicorn in the load test) read the variable.
os.environ.setdefault("TWO_FACTOR_REQUIRED_FOR_ADMINS", "false")


@pytest.fixture(autouse=True)
def _two_factor_for_admins_off(settings):
    settings.TWO_FACTOR_REQUIRED_FOR_ADMINS = False


@pytest.fixture(scope="module")
def idp():
    """A real OpenID Connect provider (authlib) on loopback for the single sign-on tests, one per module."""
    from tests.support.oidc_provider import OidcTestProvider

    provider = OidcTestProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def fresh_broker_connections():
    """Every test starts and ends with no broker connection or producer pool cached in the app. Closing
    kombu's pools alone is not enough: the app's ``amqp`` keeps its producer pool, now closed, and the
    next ``.delay()`` fails with "Acquire on closed pool" (every write service enqueues a compliance
    run on commit, compliance/scheduling.py, the demo seed included)."""
    from baatracker.celery import app

    drop_broker_connections(app)
    yield
    drop_broker_connections(app)
