"""Fit a component's :class:`~spacy_korsent.calibration.Calibration` on labelled texts, and
measure what it changes.

``korsent calibrate`` and the benchmarks call these with the model's own probabilities (no
calibration applied) and the gold labels; each returns the calibration and a before/after table.
The figures are measured on the data the values were fitted on, so they show what the fit does,
not what it will do on new texts (``benchmarks/trust.py`` measures that on held-out data).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from .answers import sentiment_kind
from .calibration import (
    Calibration,
    LabelThresholds,
    NeutralBand,
    fit_neutral_band,
    fit_temperature,
    fit_thresholds,
    log_loss,
    scale_probabilities,
)
from .metrics import TextScope, accuracy, confidence_scores, macro_f1, multilabel_scores


class Measure(NamedTuple):
    """One figure before and after the calibration (lower is better for losses and ECE), and
    the texts it is on."""

    name: str
    before: float
    after: float
    scope: TextScope


class Fit(NamedTuple):
    calibration: Calibration
    measures: list[Measure]
    texts: int
    """How many labelled texts the fit used."""
    notes: list[str]
    """What was not fitted, and why."""

    def to_dict(self) -> dict:
        """``measures`` by name, each with its texts (a name measured on two sets of texts is
        keyed ``ECE (all texts)`` the second time)."""
        measures: dict[str, dict] = {}
        for m in self.measures:
            key = m.name if m.name not in measures else f"{m.name} ({m.scope.which})"
            measures[key] = {"before": m.before, "after": m.after, **m.scope.to_dict()}
        return {
            "calibration": self.calibration.to_dict(),
            "texts": self.texts,
            "measures": measures,
            "notes": self.notes,
        }


def fit_single_label(probs: np.ndarray, gold: np.ndarray, labels: list[str]) -> Fit:
    """A softmax model: a temperature, and for a negative/positive model whose gold labels
    include ``neutral`` (class index ``len(labels)``) also a neutral band on p(positive).

    The temperature is fitted, and log-loss, ECE and Brier score measured, on the texts of the
    model's own classes (a neutral text has no right answer among two); ECE and Brier score also
    on every text, neutral given probability 0 as ``korsent evaluate`` scores them; the band on
    the temperature-scaled p(positive) of every text.
    """
    probs = np.asarray(probs, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.int64)
    own = gold < len(labels)
    if not own.any():
        raise ValueError(f"no text has one of the model's labels {labels}: nothing to fit.")
    temperature = fit_temperature(probs[own], gold[own], multi_label=False)
    scaled = scale_probabilities(probs, temperature, multi_label=False)
    everything = TextScope(len(gold))
    scope = everything if own.all() else TextScope(int(own.sum()), tuple(labels))
    truth = np.eye(len(labels))[gold[own]]
    measures = _confidence_measures(probs[own], scaled[own], truth, scope, multi_label=False)
    notes: list[str] = []
    band = None
    if not own.all():
        no_neutral = np.zeros((len(gold), 1))  # neutral: the last class, probability 0
        measures += _ece_and_brier(
            np.hstack([probs, no_neutral]),
            np.hstack([scaled, no_neutral]),
            np.eye(len(labels) + 1)[gold],
            everything,
            multi_label=False,
        )
        positive = labels.index("positive")
        three = np.where(own, np.where(gold == positive, 2, 0), 1)  # negative 0, neutral 1
        if set(three.tolist()) != {0, 1, 2}:
            notes.append("no neutral band: the data needs negative, neutral and positive texts.")
        else:
            band = NeutralBand(
                *(round(edge, 4) for edge in fit_neutral_band(scaled[:, positive], three))
            )
            before = np.where(probs[:, positive] >= 0.5, 2, 0)
            after = band.classify(scaled[:, positive])
            measures += [
                Measure("three-way macro-F1", _f1(three, before), _f1(three, after), everything),
                Measure(
                    "three-way accuracy",
                    accuracy(three, before),
                    accuracy(three, after),
                    everything,
                ),
            ]
    else:
        right = [accuracy(gold, p.argmax(1)) for p in (probs, scaled)]
        measures.append(Measure("accuracy", right[0], right[1], everything))
    calibration = Calibration(temperature=temperature, neutral_band=band)
    return Fit(calibration, measures, len(gold), notes)


def fit_multi_label(
    probs: np.ndarray, truth: np.ndarray, labels: list[str], *, threshold: float
) -> Fit:
    """A sigmoid per label: a temperature, then one threshold per label on the scaled scores
    (labels with few gold examples share one; see :func:`~.calibration.fit_thresholds`);
    ``threshold`` is the one the model used before."""
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    temperature = fit_temperature(probs, truth, multi_label=True)
    scaled = scale_probabilities(probs, temperature, multi_label=True)
    fitted: LabelThresholds = fit_thresholds(scaled, truth, labels)
    scope = TextScope(len(truth))
    measures = _confidence_measures(probs, scaled, truth, scope, multi_label=True)
    cuts = np.array([fitted.per_label[label] for label in labels])
    before = multilabel_scores(truth, probs >= threshold, labels)
    after = multilabel_scores(truth, scaled >= cuts, labels)
    for key in ("micro_f1", "macro_f1"):
        measures.append(Measure(key.replace("_f1", "-F1"), before[key], after[key], scope))
    rare = len(labels) - len(fitted.fitted)
    notes = [
        f"{rare} labels with fewer gold examples than needed share the threshold "
        f"{fitted.shared:.3f} (fitted on all labels together)."
    ] * bool(rare)
    thresholds = {label: round(cut, 4) for label, cut in fitted.per_label.items()}
    calibration = Calibration(temperature=temperature, thresholds=thresholds)
    return Fit(calibration, measures, len(truth), notes)


def _confidence_measures(
    probs: np.ndarray, scaled: np.ndarray, truth: np.ndarray, scope: TextScope, *, multi_label: bool
) -> list[Measure]:
    """Log-loss, expected calibration error and Brier score, before and after scaling, against
    the one-hot (multi-label: 0/1) ``truth``."""
    gold = truth if multi_label else truth.argmax(axis=1)
    loss = [log_loss(p, gold, multi_label=multi_label) for p in (probs, scaled)]
    return [
        Measure("log-loss", loss[0], loss[1], scope),
        *_ece_and_brier(probs, scaled, truth, scope, multi_label=multi_label),
    ]


def _ece_and_brier(
    probs: np.ndarray, scaled: np.ndarray, truth: np.ndarray, scope: TextScope, *, multi_label: bool
) -> list[Measure]:
    """ECE and Brier score before and after, measured as ``korsent evaluate`` measures them
    (:func:`~spacy_korsent.metrics.confidence_scores`: single-label, of each text's top class;
    multi-label, of every (text, label) score)."""
    before, after = (
        confidence_scores(p, truth, scope, multi_label=multi_label) for p in (probs, scaled)
    )
    return [
        Measure("ECE", before.ece, after.ece, scope),
        Measure("Brier score", before.brier, after.brier, scope),
    ]


def _f1(gold: np.ndarray, pred: np.ndarray) -> float:
    return macro_f1(gold, pred, labels=[0, 1, 2])


def multi_hot(indices: list[list[int]], n_labels: int) -> np.ndarray:
    """A boolean ``[texts, labels]`` matrix from each text's label indices."""
    truth = np.zeros((len(indices), n_labels), dtype=bool)
    for row, columns in enumerate(indices):
        truth[row, columns] = True
    return truth


def decision_labels(labels: list[str]) -> Optional[list[str]]:
    """The classes gold labels may name for a model: a negative/positive model's and neutral
    (None for other models, whose classes are their own)."""
    kind = sentiment_kind(labels, band=True)
    return list(kind.decision_labels) if kind.band else None
