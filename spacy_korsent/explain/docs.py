"""Token attributions on spaCy docs: the extensions that hold them, and how docs are explained.

The values are stored as plain lists of floats under ``Doc._._<name>`` (one per token of the doc)
and ``Span._._<name>`` (one per token of a classified sentence), so they travel with
``DocBin(store_user_data=True)``, ``doc.to_bytes()`` and ``nlp.pipe(n_process=2)``. Getters read
them: ``doc._.<name>``, ``span._.<name>`` (a list, or None) and ``token._.<name>`` (a float, or
None), each signed towards the label the component predicted for the doc or the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Optional, Protocol, Union

import numpy as np
from spacy.tokens import Doc, Span, Token

from ..inference.engine import WindowClassifier
from .attribution import attribute

Values = Optional[list[float]]


class Attributions(NamedTuple):
    """A doc's token attributions and its sentences' (None where there was no text)."""

    doc: Values
    sentences: list[Values]


class Prediction(Protocol):
    """A doc's probabilities and its sentences' (a component's ``DocPrediction``)."""

    @property
    def doc(self) -> Optional[np.ndarray]: ...

    @property
    def sentences(self) -> Sequence[Optional[np.ndarray]]: ...


def register_attribution_extension(name: str) -> None:
    """``Doc``/``Span``/``Token`` getters named ``name`` over the plain lists kept in ``_name``."""
    stored = f"_{name}"
    if Doc.has_extension(name):
        return
    for cls in (Doc, Span):
        cls.set_extension(stored, default=None)
        cls.set_extension(name, getter=lambda obj: _as_list(obj._.get(stored)))
    Token.set_extension(name, getter=lambda token: _at(token.doc._.get(stored), token.i))


def _as_list(values: Optional[Sequence[float]]) -> Values:
    # DocBin and worker processes hand lists back as tuples.
    return None if values is None else list(values)


def _at(values: Optional[Sequence[float]], index: int) -> Optional[float]:
    return None if values is None else values[index]


def attribute_docs(
    engine: WindowClassifier,
    docs: Sequence[Doc],
    predictions: Sequence[Prediction],
    *,
    method: str,
    **options: Any,
) -> list[Attributions]:
    """Attributions towards each doc's and each sentence's most probable label.

    ``predictions[i]`` holds doc ``i``'s probabilities and, when its sentences were classified,
    theirs; None means no text, and gets no attributions.
    """
    spans: list[Union[Doc, Span]] = []
    targets: list[int] = []
    for doc, prediction in zip(docs, predictions):
        sentences = doc.sents if prediction.sentences else ()
        pairs: list[tuple[Union[Doc, Span], Optional[np.ndarray]]] = [
            (doc, prediction.doc),
            *zip(sentences, prediction.sentences),
        ]
        for span, span_probs in pairs:
            if span_probs is not None:
                spans.append(span)
                targets.append(int(np.argmax(span_probs)))
    texts = [span.text for span in spans]
    offsets = [_token_offsets(span) for span in spans]
    found = iter(attribute(method, engine, texts, offsets, targets, **options) if spans else ())
    return [
        Attributions(
            None if prediction.doc is None else next(found).tolist(),
            [None if probs is None else next(found).tolist() for probs in prediction.sentences],
        )
        for prediction in predictions
    ]


def _token_offsets(span: Union[Doc, Span]) -> list[tuple[int, int]]:
    """The span's tokens as character offsets into ``span.text``."""
    start = span.start_char if isinstance(span, Span) else 0
    return [(t.idx - start, t.idx - start + len(t.text)) for t in span]


def store_attributions(doc: Doc, attributions: Attributions, name: str) -> None:
    """Keep the values on the doc (and its sentences) as plain lists under ``_name``."""
    doc._.set(f"_{name}", attributions.doc)
    if attributions.sentences:
        for sent, values in zip(doc.sents, attributions.sentences):
            sent._.set(f"_{name}", values)
