"""What each kind of model answers, defined once: the components build these answers, and the
output columns, Parquet and DataFrame types, the report's reader, the HTML page, evaluation and
the engines read them from here.

Five kinds, two tasks (``doc._.sentiment`` / ``doc._.emotions``, and each sentence's span):

- sentiment **two-class** (negative/positive): ``label`` the top class, ``score`` its probability,
  ``scores`` every class's;
- sentiment **neutral band** (a two-class negative/positive model with ``neutral_band``):
  the same, but ``label`` is ``"neutral"`` where p(positive) lies in the band, and then ``score``
  is None: the model gives no probability of neutral (``scores`` still holds the two it gave);
- sentiment **n-class** (a model trained with more classes, say a neutral one): as two-class;
- emotion **single-label**: ``label``/``score`` the top emotion, ``labels`` ``[label]``,
  ``group`` the group with the most probability mass (None without groups), ``top``, ``groups``;
- emotion **multi-label**: as single-label, but ``labels`` are the emotions at or above their own
  cut (possibly none) and ``groups`` each group's best score.

Every kind's **empty answer** (a text with nothing for the model) has ``label`` and ``score``
None. Answers are plain dicts (they survive DocBin and worker processes); :meth:`AnswerKind.check`
says whether one has the kind's shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .calibration import NEUTRAL

SENTIMENT = "sentiment"
EMOTION = "emotion"
TASKS = (SENTIMENT, EMOTION)
EXTENSIONS = {SENTIMENT: "sentiment", EMOTION: "emotions"}
"""Each task's doc and span extension."""
BANDED_LABELS = ("negative", "positive")
"""The classes a neutral band applies to (it is a band on p(positive))."""

Answer = dict[str, Any]

LABEL, SCORE, LABELS, TOP = "label", "score", "labels", "top"
"""What an output column holds: a label (a string, None for an empty answer), a score (a
probability, None as :meth:`AnswerKind.score_is_none` says), a list of labels, the top entries."""
HOLDS = (LABEL, SCORE, LABELS, TOP)
TOP_KEYS = ("label", "gloss", "group", "score")
"""The keys of every ``top`` entry, for every model (None where not known)."""


