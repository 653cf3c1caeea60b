"""Shared test support: real services (Redis, PostgreSQL, a Celery worker) and polling helpers.

The fixtures that use these live in tests/conftest.py; tests import the helpers from here, e.g.
``from tests.support import wait_until``.
"""

from tests.support.celery_worker import CeleryWorker
from tests.support.waiting import wait_until

__all__ = ["CeleryWorker", "wait_until"]
