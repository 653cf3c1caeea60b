"""The fault suite's table (issue #16): one row per fault scenario, measured with the real components,
printed at the end of the run (tests/conftest.py) and written to var/fault-scenarios-<database>.json.

Columns: due (alerts that should arrive, or transitions a job should make), delivered (of those, how
many arrived or were made), duplicates (extra copies, or extra history rows), lost (never arrived,
or edits overwritten), uncertain (alerts whose outcome was once unknown: the only ones allowed one
duplicate), max delay (seconds from the start of the scenario to the last first arrival).
"""

from __future__ import annotations

import json

from django.conf import settings

ROWS: list[dict] = []


def add_row(
    scenario: str,
    *,
    due: int,
    delivered: int,
    duplicates: int,
    lost: int,
    uncertain: int = 0,
    max_delay: float | None = None,
    note: str = "",
) -> dict:
    row = {
        "scenario": scenario,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "due": due,
        "delivered": delivered,
        "duplicates": duplicates,
        "lost": lost,
        "uncertain": uncertain,
        "max_delay_s": None if max_delay is None else round(max_delay, 1),
        "note": note,
    }
    ROWS.append(row)
    return row


def write_summary(terminalreporter) -> None:
    if not ROWS:
        return
    terminalreporter.section("fault scenarios (measured)")
    terminalreporter.write_line(
        f"{'scenario':<44} {'db':<10} {'due':>5} {'delivered':>9} {'duplicates':>10} {'lost':>5} "
        f"{'uncertain':>9} {'max delay':>9}"
    )
    for row in ROWS:
        delay = "-" if row["max_delay_s"] is None else f"{row['max_delay_s']:.1f} s"
        terminalreporter.write_line(
            f"{row['scenario']:<44} {row['database']:<10} {row['due']:>5} {row['delivered']:>9} "
            f"{row['duplicates']:>10} {row['lost']:>5} {row['uncertain']:>9} {delay:>9}"
            + (f"  ({row['note']})" if row["note"] else "")
        )
    path = settings.VAR_DIR / f"fault-scenarios-{ROWS[0]['database']}.json"
    path.write_text(json.dumps(ROWS, indent=2))
    terminalreporter.write_line(f"(written to {path})")
