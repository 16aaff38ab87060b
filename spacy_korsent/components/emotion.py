"""The ``korean_emotion`` component: 60 fine emotions in six groups in ``doc._.emotions``."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
from spacy.language import Language
from spacy.util import registry

from ..taxonomy import EMOTIONS, GROUP_NAMES, GROUP_SIZE, LABELS
from .classifier import SHARED_DEFAULTS, KoreanClassifier, Result, prefixed_cats_scorer

DEFAULT_MODEL = "hun3359/klue-bert-base-sentiment"


class EmotionClassifier(KoreanClassifier):
    """Sets ``doc._.emotions = {"label", "score", "group", "top", "groups"}`` (and ``doc.cats``)."""

    extension = "emotions"

    def __init__(
        self, nlp: Language, name: str, *, top_k: int, threshold: Optional[float], **settings: Any
    ):
        if top_k < 1:
            raise ValueError(f"{name}: top_k must be at least 1, not {top_k}.")
        super().__init__(nlp, name, **settings)
        self.top_k = top_k
        self.threshold = threshold

    def read_labels(self, model: Any) -> list[str]:
        """The taxonomy's 60 labels; a model with other classes is refused."""
        n_labels = model.config.num_labels
        if n_labels != len(LABELS):
            hint = ""
            if n_labels == 2:
                hint = " It looks like a sentiment model: use korean_sentiment."
            raise ValueError(
                f"{self.name}: the model {self.model_name!r} has {n_labels} classes, but "
                f"korean_emotion expects the {len(LABELS)} emotions of the AI Hub "
                f"감성대화말뭉치 taxonomy.{hint}"
            )
        for index, expected in enumerate(LABELS):
            name = str(model.config.id2label[index])
            if name not in (expected, f"LABEL_{index}"):
                raise ValueError(
                    f"{self.name}: class {index} of {self.model_name!r} is {name!r}, but the "
                    f"taxonomy has {expected!r} there; the model's labels are in another order."
                )
        return list(LABELS)

    def make_result(self, probs: np.ndarray) -> Result:
        ranked = np.argsort(-probs, kind="stable")[: self.top_k]
        groups = probs.reshape(len(GROUP_NAMES), GROUP_SIZE).sum(axis=1)
        best = int(ranked[0])
        return {
            "label": LABELS[best],
            "score": float(probs[best]),
            "group": GROUP_NAMES[int(groups.argmax())],
            "top": [
                {**EMOTIONS[i]._asdict(), "score": float(probs[i])}
                for i in ranked
                if self.threshold is None or probs[i] >= self.threshold
            ],
            "groups": {name: float(mass) for name, mass in zip(GROUP_NAMES, groups)},
        }

    def empty_result(self) -> Result:
        return {"label": None, "score": None, "group": None, "top": [], "groups": {}}


@Language.factory(
    "korean_emotion",
    default_config={
        "model": DEFAULT_MODEL,
        "top_k": 3,
        "threshold": None,
        **SHARED_DEFAULTS,
        "scorer": {"@scorers": "spacy_korsent.emotion_scorer.v1"},
    },
    default_score_weights={"emotion_score": 1.0},
)
def make_emotion(
    nlp: Language,
    name: str,
    model: str,
    top_k: int,
    threshold: Optional[float],
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
) -> EmotionClassifier:
    return EmotionClassifier(**locals())


@registry.scorers("spacy_korsent.emotion_scorer.v1")
def make_emotion_scorer() -> Callable[..., dict[str, Any]]:
    """Cats scores over the 60 fine labels under ``emotion_*`` (``emotion_score`` is macro F1)."""
    return prefixed_cats_scorer("emotion")
