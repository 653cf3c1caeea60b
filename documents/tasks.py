"""Thin tasks: they take ids, call a service, and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from documents.services import document_read


@shared_task(name="documents.tasks.read_document")
def read_document(document_id: int) -> dict[str, object]:
    """Check and read one stored document in the worker (never in the web process)."""
    reading = document_read(document_id=document_id)
    return {"document_id": document_id, "safety": reading.safety, "state": reading.state}
