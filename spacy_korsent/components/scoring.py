"""Scorers that keep the two components' scores apart in one ``nlp.evaluate()``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

from spacy.scorer import Scorer
from spacy.training import Example


def prefixed_cats_scorer(prefix: str, textcat_keys: bool = False) -> Callable[..., dict[str, Any]]:
    """``Scorer.score_cats`` over the component's own labels, under keys starting ``prefix_``.

    Both components write ``doc.cats``; each scores only its labels (``Pipe.score`` passes them
    with the rest of the component's ``cfg``: ``multi_label``, ``positive_label``, ``threshold``).
    With ``textcat_keys`` the scores also go under spaCy's textcat keys (``cats_score``,
    ``cats_f_per_type``, ...), the only ones of a text classifier that ``spacy evaluate`` prints;
    two components that do so (or one beside spaCy's textcat) overwrite each other's.
    """

    def score(examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        scores = Scorer.score_cats(examples, "cats", **kwargs)
        prefixed = {prefix + key[len("cats") :]: value for key, value in scores.items()}
        return {**scores, **prefixed} if textcat_keys else prefixed

    return score
