"""Classification metrics over class indices, shared by ``korsent evaluate`` and training.

Gold and predicted labels are integer class indices. A prediction of ``-1`` means the model gave
none (a text without tokens): it counts as wrong everywhere and is left out of confusion matrices.
Ratios with a zero denominator are 0.0, as scikit-learn's ``zero_division=0`` makes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Optional

import numpy as np
import numpy.typing as npt

Labels = npt.ArrayLike
"""Class indices: a list or an integer array."""

NO_PREDICTION = -1


def accuracy(gold: Labels, pred: Labels) -> float:
    """The share of predictions equal to the gold label."""
    gold_array, pred_array = _pair(gold, pred)
    return float((gold_array == pred_array).mean()) if len(gold_array) else 0.0


def precision_recall_f1(
    gold: Labels, pred: Labels, positive: int = 1
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the class ``positive``."""
    gold_array, pred_array = _pair(gold, pred)
    return _prf(gold_array == positive, pred_array == positive)


def confusion_matrix(gold: Labels, pred: Labels, n_classes: int) -> np.ndarray:
    """Counts with gold classes as rows and predicted classes as columns, ``[n_classes]^2``.

    For two classes this is ``[[tn, fp], [fn, tp]]`` with class 1 as the positive one.
    """
    gold_array, pred_array = _pair(gold, pred)
    scored = pred_array != NO_PREDICTION
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (gold_array[scored], pred_array[scored]), 1)
    return matrix


def macro_f1(gold: Labels, pred: Labels, labels: Sequence[int] | None = None) -> float:
    """The unweighted mean of per-class F1 over ``labels``.

    By default the classes are those that occur in gold or predictions (scikit-learn's default),
    so that a small test file is not marked down for classes it never contains.
    """
    gold_array, pred_array = _pair(gold, pred)
    if labels is None:
        labels = sorted((set(gold_array.tolist()) | set(pred_array.tolist())) - {NO_PREDICTION})
    if not len(labels):
        return 0.0
    return float(np.mean([_prf(gold_array == c, pred_array == c)[2] for c in labels]))


