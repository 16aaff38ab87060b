"""Scorers that keep the two components' scores apart in one ``nlp.evaluate()``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from spacy.scorer import Scorer
from spacy.tokens import Doc
from spacy.training import Example


def prefixed_cats_scorer(prefix: str, textcat_keys: bool = False) -> Callable[..., dict[str, Any]]:
    """``Scorer.score_cats`` over the component's own labels, under keys starting ``prefix_``.

    Both components write ``doc.cats``; each scores only its labels (``Pipe.score`` passes them
    with the rest of the component's ``cfg``: ``multi_label``, ``positive_label``, ``threshold``,
    and what the component's ``scoring_options`` adds: the three labels of a sentiment component
    with a neutral band, the ``thresholds`` of a multi-label one). With ``textcat_keys`` the scores
    also go under spaCy's textcat keys (``cats_score``, ``cats_f_per_type``, ...), the only ones of
    a text classifier that ``spacy evaluate`` prints; two components that do so (or one beside
    spaCy's textcat) overwrite each other's.
    """

    def score(examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        examples = list(examples)
        thresholds = kwargs.pop("thresholds", None)
        if thresholds:  # a multi-label component with a threshold per label
            predicted = {id(example.predicted) for example in examples}
            kwargs.update(getter=_at_thresholds(thresholds, predicted), threshold=0.5)
        scores = Scorer.score_cats(examples, "cats", **kwargs)
        prefixed = {prefix + key[len("cats") :]: value for key, value in scores.items()}
        return {**scores, **prefixed} if textcat_keys else prefixed

    return score


def _at_thresholds(
    thresholds: dict[str, float], predicted: set[int]
) -> Callable[[Doc, str], dict[str, float]]:
    """A getter of the ``predicted`` docs' cats that puts each label's threshold at 0.5.

    The map is piecewise linear and increasing per label, so that precision, recall and F1 at 0.5
    are those at the label's own threshold, and each label's ROC AUC stays what it is.
    """

    def rescaled(label: str, score: float) -> float:
        cut = thresholds.get(label)
        if cut is None or cut <= 0.0 or cut >= 1.0:
            return score if cut is None else float(score >= cut)
        return 0.5 * score / cut if score < cut else 0.5 + 0.5 * (score - cut) / (1.0 - cut)

    def getter(doc: Doc, attr: str) -> dict[str, float]:
        cats = getattr(doc, attr)
        if id(doc) in predicted:
            return {label: rescaled(label, score) for label, score in cats.items()}
        return cats

    return getter
