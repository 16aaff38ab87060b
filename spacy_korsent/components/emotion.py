"""The ``korean_emotion`` component: emotions in ``doc._.emotions``, from any emotion classifier.

The default model predicts the 60 emotions of AI Hub's 감성대화말뭉치 in six groups
(:mod:`spacy_korsent.taxonomy`). Any other classifier runs too: its labels come from its
``id2label`` (or the ``labels`` option); a multi-label model (KOTE's 44 emotions, say) scores each
label with a sigmoid, decided by the model config's ``problem_type`` or the ``multi_label`` option;
the ``groups`` option maps labels to groups of one's own.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
from spacy.language import Language
from spacy.util import registry

from ..taxonomy import EMOTIONS, GROUP_NAMES, GROUP_SIZE, LABELS
from .classifier import SHARED_DEFAULTS, KoreanClassifier, Result, make_component
from .scoring import prefixed_cats_scorer
from .sentiment import canonical_sentiment

DEFAULT_MODEL = "hun3359/klue-bert-base-sentiment"
MULTI_LABEL_THRESHOLD = 0.5
"""The score at or above which a multi-label model's label is predicted, unless ``threshold``."""

_GLOSSES = {emotion.label: emotion.gloss for emotion in EMOTIONS}


class EmotionClassifier(KoreanClassifier):
    """Sets ``doc._.emotions = {"label", "score", "labels", "group", "top", "groups"}`` (and
    ``doc.cats``)."""

    extension = "emotions"
    attribution_extension = "emotion_attribution"

    def __init__(
        self,
        *args: Any,
        top_k: int,
        threshold: Optional[float],
        groups: Optional[dict[str, str]],
        **settings: Any,
    ) -> None:
        name = args[2]
        if top_k < 1:
            raise ValueError(f"{name}: top_k must be at least 1, not {top_k}.")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"{name}: threshold must lie between 0 and 1, not {threshold}.")
        super().__init__(*args, **settings)
        self.top_k = top_k
        self.threshold = threshold
        self.groups_setting = dict(groups) if groups else None
        self.cfg["threshold"] = MULTI_LABEL_THRESHOLD if threshold is None else threshold

    settings_in_cfg = ("threshold",)

    @property
    def taxonomy(self) -> bool:
        """Whether the labels are the 60 of the default model (with their glosses and groups)."""
        return self.labels == LABELS

    def read_labels(self, config: Any) -> list[str]:
        """``labels`` if given, else the model's ``id2label``.

        A 60-class model named with the taxonomy's labels (or ``LABEL_i``) must have them in the
        taxonomy's order; a binary negative/positive model belongs in korean_sentiment.
        """
        n_labels = config.num_labels
        source = self.cfg["source"]
        if self.label_names is not None:
            if len(self.label_names) != n_labels:
                raise ValueError(
                    f"{self.name}: labels has {len(self.label_names)} names but the model "
                    f"{source!r} has {n_labels} classes."
                )
            names = list(self.label_names)
        else:
            names = [str(config.id2label[i]) for i in range(n_labels)]
        if n_labels == len(LABELS) and set(names) <= {*LABELS, *(f"LABEL_{i}" for i in range(60))}:
            for index, (name, expected) in enumerate(zip(names, LABELS)):
                if name not in (expected, f"LABEL_{index}"):
                    raise ValueError(
                        f"{self.name}: class {index} of {source!r} is {name!r}, but the "
                        f"taxonomy has {expected!r} there; the model's labels are in another order."
                    )
            names = list(LABELS)
        if self.label_names is None and (
            names == ["LABEL_0", "LABEL_1"] or canonical_sentiment(names) is not None
        ):
            raise ValueError(
                f"{self.name}: the model {source!r} has 2 classes ({', '.join(names)}): it looks "
                "like a sentiment model; use korean_sentiment (or name its classes with the "
                "labels option)."
            )
        unknown = set(self.groups_setting or ()) - set(names)
        if unknown:
            raise ValueError(
                f"{self.name}: groups names labels the model {source!r} does not have: "
                f"{sorted(unknown)}; its labels are {names}."
            )
        return names

    def make_result(self, probs: np.ndarray) -> Result:
        ranked = np.argsort(-probs, kind="stable")
        best = int(ranked[0])
        groups = self._group_scores(probs)
        if self.multi_label:
            chosen = [self.labels[i] for i in ranked if probs[i] >= self.cfg["threshold"]]
        else:
            chosen = [self.labels[best]]
        return {
            "label": self.labels[best],
            "score": float(probs[best]),
            "labels": chosen,
            "group": max(groups, key=groups.__getitem__) if groups else None,
            "top": [
                self._describe(int(i), float(probs[i]))
                for i in ranked[: self.top_k]
                if self.threshold is None or probs[i] >= self.threshold
            ],
            "groups": groups,
        }

    def _describe(self, index: int, score: float) -> dict[str, Any]:
        """One ``top`` entry; the same four keys for every model (None where not known), so rows
        from different models share one schema (Arrow, Parquet, DataFrames)."""
        label = self.labels[index]
        if self.taxonomy:
            return {**EMOTIONS[index]._asdict(), "score": score}
        group = self.groups_setting.get(label) if self.groups_setting else None
        return {"label": label, "gloss": _GLOSSES.get(label), "group": group, "score": score}

    def _group_scores(self, probs: np.ndarray) -> dict[str, float]:
        """Each group's probability mass (single-label) or best label's score (multi-label)."""
        if self.taxonomy and not self.groups_setting:
            masses = probs.reshape(len(GROUP_NAMES), GROUP_SIZE).sum(axis=1)
            return {name: float(mass) for name, mass in zip(GROUP_NAMES, masses)}
        scores: dict[str, float] = {}
        for label, group in (self.groups_setting or {}).items():
            p = float(probs[self.labels.index(label)])
            previous = scores.get(group, 0.0)
            scores[group] = max(previous, p) if self.multi_label else previous + p
        return scores

    def empty_result(self) -> Result:
        return {"label": None, "score": None, "labels": [], "group": None, "top": [], "groups": {}}


@Language.factory(
    "korean_emotion",
    assigns=["doc._.emotions", "span._.emotions", "doc.cats"],
    default_config={
        "model": DEFAULT_MODEL,
        "top_k": 3,
        "threshold": None,
        "multi_label": None,
        "groups": None,
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
    multi_label: Optional[bool],
    groups: Optional[dict[str, str]],
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
    mixed_precision: bool,
    grad_scaler_config: dict,
    scorer: Optional[Callable[..., dict[str, Any]]],
    explain: bool,
    explain_method: str,
    explain_steps: int,
) -> EmotionClassifier:
    return make_component(EmotionClassifier, **locals())


@registry.scorers("spacy_korsent.emotion_scorer.v1")
def make_emotion_scorer(textcat_keys: bool = False) -> Callable[..., dict[str, Any]]:
    """Cats scores under ``emotion_*``: macro F1 over the labels as ``emotion_score``, or for a
    multi-label model the F1s at ``threshold``. With ``textcat_keys`` also under ``cats_*``,
    which ``spacy evaluate`` prints."""
    return prefixed_cats_scorer("emotion", textcat_keys)