def top_k_accuracy(gold: Labels, probs: np.ndarray, k: int) -> float:
    """The share of texts whose gold class is among the ``k`` most probable in ``probs`` ``[n, C]``.

    A row of NaN stands for a text without a prediction and counts as a miss.
    """
    gold_array = np.asarray(gold, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if len(gold_array) != len(probs):
        raise ValueError(f"{len(gold_array)} gold labels but {len(probs)} rows of probabilities.")
    if not len(gold_array):
        return 0.0
    top = np.argsort(-np.nan_to_num(probs, nan=-1.0), axis=1, kind="stable")[:, :k]
    hits = (top == gold_array[:, None]).any(axis=1) & ~np.isnan(probs).any(axis=1)
    return float(hits.mean())


def predictions(probs: np.ndarray) -> np.ndarray:
    """The most probable class per row of ``probs``; rows of NaN give :data:`NO_PREDICTION`."""
    probs = np.asarray(probs)
    best = np.nan_to_num(probs, nan=-1.0).argmax(axis=1)
    return np.where(np.isnan(probs).any(axis=1), NO_PREDICTION, best)


def group_predictions(probs: np.ndarray, group_size: int) -> np.ndarray:
    """The group with the most summed probability per row, as the emotion component's ``group``.

    Classes ``g * group_size`` to ``(g + 1) * group_size - 1`` form group ``g``. Sums stay in the
    dtype of ``probs`` (float32 from the components), so near ties break as in the component.
    """
    probs = np.asarray(probs)
    n_groups = probs.shape[1] // group_size
    return predictions(probs.reshape(len(probs), n_groups, group_size).sum(axis=2))


def group_accuracy(gold: Labels, probs: np.ndarray, group_size: int) -> float:
    """Accuracy at the level of groups: gold class ``c`` is in group ``c // group_size``."""
    gold_groups = np.asarray(gold, dtype=np.int64) // group_size
    return accuracy(gold_groups, group_predictions(probs, group_size))


def _pair(gold: Labels, pred: Labels) -> tuple[np.ndarray, np.ndarray]:
    gold_array = np.asarray(gold, dtype=np.int64)
    pred_array = np.asarray(pred, dtype=np.int64)
    if gold_array.shape != pred_array.shape:
        raise ValueError(f"{len(gold_array)} gold labels but {len(pred_array)} predictions.")
    return gold_array, pred_array


def _prf(gold_is: np.ndarray, pred_is: np.ndarray) -> tuple[float, float, float]:
    true_positives = int((gold_is & pred_is).sum())
    predicted, actual = int(pred_is.sum()), int(gold_is.sum())
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    total = precision + recall
    return precision, recall, (2 * precision * recall / total if total else 0.0)


def multilabel_scores(gold: np.ndarray, pred: np.ndarray, names: Sequence[str]) -> dict:
    """Scores of label sets: ``gold`` and ``pred`` are boolean ``[texts, labels]`` matrices.

    Micro precision/recall/F1 pool every (text, label) decision; macro F1 is the mean of the
    per-label F1 over all ``names`` (a label that never occurs and is never predicted scores 0,
    as scikit-learn's ``zero_division=0``); exact match is the share of texts whose predicted set
    is their gold set.
    """
    gold, pred = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    if gold.shape != pred.shape:
        raise ValueError(f"gold {gold.shape} and predicted {pred.shape} label matrices differ.")
    per_label = {
        name: dict(zip(("precision", "recall", "f1"), _prf(gold[:, i], pred[:, i])))
        | {"support": int(gold[:, i].sum())}
        for i, name in enumerate(names)
    }
    precision, recall, f1 = _prf(gold.ravel(), pred.ravel())
    return {
        "micro_precision": precision,
        "micro_recall": recall,
        "micro_f1": f1,
        "macro_f1": float(np.mean([scores["f1"] for scores in per_label.values()])),
        "exact_match": float((gold == pred).all(axis=1).mean()) if len(gold) else 0.0,
        "mean_gold_labels": float(gold.sum(axis=1).mean()) if len(gold) else 0.0,
        "mean_predicted_labels": float(pred.sum(axis=1).mean()) if len(pred) else 0.0,
        "per_label": per_label,
    }


class ReliabilityBin(NamedTuple):
    """Predictions whose confidence fell into ``[low, high)``: how sure, how often right."""

    low: float
    high: float
    size: int
    confidence: float
    """The mean predicted probability in the bin (0.0 for an empty bin)."""
    accuracy: float
    """The share of those predictions that came true (0.0 for an empty bin)."""


def reliability_bins(confidence: Labels, correct: Labels, n_bins: int = 15) -> list[ReliabilityBin]:
    """Equal-width bins of ``confidence`` (a probability per prediction) with how often each
    prediction came true (``correct``, 0/1): the points of a reliability diagram.

    For a single-label model pass each text's top probability and whether its label was right
    (top-label calibration); for a multi-label model every (text, label) score and whether the
    label is gold. A confidence of exactly 1.0 falls into the last bin.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape:
        raise ValueError(f"{len(conf)} confidences but {len(hit)} outcomes.")
    index = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    sums = np.bincount(index, weights=conf, minlength=n_bins)
    hits = np.bincount(index, weights=hit, minlength=n_bins)
    safe = np.maximum(counts, 1)
    return [
        ReliabilityBin(
            b / n_bins, (b + 1) / n_bins, int(counts[b]), sums[b] / safe[b], hits[b] / safe[b]
        )
        for b in range(n_bins)
    ]


def expected_calibration_error(confidence: Labels, correct: Labels, n_bins: int = 15) -> float:
    """The mean gap between confidence and accuracy over :func:`reliability_bins`, weighted by
    their counts (Naeini et al. 2015; 15 equal-width bins, as Guo et al. 2017)."""
    bins = reliability_bins(confidence, correct, n_bins)
    total = sum(b.size for b in bins)
    if not total:
        return 0.0
    return float(sum(b.size * abs(b.confidence - b.accuracy) for b in bins) / total)


def brier_score(probs: np.ndarray, truth: np.ndarray, *, multi_label: bool = False) -> float:
    """The mean squared distance between probabilities and 0/1 outcomes (0 is perfect).

    ``truth`` is the one-hot matrix of the gold classes (single-label) or the 0/1 gold matrix
    (multi-label), shaped like ``probs``. For a single-label model the squares are summed over the
    classes of a text (Brier's original score, 0 to 2; for two classes twice the familiar
    ``(p - y)^2`` of the positive class); for a multi-label model each label is its own yes/no
    forecast and the mean is over every (text, label) pair.
    """
    probs, truth = np.asarray(probs, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if probs.shape != truth.shape:
        raise ValueError(f"probabilities {probs.shape} and outcomes {truth.shape} differ.")
    if not len(probs):
        return 0.0
    squares = (probs - truth) ** 2
    return float(squares.mean() if multi_label else squares.sum(axis=1).mean())


class TextScope(NamedTuple):
    """Which texts a figure is on, so that two figures are only compared on the same texts:
    ``texts`` of them, all those with a prediction (``classes`` None) or only those whose gold
    class is one of ``classes`` (a negative/positive model's own, when neutral texts are there)."""

    texts: int
    classes: Optional[tuple[str, ...]] = None

    @property
    def which(self) -> str:
        """``all texts`` or ``negative/positive texts``: the scope without its count."""
        return "all texts" if self.classes is None else f"{'/'.join(self.classes)} texts"

    def __str__(self) -> str:
        if self.classes is None:
            return f"on all {self.texts:,} texts"
        return f"on the {self.texts:,} {self.which}"

    def to_dict(self) -> dict[str, Any]:
        classes = None if self.classes is None else list(self.classes)
        return {"texts": self.texts, "classes": classes, "on": str(self)}


class Confidence(NamedTuple):
    """How far probabilities can be trusted on a :class:`TextScope`: 0 is perfect for both."""

    ece: float
    brier: float
    reliability: list[ReliabilityBin]
    scope: TextScope


def confidence_scores(
    probs: np.ndarray, truth: np.ndarray, scope: TextScope, *, multi_label: bool
) -> Confidence:
    """ECE, Brier score and reliability bins of ``probs`` against the 0/1 ``truth`` (the same
    shape): ``korsent evaluate`` and ``korsent calibrate`` both measure with this.

    A single-label model is judged on each text's top probability and whether that class is gold
    (top-label calibration); a multi-label model on every (text, label) score.
    """
    probs, truth = np.asarray(probs, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if multi_label:
        confidence, correct = probs.ravel(), truth.ravel()
    else:
        confidence = probs.max(axis=1) if len(probs) else np.zeros(0)
        correct = truth[np.arange(len(truth)), probs.argmax(axis=1)] if len(probs) else confidence
    return Confidence(
        ece=expected_calibration_error(confidence, correct),
        brier=brier_score(probs, truth, multi_label=multi_label),
        reliability=reliability_bins(confidence, correct),
        scope=scope,
    )
