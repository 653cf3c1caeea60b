from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.apps import apps
from django.db.models import CharField, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from baatracker.history import changed_fields, content_fields
from organizations.models import Membership, access_in_force_q


def active_membership(user) -> Membership | None:
    """The user's membership if it grants access today, cached on the user object for the request.

    An auditor's access stops after its end date (access_expires_on).
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if hasattr(user, "_active_membership_cache"):
        return user._active_membership_cache
    today = timezone.localdate()
    membership = (
        Membership.objects.select_related("organization").filter(user=user).filter(access_in_force_q(today)).first()
    )
    user._active_membership_cache = membership
    return membership


# --- Members -----------------------------------------------------------------------------------------


def members_of(organization_id: int):
    """The organization's memberships with their users and facility limits (three queries)."""
    from django.db.models import Prefetch

    from facilities.models import Facility

    return (
        Membership.objects.filter(organization_id=organization_id)
        .select_related("user")
        .prefetch_related(Prefetch("facilities", queryset=Facility.objects.order_by("name")))
        .order_by("-user__is_active", "user__last_name", "user__first_name", "user__username")
    )


def active_admin_count(organization_id: int, *, excluding_membership_id: int | None = None) -> int:
    from organizations.models import Role

    queryset = Membership.objects.filter(organization_id=organization_id, role=Role.ADMIN, user__is_active=True)
    if excluding_membership_id is not None:
        queryset = queryset.exclude(pk=excluding_membership_id)
    return queryset.count()


# --- Activity log: every change (django-simple-history) and every download/export, newest first -------


@dataclass(frozen=True)
class ActivitySource:
    """One model whose history belongs to the activity log, and how its history reaches the organization."""

    key: str
    label: str
    model_path: str
    organization_lookup: str
    describe: Callable[[], Any]
    detail_url_name: str = ""

    @cached_property
    def model(self):
        return apps.get_model(self.model_path)

    @property
    def history_model(self):
        return self.model.history.model


def _source_list() -> list[ActivitySource]:
    return [
        ActivitySource("organization", "Organization", "organizations.Organization", "id", lambda: F("name")),
        ActivitySource(
            "membership", "Member", "organizations.Membership", "organization_id", lambda: F("user__username")
        ),
        ActivitySource("facility", "Facility", "facilities.Facility", "organization_id", lambda: F("name")),
        ActivitySource("vendor", "Vendor", "vendors.Vendor", "organization_id", lambda: F("legal_name")),
        ActivitySource(
            "engagement",
            "Engagement",
            "vendors.Engagement",
            "facility__organization_id",
            lambda: Concat(F("vendor__legal_name"), Value(" at "), F("facility__name"), output_field=CharField()),
        ),
        ActivitySource(
            "subcontractorlink",
            "Subcontractor",
            "vendors.SubcontractorLink",
            "vendor__organization_id",
            lambda: Concat(
                F("subcontractor__legal_name"), Value(" under "), F("vendor__legal_name"), output_field=CharField()
            ),
        ),
        ActivitySource(
            "agreement", "Agreement", "agreements.BusinessAssociateAgreement", "organization_id", lambda: F("title")
        ),
        ActivitySource(
            "agreementdocument",
            "Agreement document",
            "agreements.AgreementDocument",
            "agreement__organization_id",
            lambda: Concat(F("original_name"), Value(" of "), F("agreement__title"), output_field=CharField()),
        ),
        ActivitySource(
            "checklist",
            "Teleradiology checklist",
            "checklists.TeleradiologyChecklist",
            "engagement__facility__organization_id",
            lambda: Concat(
                F("engagement__vendor__legal_name"),
                Value(" at "),
                F("engagement__facility__name"),
                output_field=CharField(),
            ),
        ),
        ActivitySource(
            "checklistitem",
            "Checklist item",
            "checklists.ChecklistItem",
            "checklist__engagement__facility__organization_id",
            lambda: Concat(
                Value("Item "),
                Cast(F("number"), CharField()),
                Value(": "),
                F("checklist__engagement__vendor__legal_name"),
                Value(" at "),
                F("checklist__engagement__facility__name"),
                output_field=CharField(),
            ),
        ),
        ActivitySource(
            "identityprovider",
            "Single sign-on settings",
            "identity.IdentityProvider",
            "organization_id",
            lambda: F("name"),
        ),
        ActivitySource(
            "signinpolicy",
            "Two-factor policy",
            "identity.SignInPolicy",
            "organization_id",
            lambda: Value("Two-factor sign-in policy", output_field=CharField()),
        ),
    ]


ACCESS_SOURCE_KEY = "access"
SIGN_IN_SOURCE_KEY = "signin"


def activity_sources() -> dict[str, ActivitySource]:
    return {source.key: source for source in _source_list()}


