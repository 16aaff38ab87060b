"""Scorers that keep the two components' scores apart in one ``nlp.evaluate()``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from spacy.scorer import Scorer
from spacy.training import Example


def prefixed_cats_scorer(prefix: str) -> Callable[..., dict[str, Any]]:
    """``Scorer.score_cats`` over the component's own labels, under keys starting ``prefix_``.

    Both components write ``doc.cats``; each scores only its labels (``Pipe.score`` passes them
    with the rest of the component's ``cfg``: ``multi_label``, ``positive_label``, ``threshold``).
    """

    def score(examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        scores = Scorer.score_cats(examples, "cats", **kwargs)
        return {prefix + key[len("cats") :]: value for key, value in scores.items()}

    return score
