"""Template helpers of the alerts app: the alerts of a finding (for templates/alerts/_finding_alerts.html,
which the finding page includes with only ``finding`` in hand)."""

from __future__ import annotations

from django import template

from alerts import selectors
from alerts.models import SendStatus

register = template.Library()

STATUS_BADGE = {
    SendStatus.SENT: "text-bg-success",
    SendStatus.PENDING: "text-bg-light border",
    SendStatus.SENDING: "text-bg-info",
    SendStatus.RETRYING: "text-bg-warning",
    SendStatus.FAILED: "text-bg-danger",
    SendStatus.REFUSED: "text-bg-danger",
    SendStatus.UNCERTAIN: "text-bg-warning",
    SendStatus.SKIPPED: "text-bg-secondary",
}


@register.simple_tag(takes_context=True)
def finding_alerts(context, finding) -> dict:
    """The alerts of ``finding`` that the signed-in user may see (the permission gate decides)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or finding is None:
        return {"alerts": [], "total": 0}
    alerts, total = selectors.finding_alerts(user, finding)
    return {"alerts": alerts, "total": total}


@register.filter
def alert_status_badge(status: str) -> str:
    return STATUS_BADGE.get(status, "text-bg-secondary")
