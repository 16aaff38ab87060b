"""The ``korean_sentiment`` component: binary NSMC sentiment in ``doc._.sentiment``."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
from spacy.language import Language
from spacy.util import registry

from .classifier import SHARED_DEFAULTS, KoreanClassifier, Result, prefixed_cats_scorer

DEFAULT_MODEL = "cringepnh/koelectra-korean-sentiment"

_CANONICAL = {
    "negative": "negative", "neg": "negative", "부정": "negative", "0": "negative",
    "positive": "positive", "pos": "positive", "긍정": "positive", "1": "positive",
}  # fmt: skip


class SentimentClassifier(KoreanClassifier):
    """Sets ``doc._.sentiment = {"label", "score", "scores"}`` (and ``doc.cats``)."""

    extension = "sentiment"

    def __init__(self, nlp: Language, name: str, *, labels: Optional[list[str]], **settings: Any):
        super().__init__(nlp, name, **settings)
        self.label_override = list(labels) if labels else None

    def read_labels(self, model: Any) -> list[str]:
        """``labels`` if given; else negative/positive by index (1 = positive, as in the card).

        Model names that say negative/positive (any case, or 부정/긍정) are followed even when the
        model orders them the other way; other real names are kept as they are.
        """
        n_labels = model.config.num_labels
        if self.label_override is not None:
            if len(self.label_override) != n_labels:
                raise ValueError(
                    f"{self.name}: labels has {len(self.label_override)} names "
                    f"({self.label_override}) but the model {self.model_name!r} has "
                    f"{n_labels} classes."
                )
            return self.label_override
        if n_labels != 2:
            hint = ""
            if n_labels == 60:
                hint = " It looks like an emotion model: use korean_emotion."
            raise ValueError(
                f"{self.name}: the model {self.model_name!r} has {n_labels} classes, but "
                f"korean_sentiment expects a binary negative/positive model.{hint} "
                "For a model with "
                "other classes, give their names in the labels option."
            )
        names = [str(model.config.id2label[i]) for i in range(2)]
        if names == ["LABEL_0", "LABEL_1"]:
            return ["negative", "positive"]
        canonical = [_CANONICAL.get(name.strip().lower()) for name in names]
        if None not in canonical and canonical[0] != canonical[1]:
            return [str(name) for name in canonical]
        return names

    def make_result(self, probs: np.ndarray) -> Result:
        best = int(probs.argmax())
        return {
            "label": self.labels[best],
            "score": float(probs[best]),
            "scores": {label: float(p) for label, p in zip(self.labels, probs)},
        }

    def empty_result(self) -> Result:
        return {"label": None, "score": None, "scores": {}}


@Language.factory(
    "korean_sentiment",
    default_config={
        "model": DEFAULT_MODEL,
        "labels": None,
        **SHARED_DEFAULTS,
        "scorer": {"@scorers": "spacy_korsent.sentiment_scorer.v1"},
    },
    default_score_weights={"sentiment_score": 1.0},
)
def make_sentiment(
    nlp: Language,
    name: str,
    model: str,
    labels: Optional[list[str]],
    max_length: int,
    stride: int,
    truncate: bool,
    batch_tokens: int,
    buffer_size: int,
    device: Optional[str],
    dtype: str,
    n_threads: Optional[int],
    backend: str,
    quantize: bool,
    sentences: bool,
    set_cats: bool,
    scorer: Optional[Callable[..., dict[str, Any]]],
) -> SentimentClassifier:
    return SentimentClassifier(**locals())


@registry.scorers("spacy_korsent.sentiment_scorer.v1")
def make_sentiment_scorer() -> Callable[..., dict[str, Any]]:
    """Cats scores under ``sentiment_*``; ``sentiment_score`` is the positive class's F1."""
    return prefixed_cats_scorer("sentiment")
