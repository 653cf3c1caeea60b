"""Reads of the alerts pages. Every queryset goes through the permission gate (``restrict``), and each
selector runs a fixed number of queries, whatever the number of alerts."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q, QuerySet

from alerts.models import STATUS_GROUPS, Alert, DispatchRun, SendStatus
from organizations.querysets import Action

#: How many alerts the finding page lists, newest first.
FINDING_ALERTS_SHOWN = 20


def alerts_visible_to(user) -> QuerySet[Alert]:
    return Alert.objects.restrict(user, Action.VIEW).select_related(
        "recipient",
        "vendor_contact",
        "digest",
        "finding",
        "finding__vendor",
        "finding__facility",
        "finding__agreement",
    )


def filter_alerts(
    queryset: QuerySet[Alert], *, status: str = "", kind: str = "", recipient_id: int | None = None
) -> QuerySet[Alert]:
    if status in STATUS_GROUPS:
        queryset = queryset.filter(status__in=STATUS_GROUPS[status])
    elif status in SendStatus.values:
        queryset = queryset.filter(status=status)
    if kind:
        queryset = queryset.filter(kind=kind)
    if recipient_id is not None:
        queryset = queryset.filter(recipient_id=recipient_id)
    return queryset.order_by("-planned_on", "-pk")


def alert_counts(queryset: QuerySet[Alert]) -> dict[str, int]:
    """How many alerts are sent, pending, failed (incl. refused) and skipped: one query."""
    aggregates = {group: Count("pk", filter=Q(status__in=statuses)) for group, statuses in STATUS_GROUPS.items()}
    return queryset.order_by().aggregate(**aggregates)


def alert_recipients_of(user) -> QuerySet:
    """The people who received (or were to receive) the alerts the user sees: for the filter."""
    visible = Alert.objects.restrict(user, Action.VIEW)
    return (
        get_user_model()
        .objects.filter(pk__in=visible.values("recipient_id"))
        .order_by("last_name", "first_name", "username")
    )


@dataclass(frozen=True)
class RefusedAddress:
    user: object
    email: str
    alerts: int
    last_at: object
    last_error: str


def refused_addresses(user) -> list[RefusedAddress]:
    """Addresses the mail server refused for good, for administrators to correct: two queries. Only the
    refusals of the address (at RCPT, or an address that cannot be written in SMTP), not those of a
    message (e.g. too large); the error starts with its type (alerts.services.classify_error)."""
    address_refusals = Q(last_error__startswith="SMTPRecipientsRefused") | Q(last_error__startswith="ValueError")
    refused = Alert.objects.restrict(user, Action.ADMINISTER).filter(address_refusals, status=SendStatus.REFUSED)
    rows = list(
        refused.values("recipient_id", "email")
        .annotate(alerts=Count("pk"), last_pk=Max("pk"), last_at=Max("created_at"))
        .order_by("email")
    )
    errors = dict(Alert.objects.filter(pk__in=[row["last_pk"] for row in rows]).values_list("pk", "last_error"))
    users = get_user_model().objects.in_bulk([row["recipient_id"] for row in rows])
    return [
        RefusedAddress(
            user=users.get(row["recipient_id"]),
            email=row["email"],
            alerts=row["alerts"],
            last_at=row["last_at"],
            last_error=errors.get(row["last_pk"], ""),
        )
        for row in rows
    ]


def last_dispatch(organization_id: int) -> DispatchRun | None:
    """The latest run that covered the organization (a run for every organization covers it too)."""
    return (
        DispatchRun.objects.filter(Q(organization_id=organization_id) | Q(organization__isnull=True))
        .order_by("-started_at")
        .first()
    )


def finding_alerts(user, finding) -> tuple[list[Alert], int]:
    """Who was alerted about a finding and when, newest first, and how many alerts there are in all:
    two queries, whatever the number of alerts."""
    alerts = Alert.objects.restrict(user, Action.VIEW).filter(finding=finding)
    shown = list(
        alerts.select_related("recipient", "vendor_contact", "digest").order_by("-planned_on", "-pk")[
            :FINDING_ALERTS_SHOWN
        ]
    )
    total = len(shown) if len(shown) < FINDING_ALERTS_SHOWN else alerts.count()
    return shown, total
