"""Small server-side SVG charts for the PDF report (no JavaScript, no remote fonts).

WeasyPrint draws inline SVG. Every text is escaped here, so a name never becomes markup.
"""

from __future__ import annotations

from html import escape

SEVERITY_COLOURS = {"critical": "#8b0000", "high": "#d9480f", "medium": "#e0a800", "low": "#5c7cfa"}
COVERED_COLOUR = "#2b8a3e"
GAP_COLOUR = "#c92a2a"
_FONT = "DejaVu Sans, sans-serif"


def findings_and_coverage_svg(
    *, findings_by_severity: list[tuple[str, str, int]], vendors_covered: int, vendors_with_gaps: int
) -> str:
    """Two horizontal bar groups: open findings by severity, and business associates covered or not."""
    width, label_width, bar_width, row_height = 460, 150, 250, 22
    rows: list[tuple[str, int, str]] = [
        (label, count, SEVERITY_COLOURS.get(value, "#868e96")) for value, label, count in findings_by_severity
    ]
    coverage = [
        ("Covered by a BAA in force", vendors_covered, COVERED_COLOUR),
        ("Gap: no BAA in force", vendors_with_gaps, GAP_COLOUR),
    ]
    parts: list[str] = []
    y = 0

    def heading(text: str) -> None:
        nonlocal y
        y += 16
        parts.append(
            f'<text x="0" y="{y}" font-family="{_FONT}" font-size="10" font-weight="bold" fill="#212529">'
            f"{escape(text)}</text>"
        )
        y += 6

    def bars(items: list[tuple[str, int, str]]) -> None:
        nonlocal y
        largest = max([count for _, count, _ in items] + [1])
        for label, count, colour in items:
            length = round(bar_width * count / largest) if count else 0
            text_y = y + row_height / 2 + 3.5
            parts.append(
                f'<text x="0" y="{text_y}" font-family="{_FONT}" font-size="9" fill="#343a40">{escape(label)}</text>'
            )
            parts.append(
                f'<rect x="{label_width}" y="{y + 4}" width="{bar_width}" height="{row_height - 8}" fill="#f1f3f5"/>'
            )
            if length:
                parts.append(
                    f'<rect x="{label_width}" y="{y + 4}" width="{length}" height="{row_height - 8}" fill="{colour}"/>'
                )
            parts.append(
                f'<text x="{label_width + bar_width + 8}" y="{text_y}" font-family="{_FONT}" font-size="9" '
                f'font-weight="bold" fill="#212529">{int(count)}</text>'
            )
            y += row_height

    heading("Open findings by severity")
    bars(rows)
    y += 8
    heading("Business associates with PHI access")
    bars(coverage)
    height = y + 4
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Open findings by severity and BAA coverage">'
        + "".join(parts)
        + "</svg>"
    )
