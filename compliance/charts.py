"""Server-side SVG charts of the compliance pages: no JavaScript, no remote fonts, no inline styles.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>``;
the page shows the same numbers in a table next to it, for screen readers and for copying. Every
text is escaped here, so a name never becomes markup.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

from compliance.selectors import ExpiryMonth

EXPIRING_COLOUR = "#b02a37"  # expires unless renewed: needs action
AUTO_RENEWING_COLOUR = "#0b5ed7"  # renews by itself unless notice is given
AXIS_COLOUR = "#495057"
TEXT_COLOUR = "#212529"


def _month_label(expiry: ExpiryMonth) -> str:
    return expiry.month.strftime("%b %Y")


def expirations_chart(months: Sequence[ExpiryMonth], *, chart_id: str = "expiry-chart") -> SafeString:
    """Stacked monthly bars of the BAAs in force that reach their expiry date in each month."""
    width, height = 720, 200
    left, right, top, bottom = 36, 12, 16, 44
    plot_width, plot_height = width - left - right, height - top - bottom
    largest = max([month.total for month in months] + [1])
    step = max(1, -(-largest // 4))  # about four grid lines, whole numbers
    top_value = step * -(-largest // step)
    slot = plot_width / max(len(months), 1)
    bar = slot * 0.6

    def y_of(value: float) -> float:
        return top + plot_height - plot_height * value / top_value

    total = sum(month.total for month in months)
    busiest = max(months, key=lambda month: month.total, default=None)
    title = "BAA expirations over the next 12 months"
    if total:
        desc = (
            f"{total} agreement(s) in force reach their expiry date in the next {len(months)} months: "
            f"{sum(m.expiring for m in months)} expire unless renewed and "
            f"{sum(m.auto_renewing for m in months)} renew automatically. "
            f"The busiest month is {_month_label(busiest)} with {busiest.total}."
        )
    else:
        desc = f"No agreement in force reaches its expiry date in the next {len(months)} months."

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for value in range(0, top_value + 1, step):
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#dee2e6" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{AXIS_COLOUR}">{value}</text>'
        )
    for index, month in enumerate(months):
        x = left + slot * index + (slot - bar) / 2
        base = top + plot_height
        label = escape(_month_label(month))
        for count, colour, what in (
            (month.expiring, EXPIRING_COLOUR, "expire unless renewed"),
            (month.auto_renewing, AUTO_RENEWING_COLOUR, "renew automatically"),
        ):
            if not count:
                continue
            bar_height = plot_height * count / top_value
            base -= bar_height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{bar_height:.1f}" fill="{colour}">'
                f"<title>{label}: {count} {what}</title></rect>"
            )
        if month.total:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" font-size="11" '
                f'font-weight="bold" fill="{TEXT_COLOUR}">{month.total}</text>'
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_height + 16}" text-anchor="middle" font-size="11" '
            f'fill="{TEXT_COLOUR}">{escape(month.month.strftime("%b"))}</text>'
        )
        if index == 0 or month.month.month == 1:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_height + 30}" text-anchor="middle" font-size="10" '
                f'fill="{AXIS_COLOUR}">{month.month.year}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - right}" y2="{top + plot_height}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


# --- Coverage timeline -------------------------------------------------------------------------------

PHI_COLOUR = "#6c757d"  # PHI access
COVERED_COLOUR = "#198754"  # a BAA in force
GAP_COLOUR = "#b02a37"  # PHI access without a BAA in force
MARKER_COLOUR = "#0b5ed7"  # the as-of day


@dataclass(frozen=True)
class TimelineRow:
    """One engagement of the chart: its label, PHI periods and covered/uncovered periods."""

    label: str
    phi: list[tuple[datetime.date, datetime.date | None]]
    periods: list  # compliance.timeline.Period


def coverage_timeline_chart(
    rows: Sequence[TimelineRow], *, as_of: datetime.date, chart_id: str = "timeline-chart"
) -> SafeString:
    """PHI periods against BAA periods per engagement (facility), gaps in red, the as-of day marked.

    Server-side SVG, so that the PDF report carries the same picture; the page lists the same
    periods in a table (the text equivalent).
    """
    firsts = [start for row in rows for start, _ in row.phi]
    if not firsts:
        return mark_safe("")
    lasts = [end for row in rows for _, end in row.phi if end is not None]
    begin = min(firsts)
    end = max([as_of + datetime.timedelta(days=180), *lasts])
    span_days = max((end - begin).days, 1)
    label_width, right, top, row_height = 220, 16, 28, 34
    width = 900
    plot = width - label_width - right
    height = top + row_height * len(rows) + 24

    def x_of(day: datetime.date) -> float:
        return label_width + plot * (min(max(day, begin), end) - begin).days / span_days

    gaps = sum(1 for row in rows for p in row.periods if not p.covered)
    desc = (
        f"{len(rows)} engagement(s) from {begin:%Y-%m-%d}; as of {as_of:%Y-%m-%d}. Grey: PHI access; green: a BAA in "
        f"force; red: PHI access without a BAA in force ({gaps} period(s)). The table below lists every period."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline-chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">Coverage timeline: PHI access against BAA periods</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for year in range(begin.year + 1, end.year + 1):
        x = x_of(datetime.date(year, 1, 1))
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 20}" stroke="#dee2e6"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{top - 10}" font-size="10" text-anchor="middle" fill="{TEXT_COLOUR}">{year}</text>'
        )
    for index, row in enumerate(rows):
        y = top + index * row_height
        parts.append(f'<text x="4" y="{y + 20}" font-size="11" fill="{TEXT_COLOUR}">{escape(row.label[:34])}</text>')
        for start, stop in row.phi:
            x1, x2 = x_of(start), x_of(stop or end)
            parts.append(
                f'<rect x="{x1:.1f}" y="{y + 4}" width="{max(x2 - x1, 1.5):.1f}" height="8" fill="{PHI_COLOUR}">'
                f"<title>PHI access {start:%Y-%m-%d} to {_until(stop)}</title></rect>"
            )
        for period in row.periods:
            x1, x2 = x_of(period.starts_on), x_of(period.ends_on or end)
            colour = COVERED_COLOUR if period.covered else GAP_COLOUR
            what = "BAA in force" if period.covered else "no BAA in force"
            parts.append(
                f'<rect x="{x1:.1f}" y="{y + 15}" width="{max(x2 - x1, 1.5):.1f}" height="12" fill="{colour}" '
                f'data-covered="{str(period.covered).lower()}"><title>{what}: {period.starts_on:%Y-%m-%d} to '
                f"{_until(period.ends_on)}</title></rect>"
            )
    x = x_of(as_of)
    parts.append(
        f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 18}" stroke="{MARKER_COLOUR}" '
        'stroke-width="2" stroke-dasharray="4 3"/>'
    )
    parts.append(
        f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" fill="{MARKER_COLOUR}">'
        f"{as_of:%Y-%m-%d}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _until(day: datetime.date | None) -> str:
    return f"{day:%Y-%m-%d}" if day else "open"
