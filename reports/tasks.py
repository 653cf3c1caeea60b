"""Thin tasks: they take ids, call a service, and are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from reports.services import audit_report_generate


@shared_task(name="reports.tasks.generate_audit_report")
def generate_audit_report(report_id: int) -> dict[str, object]:
    """Generate a queued audit report; a report already done is never regenerated."""
    report = audit_report_generate(report_id=report_id)
    return {"report_id": report.pk, "status": report.status}