def activity_source_choices() -> list[tuple[str, str]]:
    return [(source.key, source.label) for source in _source_list()] + [
        (ACCESS_SOURCE_KEY, "Downloads, exports and API use"),
        (SIGN_IN_SOURCE_KEY, "Sign-ins and failed sign-ins"),
    ]


_COLUMNS = ("a_source", "a_object_id", "a_action", "a_label", "a_user_id", "a_at", "a_reason", "a_key")
_HISTORY_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
_SIGN_IN_ACTIONS = {"succeeded": "succeeded", "failed": "failed", "locked_out": "locked"}  # after "Sign-in"


@dataclass(frozen=True)
class ActivityFilter:
    """What an audit-log reader asked for. ``viewer`` is the reader: with a facility-limited membership
    only the history of records the gate lets them see is included (``restrict(viewer, Action.AUDIT)``),
    and organization-wide rows (members, settings, downloads, sign-ins) are left out."""

    user_id: int | None = None
    source: str = ""
    since: Any = None  # a date, inclusive
    until: Any = None  # a date, inclusive
    viewer: Any = None

    @cached_property
    def limited(self) -> bool:
        if self.viewer is None:
            return False
        membership = active_membership(self.viewer)
        return membership is None or membership.limited_facility_ids is not None

    def logged(self, queryset: QuerySet) -> QuerySet:
        """Rows of a log table (``user``, ``at``) the reader may see, by the user and dates asked for."""
        from organizations.querysets import Action

        if self.viewer is not None:
            queryset = queryset.restrict(self.viewer, Action.AUDIT)
        if self.user_id is not None:
            queryset = queryset.filter(user_id=self.user_id)
        return self.dated(queryset, "at")

    def dated(self, queryset: QuerySet, field: str) -> QuerySet:
        if self.since:
            queryset = queryset.filter(**{f"{field}__gte": _day_start(self.since)})
        if self.until:
            queryset = queryset.filter(**{f"{field}__lt": _day_start(self.until + dt.timedelta(days=1))})
        return queryset


def _day_start(day):
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _history_rows(source: ActivitySource, organization_id: int, filters: ActivityFilter) -> QuerySet | None:
    from organizations.querysets import Action, RestrictedQuerySet

    queryset = source.history_model.objects.filter(**{source.organization_lookup: organization_id})
    if filters.limited:
        if not isinstance(source.model._default_manager.all(), RestrictedQuerySet):
            return None  # e.g. members: organization-wide, for unrestricted readers only
        visible = source.model._default_manager.restrict(filters.viewer, Action.AUDIT)
        queryset = queryset.filter(id__in=visible.values("pk"))
    if filters.user_id is not None:
        queryset = queryset.filter(history_user_id=filters.user_id)
    queryset = filters.dated(queryset, "history_date")
    return (
        queryset.annotate(
            a_source=Value(source.key, output_field=CharField()),
            a_object_id=Cast(F("id"), CharField()),
            a_action=F("history_type"),
            a_label=Cast(source.describe(), CharField()),
            a_user_id=F("history_user_id"),
            a_at=F("history_date"),
            a_reason=Coalesce(F("history_change_reason"), Value(""), output_field=CharField()),
            a_key=F("history_id"),
        )
        .values(*_COLUMNS)
        .order_by()
    )  # no ORDER BY inside a UNION (SQLite refuses it)


def _access_rows(organization_id: int, filters: ActivityFilter) -> QuerySet:
    from organizations.models import AccessLogEntry

    queryset = filters.logged(AccessLogEntry.objects.filter(organization_id=organization_id))
    return (
        queryset.annotate(
            a_source=Value(ACCESS_SOURCE_KEY, output_field=CharField()),
            a_object_id=F("object_id"),
            a_action=F("action"),
            a_label=F("description"),
            a_user_id=F("user_id"),
            a_at=F("at"),
            a_reason=F("object_type"),
            a_key=F("id"),
        )
        .values(*_COLUMNS)
        .order_by()
    )  # no ORDER BY inside a UNION (SQLite refuses it)


def _sign_in_rows(organization_id: int, filters: ActivityFilter) -> QuerySet:
    from identity.models import SignInEvent

    queryset = filters.logged(SignInEvent.objects.filter(organization_id=organization_id))
    return (
        queryset.annotate(
            a_source=Value(SIGN_IN_SOURCE_KEY, output_field=CharField()),
            a_object_id=F("username"),
            a_action=Concat(F("outcome"), Value(":"), F("method"), output_field=CharField()),
            a_label=F("username"),
            a_user_id=F("user_id"),
            a_at=F("at"),
            # The address rides along in the reason (PostgreSQL's inet as text has a /32 or /128 suffix).
            a_reason=Concat(
                F("detail"),
                Value(" | "),
                Coalesce(Cast(F("ip_address"), CharField()), Value("")),
                output_field=CharField(),
            ),
            a_key=F("id"),
        )
        .values(*_COLUMNS)
        .order_by()
    )


