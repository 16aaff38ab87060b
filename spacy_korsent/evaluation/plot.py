"""Draw an evaluation report: the confusion matrix (a multi-label report: the per-label F1) and,
beside it, the reliability diagram of the probabilities.

Needs matplotlib (``pip install "spacy-korsent[plot]"``). Figures are made with
``matplotlib.figure.Figure`` (no pyplot, no display): save them with ``figure.savefig(path)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ..metrics import ReliabilityBin
from .reports import LabelScores, MultiLabelReport, Report

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RELIABILITY_WIDTH = 4.5
"""Inches the reliability diagram adds to the right of a report's figure."""

NO_HANGUL_FONT = (
    "no font with Hangul for the plot's labels; install one, e.g. apt-get install fonts-noto-cjk."
)


def report_figure(
    report: Report, source: str, *, warn: Optional[Callable[[str], None]] = None
) -> Figure:
    """The figure of ``report``, titled with ``source`` (e.g. the file and the model).

    A multi-label report draws the per-label F1, any other its confusion matrix; a report with
    calibration scores adds its reliability diagram on the right. ``warn`` hears that no
    installed font has Hangul for the labels (default: :func:`warnings.warn`).
    """
    from matplotlib.figure import Figure

    name, value = report.headline
    title = f"{source}\n{report.heading}: {name} {value:.4f}"
    calibration = report.calibration_scores
    table = report.table
    if isinstance(report, MultiLabelReport):
        width, height = 7.0, _per_label_height(len(report.per_label))
    elif table is None:
        raise ValueError(f"a {type(report).__name__} has no table to draw.")
    else:
        width, height = _confusion_size(len(table[1]))
    if calibration is None:
        figure = Figure(figsize=(width, height))
        main = figure.subplots()
    else:
        height = max(height, RELIABILITY_WIDTH)
        figure = Figure(figsize=(width + RELIABILITY_WIDTH, height))
        main, side = figure.subplots(1, 2, width_ratios=(width, RELIABILITY_WIDTH))
        what = "(text, label) scores" if isinstance(report, MultiLabelReport) else "top class"
        summary = f"ECE {calibration.ece:.4f}, Brier {calibration.brier:.4f} {calibration.scope}"
        reliability_axes(side, calibration.reliability, f"reliability of the {what}\n{summary}")
    if isinstance(report, MultiLabelReport):
        _per_label_axes(main, report.per_label, title, warn)
    else:
        assert table is not None
        _confusion_axes(figure, main, *table, title)
    figure.tight_layout()
    return figure


def per_label_figure(
    per_label: Mapping[str, LabelScores],
    title: str,
    *,
    warn: Optional[Callable[[str], None]] = None,
) -> Figure:
    """Each label's F1 as a bar, most frequent gold label on top, with its support."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, _per_label_height(len(per_label))))
    _per_label_axes(figure.subplots(), per_label, title, warn)
    figure.tight_layout()
    return figure


def _per_label_height(n_labels: int) -> float:
    return 1.5 + 0.28 * n_labels


def _per_label_axes(
    axes: Axes,
    per_label: Mapping[str, LabelScores],
    title: str,
    warn: Optional[Callable[[str], None]],
) -> None:
    ordered = sorted(per_label.items(), key=lambda item: item[1].support)
    names = [name for name, _ in ordered]
    axes.barh(range(len(ordered)), [scores.f1 for _, scores in ordered], color="tab:blue")
    axes.set_yticks(range(len(ordered)), names, fontfamily=hangul_font(names, warn))
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1")
    for row, (_, scores) in enumerate(ordered):
        axes.text(scores.f1 + 0.01, row, f"{scores.support:,}", va="center", fontsize="small")
    axes.set_title(f"{title}\n(bars: F1; numbers: gold texts with the label)", fontsize="medium")


def reliability_axes(axes: Axes, bins: Sequence[ReliabilityBin], title: str) -> None:
    """The reliability diagram: each bin's accuracy as a bar over its confidence range, its
    mean confidence as a dot, the diagonal of perfect calibration, and each bin's size (empty
    bins are left out). Bars below the diagonal are overconfidence."""
    filled = [b for b in bins if b.size]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="calibrated")
    axes.bar(
        [b.low for b in filled],
        [b.accuracy for b in filled],
        width=[b.high - b.low for b in filled],
        align="edge",
        color="tab:blue",
        edgecolor="white",
        label="accuracy",
    )
    middles = [(b.low + b.high) / 2 for b in filled]
    axes.plot(middles, [b.confidence for b in filled], "o", color="tab:orange", markersize=4,
              label="mean confidence")  # fmt: skip
    for middle, b in zip(middles, filled):
        axes.text(middle, min(b.accuracy, 0.9) + 0.02, f"{b.size:,}", ha="center",
                  fontsize="x-small", rotation=90)  # fmt: skip
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.05)
    axes.set_aspect("equal")
    axes.set_xlabel("confidence (bars: texts per bin)")
    axes.set_ylabel("accuracy")
    axes.legend(loc="upper left", fontsize="small")
    axes.set_title(title, fontsize="medium")


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
    from matplotlib.figure import Figure

    figure = Figure(figsize=_confusion_size(len(names)))
    _confusion_axes(figure, figure.subplots(), matrix, names, title)
    figure.tight_layout()
    return figure


def _confusion_size(n_classes: int) -> tuple[float, float]:
    size = 2.0 + 0.9 * n_classes
    return size + 1.5, size


def _confusion_axes(
    figure: Figure, axes: Axes, matrix: np.ndarray, names: Sequence[str], title: str
) -> None:
    import numpy as np

    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0) * 100
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
