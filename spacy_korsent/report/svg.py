"""Charts as inline SVG, drawn in Python: no script, no library, nothing from the network.

Each function returns one ``<svg>`` element that scales to the width of its container (the
``viewBox`` keeps the proportions) and prints as vectors. Every text in it is escaped. Text is
set in the page's font (the Korean font stack), so label widths are estimated: a Hangul or CJK
character takes about one em, others about 0.6.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 720
FONT = 12
BAR = 18
GAP = 6
AXIS = "#777"
GRID = "#e5e5e5"
NEUTRAL = "#6B8FB3"
"""Bars whose name has no colour of its own."""


def text_width(text: str, size: float = FONT) -> float:
    """About how wide ``text`` is set at ``size`` px."""
    return size * sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text)


def fit(text: str, width: float, size: float = FONT) -> str:
    """``text`` cut with … to fit ``width`` px."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _svg(height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def bars(
    items: Sequence[tuple[str, int]],
    colours: Mapping[str, str],
    label: str,
    total: int | None = None,
) -> str:
    """Horizontal bars, one per (name, count), with the count and its share of ``total`` (by
    default the sum of the counts) at the end."""
    total = total or sum(count for _, count in items) or 1
    most = max((count for _, count in items), default=0) or 1
    left = min(max((text_width(name) for name, _ in items), default=0) + 10, WIDTH * 0.3)
    room = WIDTH - left - 110
    body = []
    for i, (name, count) in enumerate(items):
        y = i * (BAR + GAP)
        share = f"{count:,} ({count / total:.1%})"
        body.append(_text(left - 6, y + BAR * 0.72, fit(name, left - 10), anchor="end"))
        colour = colours.get(name, NEUTRAL)
        body.append(_rect(left, y, room * count / most, BAR, colour, f"{name}: {share}"))
        body.append(_text(left + room * count / most + 5, y + BAR * 0.72, share, cls="value"))
    return _svg(len(items) * (BAR + GAP), label, body)


def histogram(
    counts: Mapping[str, Sequence[int]], colours: Mapping[str, str], label: str, axis: str
) -> str:
    """Columns of rows per score bin from 0 to 1, stacked by label (in ``counts``'s order)."""
    bins = len(next(iter(counts.values()), []))
    totals = [sum(column[i] for column in counts.values()) for i in range(bins)]
    left, right, height, bottom = 56, 10, 170, 34
    step = (WIDTH - left - right) / max(bins, 1)
    body, top = _y_axis(left, height, max(totals, default=0), WIDTH - right)
    for i in range(bins):
        y: float = height
        for name, column in counts.items():
            h = height * column[i] / top
            y -= h
            if column[i]:
                tip = f"{name}, {i / bins:.2f}–{(i + 1) / bins:.2f}: {column[i]:,}"
                body.append(
                    _rect(left + i * step + 1, y, step - 2, h, colours.get(name, NEUTRAL), tip)
                )
    for tick in range(0, 11, 2):
        x = left + (WIDTH - left - right) * tick / 10
        body.append(_text(x, height + 16, f"{tick / 10:.1f}", anchor="middle", cls="tick"))
    body.append(_text(left + (WIDTH - left - right) / 2, height + 31, axis, anchor="middle"))
    return _svg(height + bottom, label, body)


def _y_axis(left: float, height: float, most: int, right: float) -> tuple[list[str], int]:
    """Grid lines and counts at :func:`round_ticks` up to ``most``, and the count at the top of
    the axis (what a full-height column stands for)."""
    ticks = round_ticks(most)
    top = ticks[-1]
    out = []
    for tick in ticks:
        y = height - height * tick / top
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(_text(left - 6, y + 4, f"{tick:,}", anchor="end", cls="tick"))
    return out, top


def round_ticks(most: int, steps: int = 5) -> list[int]:
    """Counts from 0 to ``most`` or just above, at most ``steps`` steps apart by 1, 2 or 5 times
    a power of ten: 0, 500, 1,000, 1,500 for 1,367 (never 683 and 1,367)."""
    most = max(int(most), 1)
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if -(-most // step) <= steps:
                return list(range(0, step * -(-most // step) + 1, step))
        magnitude *= 10


def shares(
    rows: Sequence[tuple[str, int, Mapping[str, int]]],
    order: Sequence[str],
    colours: Mapping[str, str],
    label: str,
) -> str:
    """A 100% bar per (name, rows, counts): the share of each of ``order`` in it."""
    left = min(max((text_width(name) for name, _, _ in rows), default=0) + 10, WIDTH * 0.3)
    room = WIDTH - left - 70
    body = []
    for i, (name, n, counts) in enumerate(rows):
        y = i * (BAR + GAP)
        body.append(_text(left - 6, y + BAR * 0.72, fit(name, left - 10), anchor="end"))
        total = sum(counts.get(key, 0) for key in order) or 1
        x = left
        for key in order:
            w = room * counts.get(key, 0) / total
            if w:
                share = f"{name}, {key}: {counts.get(key, 0):,} ({counts.get(key, 0) / total:.1%})"
                body.append(_rect(x, y, w, BAR, colours.get(key, NEUTRAL), share))
                if w > 34:
                    percent = f"{counts.get(key, 0) / total:.0%}"
                    body.append(_text(x + w / 2, y + BAR * 0.72, percent, anchor="middle",
                                      cls="inbar"))  # fmt: skip
            x += w
        body.append(_text(left + room + 6, y + BAR * 0.72, f"n={n:,}", cls="value"))
    return _svg(len(rows) * (BAR + GAP), label, body)


def columns(
    periods: Sequence[tuple[str, Mapping[str, int]]],
    order: Sequence[str],
    colours: Mapping[str, str],
    label: str,
) -> str:
    """A column per period, stacked by ``order``: how many rows, and of which labels."""
    totals = [sum(counts.get(key, 0) for key in order) for _, counts in periods]
    left, right, height, bottom = 56, 10, 170, 40
    step = (WIDTH - left - right) / max(len(periods), 1)
    body, top = _y_axis(left, height, max(totals, default=0), WIDTH - right)
    every = max(1, round(len(periods) / (WIDTH / 80)))
    for i, (name, counts) in enumerate(periods):
        y: float = height
        for key in order:
            h = height * counts.get(key, 0) / top
            y -= h
            if h:
                tip = f"{name}, {key}: {counts.get(key, 0):,}"
                gap = 1 if step > 4 else 0
                body.append(
                    _rect(
                        left + i * step + gap, y, step - 2 * gap, h, colours.get(key, NEUTRAL), tip
                    )
                )
        if i % every == 0:
            x = left + (i + 0.5) * step
            body.append(_text(x, height + 16, name, anchor="middle", cls="tick"))
    return _svg(height + bottom, label, body)