def activity_log(
    organization_id: int,
    *,
    user_id: int | None = None,
    source: str = "",
    since=None,
    until=None,
    user=None,
) -> QuerySet:
    """One UNION query over the history tables of the organization's models, the access log and the
    sign-in log (45 CFR 164.312(b) audit controls, 164.308(a)(5)(ii)(C) log-in monitoring).

    Rows are dicts (a_source, a_object_id, a_action, a_label, a_user_id, a_at, a_reason, a_key),
    newest first; slice it (a Paginator does) and pass the page to ``activity_page_details``.
    ``since``/``until`` are dates (inclusive); ``user`` is the reader: the gate's restrict(user, AUDIT).
    """
    filters = ActivityFilter(user_id=user_id, source=source, since=since, until=until, viewer=user)
    sources = activity_sources()
    parts = []
    if source in ("", ACCESS_SOURCE_KEY):
        parts.append(_access_rows(organization_id, filters))
    if source in ("", SIGN_IN_SOURCE_KEY):
        parts.append(_sign_in_rows(organization_id, filters))
    for key, item in sources.items():
        if source in ("", key):
            rows = _history_rows(item, organization_id, filters)
            if rows is not None:
                parts.append(rows)
    first, *others = parts
    combined = first.union(*others, all=True) if others else first
    return combined.order_by("-a_at", "-a_key")


@dataclass
class ActivityEntry:
    at: Any
    source: str
    source_label: str
    action: str
    label: str
    user: Any
    object_id: str
    reason: str = ""
    changes: list[str] | None = None

    @property
    def is_access(self) -> bool:
        return self.source == ACCESS_SOURCE_KEY

    @property
    def is_sign_in(self) -> bool:
        return self.source == SIGN_IN_SOURCE_KEY


def activity_page_details(rows: list[dict]) -> list[ActivityEntry]:
    """Users and changed fields of one page of the activity log: two queries per model on the page and
    one for the users, whatever the page size."""
    from django.contrib.auth import get_user_model

    from identity.models import SignInMethod
    from organizations.models import AccessAction

    sources = activity_sources()
    user_ids = {row["a_user_id"] for row in rows if row["a_user_id"] is not None}
    users = get_user_model().objects.in_bulk(user_ids) if user_ids else {}
    changes = _changed_fields(rows, sources)
    access_labels = dict(AccessAction.choices)
    entries = []
    for row in rows:
        key = row["a_source"]
        reason = row["a_reason"]
        if key == ACCESS_SOURCE_KEY:
            source_label = "Download, export or API use"
            action = access_labels.get(row["a_action"], row["a_action"]).lower()
            reason = ""
        elif key == SIGN_IN_SOURCE_KEY:
            outcome, _, method = row["a_action"].partition(":")
            source_label = "Sign-in"
            action = f"{_SIGN_IN_ACTIONS.get(outcome, outcome)} ({SignInMethod(method).label.lower()})"
            detail, _, address = reason.rpartition(" | ")
            address = address.split("/", 1)[0]
            reason = "; ".join(part for part in (detail, f"from {address}" if address else "") if part)
        else:
            source_label = sources[key].label
            action = _HISTORY_ACTIONS.get(row["a_action"], row["a_action"])
        entries.append(
            ActivityEntry(
                at=row["a_at"],
                source=key,
                source_label=source_label,
                action=action,
                label=row["a_label"] or "",
                user=users.get(row["a_user_id"]),
                object_id=row["a_object_id"] or "",
                reason=reason,
                changes=changes.get((key, row["a_key"])),
            )
        )
    return entries


#: Fields of the history tables that are bookkeeping, not content.
_NOT_CONTENT = {"history_id", "history_date", "history_change_reason", "history_type", "history_user", "created_at"}


def _changed_fields(rows: list[dict], sources: dict[str, ActivitySource]) -> dict[tuple[str, int], list[str]]:
    changed_keys: dict[str, list[int]] = {}
    for row in rows:
        if row["a_source"] not in (ACCESS_SOURCE_KEY, SIGN_IN_SOURCE_KEY) and row["a_action"] == "~":
            changed_keys.setdefault(row["a_source"], []).append(row["a_key"])
    result: dict[tuple[str, int], list[str]] = {}
    for key, history_ids in changed_keys.items():
        history_model = sources[key].history_model
        previous = history_model.objects.filter(id=OuterRef("id"), history_date__lt=OuterRef("history_date")).order_by(
            "-history_date", "-history_id"
        )
        records = list(
            history_model.objects.filter(history_id__in=history_ids).annotate(
                previous_history_id=Subquery(previous.values("history_id")[:1])
            )
        )
        before = history_model.objects.in_bulk([r.previous_history_id for r in records if r.previous_history_id])
        fields = content_fields(sources[key].model, skip=_NOT_CONTENT)
        for record in records:
            old = before.get(record.previous_history_id)
            if old is None:
                continue
            result[(key, record.history_id)] = [str(f.verbose_name) for f in changed_fields(old, record, fields)]
    return result
