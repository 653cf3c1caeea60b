"""Thin tasks: they take ids, call a service, and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from onboarding.services import draft_read


@shared_task(name="onboarding.tasks.read_draft")
def read_draft(draft_id: int) -> dict[str, object]:
    """Check and read one uploaded draft in the worker (never in the web process)."""
    draft = draft_read(draft_id=draft_id)
    return {"draft_id": draft_id, "state": draft.state}
