"""Change history (django-simple-history): the one module that reads and compares history records.

Used by the vendor and agreement pages (``change_history``), the organization's activity log and the
audit report (``content_fields``, ``changed_fields``). Which records a user may see, and the names
shown for the ids in them, come from the permission gate: callers pass the history of restricted
querysets and names built by ``organizations.querysets.names_through_gate``.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import QuerySet


def content_fields(model: type[models.Model], *, skip: Collection[str]) -> list[models.Field]:
    """The model's concrete fields that are content, not bookkeeping, and that its history records.

    A model's ``HistoricalRecords(excluded_fields=...)`` (a client secret, a last-used time) has no
    column in the history table, so comparing two records on it would fail.
    """
    history = getattr(model, "history", None)
    fields = [f for f in model._meta.concrete_fields if f.name not in skip]
    if history is None:
        return fields
    recorded = {f.attname for f in history.model._meta.concrete_fields}
    return [f for f in fields if f.attname in recorded]


def changed_fields(old, new, fields: Sequence[models.Field]) -> list[models.Field]:
    """The fields whose value differs between two history records (or versions) of one object."""
    return [f for f in fields if getattr(old, f.attname) != getattr(new, f.attname)]


#: Bookkeeping fields that are not content.
_NOT_CONTENT = {"id", "created_at", "organization", "history_id", "history_date", "history_user"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass
class HistoryEntry:
    at: datetime.datetime
    user: Any
    action: str  # created / changed / deleted
    subject_type: str
    subject: str
    changes: list[FieldChange] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class HistorySource:
    """History records of one model, with how to name each record and what its FK ids mean."""

    subject_type: str
    records: QuerySet
    describe: Any  # callable(record) -> str
    diff_m2m: bool = False


_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


def _display(model_field, value: Any, names: dict[str, dict[Any, str]]) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, list):  # m2m: list of through-row dicts
        return ", ".join(sorted(_display_m2m(item, names) for item in value)) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if model_field is not None and model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if model_field is not None and model_field.is_relation:
        return names.get(model_field.name, {}).get(value, f"#{value}")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _display_m2m(item: dict, names: dict[str, dict[Any, str]]) -> str:
    for key, value in item.items():
        if key in names:
            return names[key].get(value, f"#{value}")
    return str(item)


def change_history(
    sources: Sequence[HistorySource], *, names: dict[str, dict[Any, str]] | None = None, limit: int = 50
) -> list[HistoryEntry]:
    """Who changed what and when, newest first, with each change's old and new values.

    Uses simple-history's ``diff_against`` between consecutive records of the same object; one
    query per source (plus m2m queries when ``diff_m2m``). ``names`` maps a foreign key's field
    name to {id: label}, e.g. {"facility": {3: "Lakeside MRI"}}.
    """
    names = names or {}
    entries: list[HistoryEntry] = []
    for source in sources:
        history_model = source.records.model
        model = history_model.instance_type
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if f.editable and f.name not in _NOT_CONTENT and f.name in {t.name for t in history_model.tracked_fields}
        ]
        m2m = [f.name for f in history_model._history_m2m_fields] if source.diff_m2m else []
        previous_by_object: dict[Any, Any] = {}
        for record in source.records.select_related("history_user").order_by("id", "history_date", "history_id"):
            previous = previous_by_object.get(record.id)
            changes: list[FieldChange] = []
            if previous is not None and record.history_type == "~":
                delta = record.diff_against(previous, included_fields=fields + m2m)
                for change in delta.changes:
                    model_field = model._meta.get_field(change.field)
                    changes.append(
                        FieldChange(
                            field=str(model_field.verbose_name),
                            old=_display(model_field, change.old, names),
                            new=_display(model_field, change.new, names),
                        )
                    )
            previous_by_object[record.id] = record
            if record.history_type == "~" and previous is not None and not changes:
                continue  # saved without a change of content
            entries.append(
                HistoryEntry(
                    at=record.history_date,
                    user=record.history_user,
                    action=_ACTIONS.get(record.history_type, record.history_type),
                    subject_type=source.subject_type,
                    subject=source.describe(record),
                    changes=changes,
                    reason=record.history_change_reason or "",
                )
            )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
