"""Charts as inline SVG, drawn on the server: the page needs no script and no CDN, so it works in
an air-gapped Airflow. Three shapes cover the page: stacked weekly bars, a line over time with
marks, and horizontal bars."""

from __future__ import annotations

from datetime import datetime
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36


def human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def human_bytes(n: float) -> str:
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _frame(title: str, body: list[str], height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" class="chart">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _empty(title: str, why: str) -> str:
    return _frame(title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#6b7280">{escape(why)}</text>'])


def _y_axis(top_value: float, fmt) -> list[str]:
    out = []
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        value = top_value * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#374151">{escape(fmt(value))}</text>'
        )
    return out


def stacked_bars(title: str, weeks: list[str], series: dict[str, list[int]]) -> str:
    """One bar per week, one colour per family (rows deleted)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(weeks))]
    if not weeks or not any(totals):
        return _empty(title, "no rows deleted yet")
    top = max(totals) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(weeks)
    body = _y_axis(top, human)
    for i, week in enumerate(weeks):
        x = LEFT + i * step + step * 0.15
        y = HEIGHT - BOTTOM
        for k, (family, values) in enumerate(series.items()):
            h = plot_h * values[i] / top
            if h > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                    f"<title>{escape(week)} {escape(family)}: {values[i]:,}</title></rect>"
                )
            y -= h
        if len(weeks) <= 12 or i % max(1, len(weeks) // 12) == 0:
            body.append(
                f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" font-size="10">{escape(week)}</text>'
            )
    for k, family in enumerate(series):
        body.append(f'<rect x="{LEFT + k * 130}" y="{HEIGHT - 12}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>')
        body.append(f'<text x="{LEFT + k * 130 + 14}" y="{HEIGHT - 3}" font-size="11">{escape(family)}</text>')
    return _frame(title, body)


def line_with_marks(title: str, points: list[tuple[datetime, float]], marks: list[tuple[datetime, str]]) -> str:
    """A value over time (the log tables' size) with vertical marks (retention runs)."""
    if not points:
        return _empty(title, "no size snapshots yet (the DAG dify_table_sizes takes one every hour)")
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    top = max(v for _, v in points) * 1.1 or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(moment: datetime) -> float:
        return LEFT + plot_w * (moment - start).total_seconds() / span if span > 1 else LEFT + plot_w / 2

    body = _y_axis(top, human_bytes)
    for moment, label in marks:
        if start <= moment <= end or len(points) == 1:
            x = x_of(moment)
            body.append(
                f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#dc2626" '
                f'stroke-dasharray="4 3"><title>{escape(label)}</title></line>'
            )
    coords = " ".join(f"{x_of(t):.1f},{HEIGHT - BOTTOM - plot_h * v / top:.1f}" for t, v in points)
    body.append(f'<polyline points="{coords}" fill="none" stroke="#2563eb" stroke-width="2"/>')
    for t, v in points[-1:]:
        body.append(f'<circle cx="{x_of(t):.1f}" cy="{HEIGHT - BOTTOM - plot_h * v / top:.1f}" r="3" fill="#2563eb"/>')
    body.append(f'<text x="{LEFT}" y="{HEIGHT - BOTTOM + 14}" font-size="10">{start:%Y-%m-%d %H:%M}</text>')
    body.append(
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - BOTTOM + 14}" font-size="10" text-anchor="end">{end:%Y-%m-%d %H:%M}</text>'
    )
    body.append(f'<text x="{LEFT}" y="{HEIGHT - 3}" font-size="11" fill="#dc2626">dashed: retention runs</text>')
    return _frame(title, body)


def horizontal_bars(title: str, rows: list[tuple[str, float, float]]) -> str:
    """Name, total and the part of it that is dead space (the ten biggest tables)."""
    if not rows:
        return _empty(title, "no tables")
    height = TOP + 22 * len(rows) + 24
    label_w = 210
    plot_w = WIDTH - label_w - 90
    top = max(total for _, total, _ in rows) or 1
    body = []
    for i, (name, total, dead) in enumerate(rows):
        y = TOP + i * 22
        w, dw = plot_w * total / top, plot_w * min(dead, total) / top
        body.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="11">{escape(name)}</text>')
        body.append(
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="14" fill="#93c5fd"><title>{escape(name)}: {human_bytes(total)}</title></rect>'
        )
        if dw > 0:
            body.append(
                f'<rect x="{label_w}" y="{y + 2}" width="{dw:.1f}" height="14" fill="#f87171"><title>dead: {human_bytes(dead)}</title></rect>'
            )
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 13}" font-size="11">{human_bytes(total)}</text>')
    y = TOP + 22 * len(rows) + 6
    body.append(
        f'<rect x="{label_w}" y="{y}" width="10" height="10" fill="#f87171"/><text x="{label_w + 14}" y="{y + 9}" font-size="11">dead space (estimate)</text>'
    )
    return _frame(title, body, height)
