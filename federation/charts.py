"""Charts drawn on the server as inline SVG: no script and no asset from anywhere else.

Each function takes plain figures and returns SVG markup (safe to put in a template);
labels are escaped here. Sizes are in the SVG's own units: the drawing scales to the
width of its container (pages put wide charts in a horizontally scrolling box on phones).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = "font-family=\"system-ui, -apple-system, 'PingFang SC', 'Noto Sans CJK SC', sans-serif\""
INK, MUTED, GRID = "#1d2420", "#66706b", "#e3e8e5"
# Sequential greens for the heat map (light to dark), and series colours.
HEAT = ["#f0f7f2", "#d3ebdb", "#a8d5b7", "#74bb8e", "#3f9a66", "#1b7a48", "#0b5a33"]
SERIES = ["#0f5e3c", "#d97706", "#2457a6", "#b42318"]


def _num(value) -> str:
    """A compact label: 1234 -> 1,234; 12345.6 -> 1.2万 (ten-thousands, as read in China);
    money keeps no decimals in a chart (the tables carry the exact figure)."""
    v = float(value)
    if abs(v) >= 100_000_000:
        return f"{v / 100_000_000:.1f}亿"
    if abs(v) >= 10_000:
        return f"{v / 10_000:.1f}万"
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


def _width(label: str, size: int = 12) -> float:
    """About how wide a label is drawn: CJK characters are square, Latin ones half."""
    return sum(size * (1.05 if ord(ch) > 0x2E80 else 0.6) for ch in label)


def _text(x, y, label, *, size=12, anchor="start", fill=INK, weight="normal",
          extra="") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}" font-weight="{weight}" {extra}>{escape(label)}</text>')


def _svg(width, height, body: list[str], *, label: str, css_class: str) -> SafeString:
    # Every label and title above went through escape(); the rest is our own markup.
    return mark_safe(  # noqa: S308
        f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'preserveAspectRatio="xMinYMin meet" {FONT} xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(label)}</title>{"".join(body)}</svg>')


# --- heat map ----------------------------------------------------------------------------


def heatmap(*, rows: Sequence[str], columns: Sequence[str],
            values: Sequence[Sequence[Decimal | int | None]], label: str,
            row_title: str = "", column_title: str = "",
            diagonal_offset: int | None = None) -> SafeString:
    """A matrix of cells coloured by value (darker = more), each with its figure.

    ``values[i][j]`` is the figure of row i, column j (None = no traffic at all).
    ``diagonal_offset``: row ``k + offset`` and column ``k`` are the same bank (home
    trade); those cells get a dashed outline so cross-bank cells stand out.
    """
    cell_w, cell_h = 96, 44
    left = int(22 + max([_width(r, 12) for r in [*rows, row_title]] + [40]))
    top = 58
    width = left + cell_w * max(len(columns), 1) + 16
    height = top + cell_h * max(len(rows), 1) + 40
    peak = max((float(v) for row in values for v in row if v), default=0.0)
    body = [f'<rect width="{width}" height="{height}" fill="#fff"/>']
    if column_title:
        body.append(_text(left, 18, column_title, size=12, fill=MUTED))
    for j, col in enumerate(columns):
        body.append(_text(left + cell_w * j + cell_w / 2, top - 10, col, anchor="middle",
                          weight="600"))
    for i, row in enumerate(rows):
        y = top + cell_h * i
        body.append(_text(left - 10, y + cell_h / 2 + 4, row, anchor="end", weight="600"))
        for j, _col in enumerate(columns):
            v = values[i][j]
            x = left + cell_w * j
            level = 1 + min(len(HEAT) - 2, int(float(v) / peak * (len(HEAT) - 2))) if v else 0
            fill = HEAT[level]
            home = diagonal_offset is not None and i - diagonal_offset == j
            stroke = ('stroke="#66706b" stroke-dasharray="4 3" stroke-width="1.5"' if home
                      else 'stroke="#fff" stroke-width="2"')
            body.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell_w}" '
                        f'height="{cell_h}" rx="6" fill="{fill}" {stroke}>'
                        f'<title>{escape(row)} → {escape(columns[j])}: '
                        f'{escape(_num(v or 0))}</title></rect>')
            body.append(_text(x + cell_w / 2, y + cell_h / 2 + 5, _num(v) if v else "·",
                              size=14, anchor="middle",
                              fill="#fff" if level >= 4 else INK, weight="600"))
    if row_title:
        body.append(_text(12, top - 10, row_title, size=12, fill=MUTED))
    # a legend of the scale, bottom right: 0 [colours] peak
    lx = width - 16 - 56 - len(HEAT) * 18
    for k, colour in enumerate(HEAT):
        body.append(f'<rect x="{lx + k * 18}" y="{height - 26}" width="18" height="10" '
                    f'fill="{colour}"/>')
    body.append(_text(lx - 6, height - 17, "0", size=11, anchor="end", fill=MUTED))
    body.append(_text(lx + len(HEAT) * 18 + 6, height - 17, _num(peak), size=11,
                      fill=MUTED))
    return _svg(width, height, body, label=label, css_class="heatmap")


# --- line chart --------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    values: Sequence[Decimal | int]


def _nice_max(peak: float) -> float:
    if peak <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(peak))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if peak <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(*, days: Sequence[datetime.date], series: Sequence[Series],
               label: str) -> SafeString:
    """Daily series as lines over a shared time axis, with a legend and four grid lines."""
    width, height = 720, 260
    left, right, top, bottom = 56, 16, 34, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((float(v) for s in series for v in s.values), default=0.0))
    n = len(days)
    body = [f'<rect width="{width}" height="{height}" fill="#fff"/>']

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v) -> float:
        return top + plot_h - plot_h * float(v) / peak

    for k in range(5):
        y = top + plot_h * k / 4
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(_text(left - 6, y + 4, _num(peak * (4 - k) / 4), size=11, anchor="end",
                          fill=MUTED))
    ticks = sorted({0, n - 1, *range(0, n, max(1, n // 6))}) if n else []
    for i in ticks:
        if n > 6 and i not in (0, n - 1) and n - 1 - i < max(1, n // 6) / 2:
            continue  # too close to the last label
        body.append(_text(x_of(i), height - 10, days[i].strftime("%m-%d"), size=11,
                          anchor="middle", fill=MUTED))
    for k, s in enumerate(series):
        colour = SERIES[k % len(SERIES)]
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(s.values))
        if n > 1:
            body.append(f'<polyline class="series" points="{points}" fill="none" '
                        f'stroke="{colour}" stroke-width="2.2" stroke-linejoin="round">'
                        f'<title>{escape(s.label)}</title></polyline>')
        for i, v in enumerate(s.values):
            if n <= 31 or i == n - 1:
                body.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="2.6" '
                            f'fill="{colour}"><title>{days[i]:%Y-%m-%d} {escape(s.label)}: '
                            f'{escape(_num(v))}</title></circle>')
        lx = left + k * 170
        body.append(f'<rect x="{lx}" y="10" width="14" height="4" rx="2" fill="{colour}"/>')
        body.append(_text(lx + 20, 16, s.label, size=12))
    return _svg(width, height, body, label=label, css_class="line")


# --- horizontal bars ---------------------------------------------------------------------


def bars(*, items: Sequence[tuple[str, Decimal | int, str]], label: str,
         colour: str = SERIES[0]) -> SafeString:
    """One bar per item: (label, value, text shown after the bar)."""
    row_h, left, width = 34, int(22 + max([_width(i[0], 12) for i in items] + [40])), 720
    height = 12 + row_h * max(len(items), 1)
    bar_w = width - left - 150
    peak = max((float(v) for _l, v, _t in items), default=0.0) or 1.0
    body = [f'<rect width="{width}" height="{height}" fill="#fff"/>']
    for i, (name, value, note) in enumerate(items):
        y = 8 + row_h * i
        w = max(2.0, bar_w * float(value) / peak) if value else 0
        body.append(_text(left - 10, y + 18, name, anchor="end", weight="600"))
        body.append(f'<rect x="{left}" y="{y + 4}" width="{bar_w}" height="20" rx="5" '
                    f'fill="#f0f3f1"/>')
        if w:
            body.append(f'<rect class="bar" x="{left}" y="{y + 4}" width="{w:.1f}" '
                        f'height="20" rx="5" fill="{colour}"><title>{escape(name)}: '
                        f'{escape(note)}</title></rect>')
        body.append(_text(left + bar_w + 8, y + 19, note, size=12, fill=MUTED))
    return _svg(width, height, body, label=label, css_class="bars")
