"""The ``korean_sentiment`` component: sentiment in ``doc._.sentiment``.

A two-class (negative/positive) model answers ``"neutral"`` too when given a neutral band on
p(positive) (``neutral_band``, or fitted by ``korsent calibrate``); a model trained with a neutral
class answers it by itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np
from spacy.util import registry

from .. import answers
from ..answers import AnswerKind, may_have_band, sentiment_kind
from ..calibration import NEUTRAL, Calibration
from .classifier import KoreanClassifier, Result
from .factories import register_component
from .registry import SENTIMENT
from .scoring import prefixed_cats_scorer
from .settings import SentimentSettings
from .spec import ComponentSpec

DEFAULT_MODEL = "cringepnh/koelectra-korean-sentiment"

SPEC = ComponentSpec(
    factory=SENTIMENT,
    task=answers.SENTIMENT,
    extension="sentiment",
    attribution_extension="sentiment_attribution",
    settings=SentimentSettings,
    default_model=DEFAULT_MODEL,
    scorer="spacy_korsent.sentiment_scorer.v1",
    score_weight="sentiment_score",
)

_CANONICAL = {
    "negative": "negative", "neg": "negative", "부정": "negative", "0": "negative",
    "positive": "positive", "pos": "positive", "긍정": "positive", "1": "positive",
}  # fmt: skip


def canonical_sentiment(names: list[str]) -> Optional[list[str]]:
    """negative/positive in the order of ``names`` where they say so (any case, 부정/긍정)."""
    canonical = [_CANONICAL.get(name.strip().lower()) for name in names]
    if len(canonical) == 2 and None not in canonical and canonical[0] != canonical[1]:
        return [str(name) for name in canonical]
    return None


class SentimentClassifier(KoreanClassifier):
    """Sets ``doc._.sentiment = {"label", "score", "scores"}`` (and ``doc.cats``)."""

    spec = SPEC

    def read_labels(self, config: Any) -> list[str]:
        """``labels`` if given; else negative/positive by index (1 = positive, as in the card).

        Model names that say negative/positive (any case, or 부정/긍정) are followed even when the
        model orders them the other way; other real names are kept as they are, for up to six
        classes (a model that names them, such as negative/neutral/positive); more classes, or
        unnamed ones (``LABEL_i``), need the labels option.
        """
        n_labels = config.num_labels
        given = self.settings.labels
        if given is not None:
            if len(given) != n_labels:
                raise ValueError(
                    f"{self.name}: labels has {len(given)} names ({given}) but the model "
                    f"{self.cfg['source']!r} has {n_labels} classes."
                )
            return list(given)
        names = [str(config.id2label[i]) for i in range(n_labels)]
        named = not any(name == f"LABEL_{i}" for i, name in enumerate(names))
        if named and 3 <= n_labels <= 6:
            return names  # e.g. negative/neutral/positive, as spacy train saves them
        if n_labels != 2:
            hint = " It looks like an emotion model: use korean_emotion." if n_labels >= 7 else ""
            raise ValueError(
                f"{self.name}: the model {self.cfg['source']!r} has {n_labels} classes, but "
                f"korean_sentiment expects a negative/positive model.{hint} For a model with "
                "other classes, give their names in the labels option."
            )
        if names == ["LABEL_0", "LABEL_1"]:
            return ["negative", "positive"]
        return canonical_sentiment(names) or names

    @property
    def answer_kind(self) -> AnswerKind:
        """Two-class, two-class with a neutral band, or n-class."""
        return sentiment_kind(self.labels, band=self.calibration.neutral_band is not None)

    def make_result(self, probs: np.ndarray) -> Result:
        """The top class, or ``"neutral"`` with a score of None where p(positive) lies in the
        band: the model gives no probability of neutral (``scores`` has what it gave)."""
        scores = {label: float(p) for label, p in zip(self.labels, probs)}
        band = self.calibration.neutral_band
        if band is not None and band.low <= scores["positive"] < band.high:
            return {"label": NEUTRAL, "score": None, "scores": scores}
        best = int(probs.argmax())
        return {"label": self.labels[best], "score": float(probs[best]), "scores": scores}

    def cats(self, probs: np.ndarray, result: Result) -> dict[str, float]:
        """The probabilities and, with a neutral band, ``"neutral"``: 1.0 when the answer is
        neutral, else 0.0 (a decision, not a probability), so the best cat is the answer."""
        cats = super().cats(probs, result)
        if self.calibration.neutral_band is not None:
            cats[NEUTRAL] = float(result["label"] == NEUTRAL)
        return cats

    def check_calibration(self, calibration: Calibration) -> None:
        if may_have_band(self.labels):
            calibration = dataclasses.replace(calibration, neutral_band=None)
        super().check_calibration(calibration)

    def scoring_options(self) -> dict[str, Any]:
        """With a band: three-way scores (macro-F1 as ``sentiment_score``)."""
        if self.calibration.neutral_band is None:
            return {}
        return {"labels": list(self.answer_kind.decision_labels), "positive_label": None}


make_sentiment = register_component(SentimentClassifier)


@registry.scorers("spacy_korsent.sentiment_scorer.v1")
def make_sentiment_scorer(textcat_keys: bool = False) -> Callable[..., dict[str, Any]]:
    """Cats scores under ``sentiment_*``; ``sentiment_score`` is the positive class's F1. With
    ``textcat_keys`` also under ``cats_*``, which ``spacy evaluate`` prints."""
    return prefixed_cats_scorer("sentiment", textcat_keys)
