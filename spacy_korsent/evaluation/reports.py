"""What an evaluation measured: typed reports that ``korsent evaluate`` prints, writes and plots.

A report holds the scores, the model's name and the speed of one evaluation. :meth:`Report.to_dict`
gives the keys of ``korsent evaluate --json``: every field in the order declared, the fields of a
nested :class:`Speed` in its place, the ``calibration`` as ``ece``, ``brier``, ``reliability`` and
``calibration_texts`` (which texts they are on), another :class:`Calibration` as an object of
its own, and a field that is None left out (unless its metadata says ``"null": True``). A new
metric is a new field with a default of None: it shows up in the JSON where it is set, and older
reports stay as they were.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Optional

import numpy as np

from ..metrics import Confidence, ReliabilityBin
from ..taxonomy import GROUPS


@dataclass(frozen=True)
class Speed:
    """How many documents went through ``nlp.pipe`` and how fast (only that loop is timed).

    ``unscored`` documents got no prediction (texts without tokens): they count as wrong.
    """

    documents: int
    unscored: int
    seconds: float
    docs_per_second: float

    @classmethod
    def of(cls, documents: int, unscored: int, seconds: float) -> Speed:
        return cls(documents, unscored, seconds, documents / seconds if seconds else 0.0)


Calibration = Confidence
"""How far the probabilities can be trusted: 0 is perfect for both scores.

``ece`` is the expected calibration error (the count-weighted gap between confidence and
accuracy over ``reliability``, 15 equal-width bins); ``brier`` the Brier score (summed over
the classes of a text for a single-label model, 0 to 2; the mean over (text, label) pairs
for a multi-label one); ``scope`` the texts they are on. A single-label model is judged on each
text's top probability and whether that class is gold, a multi-label model on every (text,
label) score. Texts without a prediction are left out. ``korsent calibrate`` measures with the
same function (:func:`~spacy_korsent.metrics.confidence_scores`).
"""


@dataclass(frozen=True)
class LabelScores:
    """Precision, recall and F1 of one label, and how many gold texts have it."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    """What every report holds: the model that was evaluated (the task is the class's)."""

    task: ClassVar[str]
    model: str

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (see the module docstring for the keys)."""
        out: dict[str, Any] = {"task": self.task}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, Speed):
                out.update(vars(value))
            elif isinstance(value, Confidence) and item.name == "calibration":
                out.update(ece=value.ece, brier=value.brier, reliability=_plain(value.reliability))
                out["calibration_texts"] = value.scope.to_dict()
            elif isinstance(value, Confidence):
                out[item.name] = {"ece": value.ece, "brier": value.brier, **value.scope.to_dict()}
            elif value is not None or item.metadata.get("null"):
                out[item.name] = _plain(value)
        return out

    @property
    def calibration_scores(self) -> Optional[Calibration]:
        """The calibration of the probabilities (None where it was not measured)."""
        return getattr(self, "calibration", None)

    @property
    def heading(self) -> str:
        """What the table (or, without one, the per-label scores) shows."""
        raise NotImplementedError

    @property
    def table(self) -> Optional[tuple[np.ndarray, list[str]]]:
        """The confusion matrix to print and draw with its row/column names; None for none."""
        return None

    @property
    def headline(self) -> tuple[str, float]:
        """The one figure a plot's title names: (name, value)."""
        raise NotImplementedError


@dataclass(frozen=True)
class SentimentReport(Report):
    """Negative/positive scores: accuracy, and precision/recall/F1 of the positive class.

    ``confusion`` is ``[[tn, fp], [fn, tp]]`` (rows: gold, columns: predicted). Three-way
    scores (``labels`` negative, neutral, positive: neutral gold texts, or a model that answers
    neutral) add ``macro_f1`` over the three classes and ``per_class`` scores; ``confusion`` is
    then 3x3.
    """

    task: ClassVar[str] = "sentiment"
    accuracy: float
    precision: float
    recall: float
    f1: float
    confusion: list[list[int]]
    labels: list[str]
    speed: Speed
    macro_f1: Optional[float] = None
    per_class: Optional[dict[str, LabelScores]] = None
    calibration: Optional[Calibration] = None
    calibration_on_model_classes: Optional[Calibration] = None
    """The calibration on the texts whose gold class the model gives a probability for, where
    some have none (neutral texts for a negative/positive model, with or without a band): the
    texts ``korsent calibrate`` fits and measures the temperature on."""

    @property
    def heading(self) -> str:
        return "sentiment confusion matrix"

    @property
    def table(self) -> tuple[np.ndarray, list[str]]:
        return np.array(self.confusion, dtype=np.int64), self.labels

    @property
    def headline(self) -> tuple[str, float]:
        return "accuracy", self.accuracy


@dataclass(frozen=True)
class EmotionReport(Report):
    """Single-label emotion scores: accuracy, macro-F1 (over the labels that occur), top-3.

    A model with other labels than the default 60 gets the confusion matrix of its ``labels``;
    the default model gets accuracy over the six major groups and their 6x6 confusion matrix.
    """

    task: ClassVar[str] = "emotion"
    accuracy: float
    macro_f1: float
    top3_accuracy: float
    speed: Speed
    confusion: Optional[list[list[int]]] = None
    labels: Optional[list[str]] = None
    group_accuracy: Optional[float] = None
    group_confusion: Optional[list[list[int]]] = None
    groups: Optional[list[str]] = None
    calibration: Optional[Calibration] = None

    @property
    def heading(self) -> str:
        if self.group_confusion is not None:
            return "confusion matrix of the six emotion groups"
        return "emotion confusion matrix"

    @property
    def table(self) -> tuple[np.ndarray, list[str]]:
        if self.group_confusion is not None:  # named by their English glosses
            glosses = [gloss for _, gloss in GROUPS]
            return np.array(self.group_confusion, dtype=np.int64), glosses
        return np.array(self.confusion, dtype=np.int64), list(self.labels or [])

    @property
    def headline(self) -> tuple[str, float]:
        return "accuracy", self.accuracy


@dataclass(frozen=True)
class MultiLabelReport(Report):
    """Scores of label sets (a multi-label model, or gold texts with several labels).

    Micro scores pool every (text, label) decision; macro-F1 averages ``per_label`` F1 over all
    the model's labels; exact match is the share of texts whose predicted set is the gold set.
    ``threshold`` is the score at which a label counts as predicted (None: a single-label model,
    which predicts its top label); ``thresholds`` the labels' own, where the model has fitted ones
    (its ``calibration.json`` or the ``thresholds`` setting; the others count at ``threshold``).
    """

    task: ClassVar[str] = "emotion"
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_f1: float
    exact_match: float
    mean_gold_labels: float
    mean_predicted_labels: float
    per_label: dict[str, LabelScores]
    threshold: Optional[float] = field(metadata={"null": True})
    speed: Speed
    calibration: Optional[Calibration] = None
    thresholds: Optional[dict[str, float]] = None

    @property
    def heading(self) -> str:
        return "emotion labels"

    @property
    def headline(self) -> tuple[str, float]:
        return "micro-F1", self.micro_f1


def _plain(value: Any) -> Any:
    """A value JSON can hold: dataclasses as dicts, arrays as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, ReliabilityBin):
        return value._asdict()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
