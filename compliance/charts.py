"""Server-side SVG charts of the compliance pages: no JavaScript, no remote fonts, no inline styles.

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by its ``<desc>``;
the page shows the same numbers in a table next to it, for screen readers and for copying. Every
text is escaped here, so a name never becomes markup.
"""

from __future__ import annotations

from collections.abc import Sequence
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
