"""The ``korean_emotion`` component: emotions in ``doc._.emotions``, from any emotion classifier.

The default model predicts the 60 emotions of AI Hub's 감성대화말뭉치 in six groups
(:mod:`spacy_korsent.taxonomy`). Any other classifier runs too: its labels come from its
``id2label`` (or the ``labels`` option); a multi-label model (KOTE's 44 emotions, say) scores each
label with a sigmoid, decided by the model config's ``problem_type`` or the ``multi_label`` option;
the ``groups`` option maps labels to groups of one's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
from spacy.util import registry

from .. import answers
from ..answers import AnswerKind, emotion_kind
from ..calibration import Calibration
from ..taxonomy import EMOTIONS, GROUP_NAMES, GROUP_SIZE, LABELS
from .classifier import KoreanClassifier, Result
from .factories import register_component
from .registry import EMOTION
from .scoring import prefixed_cats_scorer
from .sentiment import canonical_sentiment
from .settings import EmotionCfg, EmotionSettings
from .spec import ComponentSpec

DEFAULT_MODEL = "hun3359/klue-bert-base-sentiment"
MULTI_LABEL_THRESHOLD = 0.5
"""The score at or above which a multi-label model's label is predicted, unless ``threshold``."""

_GLOSSES = {emotion.label: emotion.gloss for emotion in EMOTIONS}

SPEC = ComponentSpec(
    factory=EMOTION,
    task=answers.EMOTION,
    extension="emotions",
    attribution_extension="emotion_attribution",
    settings=EmotionSettings,
    default_model=DEFAULT_MODEL,
    scorer="spacy_korsent.emotion_scorer.v1",
    score_weight="emotion_score",
    saved_cfg=EmotionCfg,
)


class EmotionClassifier(KoreanClassifier):
    """Sets ``doc._.emotions = {"label", "score", "labels", "group", "top", "groups"}`` (and
    ``doc.cats``)."""

    spec = SPEC
    settings: EmotionSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        threshold = self.settings.threshold
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
        given = self.settings.labels
        if given is not None:
            if len(given) != n_labels:
                raise ValueError(
                    f"{self.name}: labels has {len(given)} names but the model "
                    f"{source!r} has {n_labels} classes."
                )
            names = list(given)
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
        if given is None and (
            names == ["LABEL_0", "LABEL_1"] or canonical_sentiment(names) is not None
        ):
            raise ValueError(
                f"{self.name}: the model {source!r} has 2 classes ({', '.join(names)}): it looks "
                "like a sentiment model; use korean_sentiment (or name its classes with the "
                "labels option)."
            )
        unknown = set(self.settings.groups or ()) - set(names)
        if unknown:
            raise ValueError(
                f"{self.name}: groups names labels the model {source!r} does not have: "
                f"{sorted(unknown)}; its labels are {names}."
            )
        return names

    @property
    def answer_kind(self) -> AnswerKind:
        """Single-label (with groups where known) or multi-label at per-label cuts."""
        return emotion_kind(self.labels, self.multi_label)

    def make_result(self, probs: np.ndarray) -> Result:
        ranked = np.argsort(-probs, kind="stable")
        best = int(ranked[0])
        groups = self._group_scores(probs)
        if self.multi_label:
            cuts = self.label_thresholds
            chosen = [self.labels[i] for i in ranked if probs[i] >= cuts[self.labels[i]]]
        else:
            chosen = [self.labels[best]]
        return {
            "label": self.labels[best],
            "score": float(probs[best]),
            "labels": chosen,
            "group": max(groups, key=groups.__getitem__) if groups else None,
            "top": [
                self._describe(int(i), float(probs[i]))
                for i in ranked[: self.settings.top_k]
                if self.settings.threshold is None or probs[i] >= self.settings.threshold
            ],
            "groups": groups,
        }

    @property
    def label_thresholds(self) -> dict[str, float]:
        """Each label's threshold (multi-label models): its own (``thresholds``), else
        ``threshold``."""
        own = self.calibration.thresholds or {}
        return {label: own.get(label, self.cfg["threshold"]) for label in self.labels}

    def check_calibration(self, calibration: Calibration) -> None:
        own = calibration.thresholds
        if own is not None and self.multi_label:
            unknown = sorted(set(own) - set(self.labels))
            if unknown:
                raise ValueError(
                    f"{self.name}: thresholds names labels the model {self.model_name!r} does "
                    f"not have: {unknown}."
                )
            calibration = dataclasses.replace(calibration, thresholds=None)
        super().check_calibration(calibration)

    def scoring_options(self) -> dict[str, Any]:
        """With thresholds of its own: each label's, for the scorer."""
        if not self.multi_label or not self.calibration.thresholds:
            return {}
        return {"thresholds": self.label_thresholds}

    def _describe(self, index: int, score: float) -> dict[str, Any]:
        """One ``top`` entry; the same four keys for every model (None where not known), so rows
        from different models share one schema (Arrow, Parquet, DataFrames)."""
        label = self.labels[index]
        if self.taxonomy:
            return {**EMOTIONS[index]._asdict(), "score": score}
        group = self.settings.groups.get(label) if self.settings.groups else None
        return {"label": label, "gloss": _GLOSSES.get(label), "group": group, "score": score}

    def _group_scores(self, probs: np.ndarray) -> dict[str, float]:
        """Each group's probability mass (single-label) or best label's score (multi-label)."""
        if self.taxonomy and not self.settings.groups:
            masses = probs.reshape(len(GROUP_NAMES), GROUP_SIZE).sum(axis=1)
            return {name: float(mass) for name, mass in zip(GROUP_NAMES, masses)}
        scores: dict[str, float] = {}
        for label, group in (self.settings.groups or {}).items():
            p = float(probs[self.labels.index(label)])
            previous = scores.get(group, 0.0)
            scores[group] = max(previous, p) if self.multi_label else previous + p
        return scores


make_emotion = register_component(EmotionClassifier)


@registry.scorers("spacy_korsent.emotion_scorer.v1")
def make_emotion_scorer(textcat_keys: bool = False) -> Callable[..., dict[str, Any]]:
    """Cats scores under ``emotion_*``: macro F1 over the labels as ``emotion_score``, or for a
    multi-label model the F1s at ``threshold``. With ``textcat_keys`` also under ``cats_*``,
    which ``spacy evaluate`` prints."""
    return prefixed_cats_scorer("emotion", textcat_keys)
