"""Schemathesis against the OpenAPI schema the app serves, through the WSGI application, with a real
read-write token of an administrator: every operation, generated inputs (valid and invalid), no server
error and no answer that contradicts the schema (status code, content type, body).

Schemathesis's Python API drives Hypothesis per operation inside one test (its lazy pytest loader does
not run on pytest 9). Bounded to a few examples per operation, so that it takes about a minute: it
runs in every CI pass, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.world import ApiWorld

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 15


def fuzz(operation, headers: dict[str, str], statuses: dict[str, set[int]]) -> None:
    """Hypothesis over one operation's generated cases; raises what schemathesis found."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        statuses.setdefault(operation.label, set()).add(response.status_code)

    run()


def test_the_api_keeps_to_its_schema(api_world: ApiWorld):
    headers = {"Authorization": f"Bearer {api_world.tokens['admin']}"}
    # As Django's test client does: the test's transaction must outlive each request (the handler
    # closes the connection at the start and end of every request).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application(), headers=headers)
        failures, operations = [], 0
        statuses: dict[str, set[int]] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            try:
                fuzz(operation, headers, statuses)
            except (Exception, BaseExceptionGroup) as failure:  # every operation's failures, reported together
                failures.append(f"{operation.label}: {failure}")
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert operations >= 30  # every endpoint is in the served schema
    assert not failures, f"{len(failures)} of {operations} operations failed:\n\n" + "\n\n".join(failures)
    # Not only refusals: every list answered rows, and writes were accepted somewhere.
    lists = [label for label in statuses if label.startswith("GET") and "{" not in label]
    assert lists and all(200 in statuses[label] for label in lists), statuses
    assert any(code in (200, 201) for label, codes in statuses.items() if label.startswith("POST") for code in codes)
    print({label: sorted(codes) for label, codes in sorted(statuses.items())})
