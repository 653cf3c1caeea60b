"""The API tests share one permission world per module: built once in a transaction that is rolled
back after the module, while each test runs in its own savepoint (pytest-django's ``db``), so a test's
writes never reach the next test."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test.utils import override_settings

from tests.api.world import ApiWorld, build_api_world
from tests.factories import module_transaction


@pytest.fixture(scope="module")
def _module_api_world(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, not security
        ),
    ):
        with module_transaction():
            world = build_api_world()
            yield world
            transaction.set_rollback(True)


@pytest.fixture
def api_world(_module_api_world, db) -> ApiWorld:
    return _module_api_world
