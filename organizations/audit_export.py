"""The audit log as files: CSV for people, JSON lines for a SIEM (Splunk, Sentinel, Elastic ...).

Both are generators over the filtered log, read in chunks of ``CHUNK`` rows with the page's own detail
look-ups (users, changed fields), so the number of queries grows with the chunks, not with the rows,
and memory stays flat. CSV cells are neutralised against formula injection as in every export
(baatracker.spreadsheets.safe_cell); JSON lines carry ISO 8601 times with their offset.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.utils import timezone

from baatracker.spreadsheets import safe_cell
from organizations.selectors import ActivityEntry, activity_page_details

CHUNK = 500
CSV_HEADERS = ["at", "user", "record_type", "action", "record", "record_id", "details"]


def _entries(rows) -> Iterator[ActivityEntry]:
    batch: list[dict] = []
    for row in rows.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) == CHUNK:
            yield from activity_page_details(batch)
            batch = []
    if batch:
        yield from activity_page_details(batch)


def _details(entry: ActivityEntry) -> str:
    parts = [entry.reason] if entry.reason else []
    if entry.changes:
        parts.append("changed: " + ", ".join(entry.changes))
    return "; ".join(parts)


def _username(entry: ActivityEntry) -> str:
    return entry.user.get_username() if entry.user is not None else ""


def csv_lines(rows) -> Iterable[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADERS)
    yield "\ufeff" + flush()  # a byte order mark, so Excel reads UTF-8
    for entry in _entries(rows):
        writer.writerow(
            [
                timezone.localtime(entry.at).strftime("%Y-%m-%d %H:%M:%S %z"),
                safe_cell(_username(entry) or "System"),
                safe_cell(entry.source_label),
                safe_cell(entry.action),
                safe_cell(entry.label),
                safe_cell(entry.object_id),
                safe_cell(_details(entry)),
            ]
        )
        yield flush()


def json_lines(rows) -> Iterable[str]:
    for entry in _entries(rows):
        yield (
            json.dumps(
                {
                    "at": entry.at.isoformat(),
                    "user": _username(entry) or None,
                    "user_id": entry.user.pk if entry.user is not None else None,
                    "record_type": entry.source,
                    "record_type_label": entry.source_label,
                    "action": entry.action,
                    "record": entry.label,
                    "record_id": entry.object_id,
                    "reason": entry.reason,
                    "changed_fields": entry.changes or [],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
