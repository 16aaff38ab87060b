"""Token attributions on spaCy docs: the extensions that hold them and the step that sets them.

The values are stored as plain lists of floats under ``Doc._._<name>`` (one per token of the doc)
and ``Span._._<name>`` (one per token of a classified sentence), so they travel with
``DocBin(store_user_data=True)``, ``doc.to_bytes()`` and ``nlp.pipe(n_process=2)``. Getters read
them: ``doc._.<name>``, ``span._.<name>`` (a list, or None) and ``token._.<name>`` (a float, or
None), each signed towards the label the component predicted for the doc or the sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional, Union

from spacy.tokens import Doc, Span, Token

from ..inference.engine import WindowClassifier
from .attribution import attribute


def register_attribution_extension(name: str) -> None:
    """``Doc``/``Span``/``Token`` getters named ``name`` over the plain lists kept in ``_name``."""
    stored = f"_{name}"
    if Doc.has_extension(name):
        return
    for cls in (Doc, Span):
        cls.set_extension(stored, default=None)
        cls.set_extension(name, getter=lambda obj: _as_list(obj._.get(stored)))
    Token.set_extension(name, getter=lambda token: _at(token.doc._.get(stored), token.i))


def _as_list(values: Optional[Sequence[float]]) -> Optional[list[float]]:
    # DocBin and worker processes hand lists back as tuples.
    return None if values is None else list(values)


def _at(values: Optional[Sequence[float]], index: int) -> Optional[float]:
    return None if values is None else values[index]


def explain_docs(
    docs: Sequence[Doc],
    classifier: WindowClassifier,
    *,
    labels: Sequence[str],
    prediction: str,
    attribution: str,
    method: str,
    sentences: bool,
    **options: Any,
) -> None:
    """Set the ``attribution`` extension of each doc (and sentence) that has a prediction.

    ``prediction`` names the extension with the component's result (its ``label`` is the target);
    a doc or sentence without a label (no text for the model) gets None.
    """
    targets: list[Union[Doc, Span]] = []
    for doc in docs:
        targets.append(doc)
        if sentences and doc.has_annotation("SENT_START"):
            targets.extend(doc.sents)
    stored = f"_{attribution}"
    explained, texts, offsets, classes = [], [], [], []
    for target in targets:
        label = (target._.get(prediction) or {}).get("label")
        target._.set(stored, None)
        if label is None:
            continue
        start = target.start_char if isinstance(target, Span) else 0
        explained.append(target)
        texts.append(target.text)
        offsets.append([(t.idx - start, t.idx - start + len(t.text)) for t in target])
        classes.append(labels.index(label))
    if not explained:
        return
    values = attribute(method, classifier, texts, offsets, classes, **options)
    for target, per_token in zip(explained, values):
        target._.set(stored, per_token.tolist())