@dataclass(frozen=True)
class AnswerKind:
    """One kind of answer: its task, the model's labels, and whether a band or several labels."""

    task: str
    labels: tuple[str, ...]
    band: bool = False
    """Sentiment: a two-class model with a neutral band (answers ``"neutral"`` without a score)."""
    multi_label: bool = False
    """Emotion: several labels per text, each at its own cut."""

    @property
    def name(self) -> str:
        """``two-class``, ``neutral band``, ``n-class``, ``single-label`` or ``multi-label``."""
        if self.task == EMOTION:
            return "multi-label" if self.multi_label else "single-label"
        if self.band:
            return "neutral band"
        return "two-class" if len(self.labels) == 2 else "n-class"

    @property
    def decision_labels(self) -> tuple[str, ...]:
        """The labels an answer may have: the model's, and ``"neutral"`` with a band."""
        return (*self.labels, NEUTRAL) if self.band else self.labels

    def score_is_none(self, label: Optional[str]) -> bool:
        """Whether an answer with this label has no score: an empty answer, or the band's
        neutral (the model gives no probability of it)."""
        return label is None or (self.band and label == NEUTRAL)

    def columns(self) -> dict[str, str]:
        """The answer's output columns, in order, with what each holds (:data:`HOLDS`)."""
        if self.task == SENTIMENT:
            return {
                "sentiment": LABEL,
                "sentiment_score": SCORE,
                **{f"sentiment_{label}": SCORE for label in self.labels},
            }
        return {
            "emotion": LABEL,
            "emotion_score": SCORE,
            "emotion_labels": LABELS,
            "emotion_group": LABEL,
            "emotions_top": TOP,
        }

    def row(self, answer: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """The answer's output columns (:meth:`columns`) with their values."""
        answer = answer or self.empty()
        if self.task == SENTIMENT:
            scores = answer.get("scores") or {}
            return {
                "sentiment": answer.get("label"),
                "sentiment_score": answer.get("score"),
                **{f"sentiment_{label}": scores.get(label) for label in self.labels},
            }
        return {
            "emotion": answer.get("label"),
            "emotion_score": answer.get("score"),
            "emotion_labels": answer.get("labels", []),
            "emotion_group": answer.get("group"),
            "emotions_top": answer.get("top", []),
        }

    def empty(self) -> Answer:
        """The answer for a text with nothing for the model."""
        return empty_answer(self.task)

    def check(self, answer: Mapping[str, Any]) -> None:
        """A :class:`ValueError` saying how ``answer`` differs from this kind's shape."""
        problems = list(self._problems(answer))
        if problems:
            raise ValueError(f"not a {self.name} {self.task} answer: {'; '.join(problems)}.")

    def _problems(self, answer: Mapping[str, Any]) -> list[str]:
        keys = set(self.empty())
        if set(answer) != keys:
            return [f"keys {sorted(answer)}, not {sorted(keys)}"]
        label, score = answer["label"], answer["score"]
        problems = []
        if label is not None and label not in self.decision_labels:
            problems.append(f"label {label!r} is none of {list(self.decision_labels)}")
        if self.score_is_none(label) != (score is None):
            problems.append(f"score {score!r} with label {label!r}")
        elif score is not None and not is_probability(score):
            problems.append(f"score {score!r} is not a probability")
        if self.task == SENTIMENT:
            scores = answer["scores"]
            expected = set() if label is None else set(self.labels)
            if set(scores) != expected or not all(map(is_probability, scores.values())):
                problems.append(f"scores {scores!r} are not a probability of each of {expected}")
            return problems
        chosen = answer["labels"]
        if not isinstance(chosen, list) or not set(chosen) <= set(self.labels):
            problems.append(f"labels {chosen!r} are not a list of the model's labels")
        elif not self.multi_label and chosen != ([] if label is None else [label]):
            problems.append(f"labels {chosen!r} of a single-label answer {label!r}")
        for entry in answer["top"]:
            if not isinstance(entry, dict) or tuple(entry) != TOP_KEYS:
                problems.append(f"a top entry {entry!r} without the keys {list(TOP_KEYS)}")
        return problems


def empty_answer(task: str) -> Answer:
    """The answer of ``task`` for a text with nothing for the model: the same for every kind of
    the task, so a component gives it without loading its model."""
    if task == SENTIMENT:
        return {"label": None, "score": None, "scores": {}}
    return {"label": None, "score": None, "labels": [], "group": None, "top": [], "groups": {}}


def sentiment_kind(labels: Sequence[str], band: bool = False) -> AnswerKind:
    """The kind of a sentiment model with these labels (a band applies to negative/positive)."""
    return AnswerKind(SENTIMENT, tuple(labels), band=band and may_have_band(labels))


def emotion_kind(labels: Sequence[str], multi_label: bool = False) -> AnswerKind:
    return AnswerKind(EMOTION, tuple(labels), multi_label=multi_label)


def may_have_band(labels: Sequence[str]) -> bool:
    """Whether a sentiment model with these labels can have a neutral band."""
    return sorted(labels) == list(BANDED_LABELS)


def written_kind(task: str, labels: Sequence[str]) -> AnswerKind:
    """The kind of answer that written output columns hold, as far as they say: a sentiment
    model's labels are its ``sentiment_<label>`` columns, and negative/positive ones may have
    had a band (a model without one never answers neutral, so the difference never shows)."""
    if task == SENTIMENT:
        return sentiment_kind(labels, band=True)
    return emotion_kind(labels, multi_label=True)


def is_probability(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def shown_score(answer: Mapping[str, Any]) -> str:
    """The answer's score as a page shows it: its probability, or for the band's neutral (no
    score) p(positive), which put it in the band, and the class its attributions point to."""
    score = answer.get("score")
    if score is not None:
        return f"{float(score):.3f}"
    scores = answer.get("scores") or {}
    positive = scores.get("positive")
    if answer.get("label") == NEUTRAL and positive is not None and not math.isnan(positive):
        towards = max(scores, key=scores.__getitem__)
        return f"p(positive) {float(positive):.3f}, in the neutral band; shaded towards {towards}"
    return "no score"
