"""Fit what makes a model's scores trustworthy on a user's own labelled data.

Three fits, each over the probabilities the components already produce (so a fit needs no access
to the model's logits and applies to any backend):

- a **temperature** ``T`` that rescales overconfident (or underconfident) probabilities, fitted by
  log-loss (Guo et al. 2017, "On Calibration of Modern Neural Networks");
- a **neutral band** ``[low, high)`` on a two-class model's p(positive): texts inside it are
  neutral, so a negative/positive model answers three ways on data that has neutral texts;
- one **threshold per label** for a multi-label model, at the F1-best cut of each label's scores,
  with one shared threshold for labels too rare to fit on their own.

The fits are pure numpy and deterministic. :class:`Calibration` holds their results as a model
applies them: the components read it from ``calibration.json`` in a model directory (written by
``korsent calibrate``, and with every model a component saves) unless their settings give the
values (settings > the model directory's file > none).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np

EPSILON = 1e-7
"""Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` before taking logarithms."""
TEMPERATURE_RANGE = (0.05, 20.0)
"""The temperatures a fit may return: wide enough for any real model, narrow enough to be safe."""
NEUTRAL = "neutral"
"""The answer of a two-class sentiment model for a text whose p(positive) lies in its band."""
MIN_LABEL_SUPPORT = 10
"""Gold occurrences a label needs for a threshold of its own; rarer labels share the global one."""
THRESHOLD_PRIOR = 50
"""How many gold occurrences the shared threshold counts as, against a label's own F1-best cut
(:func:`fit_thresholds`). Chosen on KOTE (``benchmarks/trust.py``), where 20 to 200 all kept
micro-F1 within 0.02 of the shared cut and raised macro-F1 by 0.02 to 0.05."""


def scale_probabilities(probs: np.ndarray, temperature: float, *, multi_label: bool) -> np.ndarray:
    """``probs`` as the model would give them with its logits divided by ``temperature``.

    For a softmax, ``softmax(log p / T)`` equals ``softmax(logits / T)``; for a sigmoid per label,
    ``sigmoid(logit(p) / T)``. A temperature of 1 returns the probabilities unchanged.
    """
    if temperature <= 0:
        raise ValueError(f"a temperature must be positive, not {temperature}.")
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return probs
    clipped = np.clip(probs, EPSILON, 1 - EPSILON)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-np.log(clipped / (1 - clipped)) / temperature))
    scaled = np.log(clipped) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_loss(probs: np.ndarray, gold: np.ndarray, *, multi_label: bool) -> float:
    """Mean negative log-likelihood of the gold answers.

    ``gold`` holds class indices ``[texts]`` for a single-label model and a 0/1 matrix
    ``[texts, labels]`` for a multi-label one (then the mean is over every text-label pair).
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), EPSILON, 1 - EPSILON)
    if multi_label:
        truth = np.asarray(gold, dtype=np.float64)
        return float(-(truth * np.log(probs) + (1 - truth) * np.log(1 - probs)).mean())
    rows = np.arange(len(probs))
    return float(-np.log(probs[rows, np.asarray(gold, dtype=np.int64)]).mean())


def fit_temperature(probs: np.ndarray, gold: np.ndarray, *, multi_label: bool) -> float:
    """The temperature that minimises :func:`log_loss` on ``probs`` and ``gold``.

    The log-loss is convex in ``1 / T`` (a log-sum-exp of a linear function), so a golden-section
    search over ``log T`` in :data:`TEMPERATURE_RANGE` finds its minimum.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if not len(probs):
        raise ValueError("fitting a temperature needs at least one labelled text.")

    def loss(log_t: float) -> float:
        scaled = scale_probabilities(probs, float(np.exp(log_t)), multi_label=multi_label)
        return log_loss(scaled, gold, multi_label=multi_label)

    low, high = (float(np.log(t)) for t in TEMPERATURE_RANGE)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > 1e-4:
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return round(float(np.exp((low + high) / 2)), 4)


class NeutralBand(NamedTuple):
    """p(positive) in ``[low, high)`` is neutral, below it negative, at or above it positive.

    A band holds 0.5 (``low <= 0.5 <= high``): outside it the answer is the model's own top class,
    so ``label`` and the probabilities in ``scores`` and ``doc.cats`` never disagree.
    """

    low: float
    high: float

    def classify(self, p_positive: np.ndarray) -> np.ndarray:
        """0 (negative), 1 (neutral) or 2 (positive) for each p(positive)."""
        p = np.asarray(p_positive, dtype=np.float64)
        return np.where(p < self.low, 0, np.where(p < self.high, 1, 2))


def fit_neutral_band(p_positive: np.ndarray, gold: np.ndarray, *, cuts: int = 200) -> NeutralBand:
    """The band on p(positive) with the best three-way macro-F1 on ``gold``.

    ``gold`` holds 0 (negative), 1 (neutral) or 2 (positive). Band edges are tried at up to
    ``cuts`` quantiles of ``p_positive`` (each pair of them around 0.5, see :class:`NeutralBand`),
    counted with prefix sums, so a fit on tens of thousands of texts takes milliseconds. An edge
    lies halfway between the two scores it separates, so that the band does not hinge on one
    text's exact score.
    """
    p = np.asarray(p_positive, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.int64)
    if len(p) != len(gold):
        raise ValueError(f"{len(gold)} gold labels but {len(p)} scores.")
    if set(np.unique(gold).tolist()) != {0, 1, 2}:
        raise ValueError(
            "fitting a neutral band needs negative, neutral and positive examples; "
            f"the data has only {sorted(set(gold.tolist()))} of 0/1/2 (negative/neutral/positive)."
        )
    order = np.argsort(p, kind="stable")
    p, gold = p[order], gold[order]
    n = len(p)
    # Prefix counts: before[c][i] = texts of class c among the i lowest scores.
    before = np.stack([np.concatenate([[0], np.cumsum(gold == c)]) for c in range(3)])
    # Candidate cut positions: where the score changes, thinned to ``cuts`` quantiles.
    changes = np.flatnonzero(np.diff(p) > 0) + 1
    positions = np.unique(np.concatenate([[0, n], changes]))
    if len(positions) > cuts:
        positions = np.unique(positions[np.linspace(0, len(positions) - 1, cuts).astype(int)])
    middle = int(np.searchsorted(p, 0.5))  # the model's own decision, always a candidate
    positions = np.unique(np.append(positions, middle))
    i, j = np.meshgrid(positions, positions, indexing="ij")
    valid = (i <= middle) & (middle <= j)
    i, j = i[valid], j[valid]
    totals = before[:, n]
    hits = (before[0, i], before[1, j] - before[1, i], totals[2] - before[2, j])
    predicted = (i, j - i, n - j)
    f1 = [
        2 * hit / np.maximum(pred + total, 1) for hit, pred, total in zip(hits, predicted, totals)
    ]
    best = int(np.argmax(np.mean(f1, axis=0)))
    return NeutralBand(_edge(p, int(i[best])), _edge(p, int(j[best])))


def _edge(sorted_scores: np.ndarray, position: int) -> float:
    """A cut just before ``sorted_scores[position]``: halfway from the score below it, but never
    across 0.5 (a cut at the model's own decision stays there)."""
    if position == 0:
        return 0.0
    if position == len(sorted_scores):
        return 1.0 + EPSILON  # above every probability: nothing is positive
    below, above = float(sorted_scores[position - 1]), float(sorted_scores[position])
    if below < 0.5 <= above:
        return 0.5
    return (below + above) / 2


class LabelThresholds(NamedTuple):
    """A multi-label model's decision cuts: one per label, and the shared one rare labels use."""

    per_label: dict[str, float]
    shared: float
    fitted: list[str]
    """The labels with enough gold occurrences for a threshold of their own."""


def fit_thresholds(
    probs: np.ndarray,
    gold: np.ndarray,
    labels: list[str],
    *,
    min_support: int = MIN_LABEL_SUPPORT,
    prior: int = THRESHOLD_PRIOR,
) -> LabelThresholds:
    """Thresholds for a multi-label model: each label's F1-best cut drawn towards a shared one.

    The shared threshold maximises micro-F1 over all labels together. A label with ``n`` gold
    occurrences gets ``(n * own + prior * shared) / (n + prior)``, its own F1-best cut weighted by
    how much evidence backs it; one with fewer than ``min_support`` takes the shared cut, since an
    F1-best cut on a handful of examples mostly fits noise. (Each label's own F1-best cut, with
    ``prior=0``, maximises macro-F1 on the fitting data but predicts many more labels: on KOTE it
    lost more micro-F1 on held-out data than it gained macro-F1; see ``benchmarks/trust.py``.)
    """
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(gold, dtype=bool)
    if probs.shape != truth.shape or probs.shape[1] != len(labels):
        raise ValueError(
            f"scores {probs.shape}, gold {truth.shape} and {len(labels)} labels do not agree."
        )
    shared = best_f1_threshold(probs.ravel(), truth.ravel())
    support = truth.sum(axis=0)
    fitted = [label for label, count in zip(labels, support) if count >= min_support]
    per_label = {}
    for index, label in enumerate(labels):
        own = best_f1_threshold(probs[:, index], truth[:, index]) if label in fitted else shared
        n = float(support[index])
        per_label[label] = (n * own + prior * shared) / (n + prior) if n + prior else own
    return LabelThresholds(per_label, shared, fitted)


def best_f1_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The cut (predict at or above it) with the best F1 of ``truth``, halfway between scores.

    Ties in F1 go to the highest cut (fewest predictions). Without any positive example the cut
    is above every score: nothing is predicted.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    if not truth.any():
        return 1.0
    order = np.argsort(-scores, kind="stable")
    scores, truth = scores[order], truth[order]
    last_of_run = np.append(np.diff(scores) < 0, True)  # predict every text down to here
    hits = np.cumsum(truth)[last_of_run]
    predicted = (np.flatnonzero(last_of_run) + 1).astype(np.float64)
    f1 = 2 * hits / (predicted + truth.sum())
    best = int(np.argmax(f1))  # the first best: the highest cut among equals
    position = int(np.flatnonzero(last_of_run)[best])
    if position + 1 == len(scores):
        return float(scores[position])
    return float((scores[position] + scores[position + 1]) / 2)


CALIBRATION_FILE = "calibration.json"
"""A model directory's fitted values, beside its ``config.json``."""
FIELDS = ("temperature", "neutral_band", "thresholds")
SCHEMA = (
    "a calibration is a JSON object with any of temperature (a number between "
    f"{TEMPERATURE_RANGE[0]} and {TEMPERATURE_RANGE[1]}), neutral_band ([low, high] with "
    "0 <= low <= 0.5 <= high <= 1) and thresholds ({label: number from 0 to 1})"
)
"""What :meth:`Calibration.read` accepts, as its errors say it."""
MAX_FILE_BYTES = 1_000_000
"""The largest ``calibration.json`` read: the thresholds of thousands of labels take a tenth."""


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What a component applies to its model's probabilities (None: nothing of that kind).

    ``temperature`` rescales every probability (``scores``, ``doc.cats`` and the decisions made
    from them); ``neutral_band`` makes a two-class sentiment model answer ``"neutral"``;
    ``thresholds`` decides each label of a multi-label emotion model.
    """

    temperature: Optional[float] = None
    neutral_band: Optional[NeutralBand] = None
    thresholds: Optional[dict[str, float]] = None

    @property
    def empty(self) -> bool:
        return self == Calibration()

    def scale(self, probs: np.ndarray, *, multi_label: bool) -> np.ndarray:
        """``probs`` at the temperature (as they are without one), in their own dtype."""
        if self.temperature is None or self.temperature == 1.0:
            return probs
        scaled = scale_probabilities(probs, self.temperature, multi_label=multi_label)
        return scaled.astype(probs.dtype)

    def overridden(self, values: dict[str, Any]) -> Calibration:
        """These values where ``values`` (settings) gives them (not None). A setting of 1.0, ``[]``
        or ``{}`` turns a saved temperature, band or thresholds off."""
        given = {name: value for name, value in values.items() if value is not None}
        if "neutral_band" in given:
            band = given["neutral_band"]
            given["neutral_band"] = NeutralBand(*map(float, band)) if band else None
        if given.get("temperature") == 1.0:
            given["temperature"] = None
        if given.get("thresholds") == {}:
            given["thresholds"] = None
        return dataclasses.replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        """The values that are set, as ``calibration.json`` and a pipeline's config hold them."""
        values = {
            "temperature": self.temperature,
            "neutral_band": list(self.neutral_band) if self.neutral_band else None,
            "thresholds": self.thresholds,
        }
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def from_dict(cls, values: Any, source: str) -> Calibration:
        """A calibration from :meth:`to_dict`'s keys, checked (a ValueError naming ``source``)."""
        if not isinstance(values, dict):
            raise ValueError(f"{source}: {SCHEMA}, not {_shown(values)}.")
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"{source}: unknown keys {sorted(unknown)}; {SCHEMA}.")
        try:
            check_values(**values)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
        return cls().overridden(values)

    @classmethod
    def read(cls, directory: str | Path) -> Calibration:
        """The calibration saved in a model directory (none without the file, or for a hub id).

        The file comes from outside: anything but :data:`SCHEMA` within :data:`MAX_FILE_BYTES`
        is a ValueError of one line that names the file and the field.
        """
        path = Path(directory) / CALIBRATION_FILE
        if not path.is_file():
            return cls()
        try:
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES:,} bytes")
            values = json.loads(data.decode("utf-8"), object_pairs_hook=_once_each)
        except RecursionError:
            raise ValueError(f"{path}: not a calibration file (JSON nested too deeply).") from None
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: not a calibration file ({err}).") from None
        return cls.from_dict(values, str(path))

    def write(self, directory: Path) -> None:
        """Save the values in ``directory`` (an older file is removed when there are none)."""
        path = directory / CALIBRATION_FILE
        if self.empty:
            path.unlink(missing_ok=True)
        else:
            text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
            path.write_text(text + "\n", encoding="utf-8")


def check_values(
    temperature: Optional[float] = None,
    neutral_band: Optional[list[float]] = None,
    thresholds: Optional[dict[str, float]] = None,
) -> None:
    """Refuse calibration values of the wrong type or range: a ValueError of one line that names
    the field and what it must be. The one check of ``calibration.json`` (on disk, and in a
    component's bytes) and of the components' settings."""
    low, high = TEMPERATURE_RANGE
    if temperature is not None and not (_is_number(temperature) and low <= temperature <= high):
        raise ValueError(
            f"temperature must be a number between {low} and {high}, not {_shown(temperature)}."
        )
    if neutral_band is not None and not _is_band(neutral_band):
        raise ValueError(
            "neutral_band must be [low, high], two numbers with 0 <= low <= 0.5 <= high <= 1 "
            f"(outside the band the model's own top class answers), or [] for none; not "
            f"{_shown(neutral_band)}."
        )
    if thresholds is None:
        return
    if not isinstance(thresholds, dict):
        raise ValueError(
            f"thresholds must be an object {{label: number from 0 to 1}} ({{}} for none), not "
            f"{_shown(thresholds)}."
        )
    for label, value in thresholds.items():
        if not (_is_number(value) and 0.0 <= value <= 1.0):
            raise ValueError(
                f"thresholds[{_shown(label)}] must be a number from 0 to 1, not {_shown(value)}."
            )


def _is_number(value: Any) -> bool:
    """A real number (not a bool, a string or None); NaN passes here and fails every range."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_band(band: Any) -> bool:
    if not isinstance(band, (list, tuple)):
        return False
    if not band:
        return True
    return (
        len(band) == 2
        and all(map(_is_number, band))
        and 0.0 <= band[0] <= 0.5 <= band[1] <= 1.0 + EPSILON
    )


def _shown(value: Any, limit: int = 60) -> str:
    """``value`` as JSON writes it (a string in quotes), cut to ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (json would keep the last of a repeated key)."""
    values: dict[str, Any] = {}
    for key, value in pairs:
        if key in values:
            raise ValueError(f"the key {_shown(key)} appears twice")
        values[key] = value
    return values
