"""Draw an evaluation report: the confusion matrix, or a multi-label report's per-label F1.

Needs matplotlib (``pip install "spacy-korsent[plot]"``). Figures are made with
``matplotlib.figure.Figure`` (no pyplot, no display): save them with ``figure.savefig(path)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from .reports import LabelScores, MultiLabelReport, Report

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

NO_HANGUL_FONT = (
    "no font with Hangul for the plot's labels; install one, e.g. apt-get install fonts-noto-cjk."
)


def report_figure(
    report: Report, source: str, *, warn: Optional[Callable[[str], None]] = None
) -> Figure:
    """The figure of ``report``, titled with ``source`` (e.g. the file and the model).

    A multi-label report draws the per-label F1, any other its confusion matrix. ``warn`` hears
    that no installed font has Hangul for the labels (default: :func:`warnings.warn`).
    """
    name, value = report.headline
    title = f"{source}\n{report.heading}: {name} {value:.4f}"
    if isinstance(report, MultiLabelReport):
        return per_label_figure(report.per_label, title, warn=warn)
    table = report.table
    if table is None:
        raise ValueError(f"a {type(report).__name__} has no table to draw.")
    return confusion_figure(*table, title)


def per_label_figure(
    per_label: Mapping[str, LabelScores],
    title: str,
    *,
    warn: Optional[Callable[[str], None]] = None,
) -> Figure:
    """Each label's F1 as a bar, most frequent gold label on top, with its support."""
    from matplotlib.figure import Figure

    ordered = sorted(per_label.items(), key=lambda item: item[1].support)
    figure = Figure(figsize=(7.0, 1.5 + 0.28 * len(ordered)))
    axes = figure.subplots()
    names = [name for name, _ in ordered]
    axes.barh(range(len(ordered)), [scores.f1 for _, scores in ordered], color="tab:blue")
    axes.set_yticks(range(len(ordered)), names, fontfamily=hangul_font(names, warn))
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1")
    for row, (_, scores) in enumerate(ordered):
        axes.text(scores.f1 + 0.01, row, f"{scores.support:,}", va="center", fontsize="small")
    axes.set_title(f"{title}\n(bars: F1; numbers: gold texts with the label)", fontsize="medium")
    figure.tight_layout()
    return figure


def hangul_font(
    names: Sequence[str], warn: Optional[Callable[[str], None]] = None
) -> Optional[str]:
    """A font family that has Hangul, for label names that need one (None: matplotlib's own).

    matplotlib lists the fonts it found when its cache was made: fonts installed since (Debian's
    fonts-noto-cjk, say) are looked up among the system's font files. Without any, the names are
    drawn as boxes, and ``warn`` hears what to install.
    """
    from matplotlib import font_manager

    if all(name.isascii() for name in names):
        return None
    manager = font_manager.fontManager

    def korean() -> list[str]:
        found = sorted({font.name for font in manager.ttflist if "CJK" in font.name})
        return sorted(found, key=lambda name: not name.endswith(" KR"))

    if not korean():
        for path in font_manager.findSystemFonts():
            if "CJK" in Path(path).name:
                manager.addfont(path)
    if korean():
        return korean()[0]
    if warn is None:
        warnings.warn(NO_HANGUL_FONT, stacklevel=3)
    else:
        warn(NO_HANGUL_FONT)
    return None


def confusion_figure(matrix: np.ndarray, names: Sequence[str], title: str) -> Figure:
    """The confusion matrix coloured by row share (0 to 100%), each cell's count and share.

    Colouring by the share of the gold row keeps a small class readable next to a large one; the
    scale starts at 0 so that an empty cell is white.
    """
    import numpy as np
    from matplotlib.figure import Figure

    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0) * 100
    size = 2.0 + 0.9 * len(names)
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=100)
    figure.colorbar(image, ax=axes, label="% of the gold row")
    ticks = range(len(names))
    axes.set_xticks(ticks, names, rotation=45, ha="right")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title, fontsize="medium")
    for (row, column), count in np.ndenumerate(matrix):
        share = shares[row, column]
        color = "white" if share > 50 else "black"
        label = f"{count:,}\n{share:.1f}%"
        axes.text(column, row, label, ha="center", va="center", color=color, fontsize="small")
    figure.tight_layout()
    return figure
