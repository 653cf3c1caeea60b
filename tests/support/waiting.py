"""Polling instead of fixed sleeps: a test waits exactly as long as the work takes, up to a limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 30,
    *,
    interval: float = 0.2,
    message: str | Callable[[], str] = "",
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that; fail the test after ``timeout``
    seconds. ``message`` (or a callable giving it, e.g. a worker's log) explains the failure."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = getattr(predicate, "__name__", predicate)
            detail = message() if callable(message) else message
            pytest.fail(f"Timed out after {timeout:g}s waiting for {what}.\n{detail}")
        time.sleep(interval)
