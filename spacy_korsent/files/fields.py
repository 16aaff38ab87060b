"""The fields ``korsent analyze`` writes for a document, whichever engine ran the pipeline.

The local run, the Ray engine and the Ray integration all turn an analysed doc into these flat,
plain-data fields (and check a row's text the same way), so that their outputs have the same
columns, values, types and warnings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import pyarrow as pa
    from spacy.language import Language
    from spacy.tokens import Doc, Span

from ..components.registry import EMOTION as EMOTION_FACTORY
from ..components.registry import SENTIMENT as SENTIMENT_FACTORY


def checked_text(value: object, column: str) -> tuple[str, Optional[str]]:
    """A row's text to analyse, and why it cannot be (None when it can).

    A value that is not a string gives ``""`` (empty results) and a problem that follows
    "FILE:LINE: " in a warning.
    """
    if isinstance(value, str):
        return value, None
    what = "no" if value is None else f"a {type(value).__name__}, not a string, as"
    return "", f"{what} {column!r}; written with empty results."


class ResultFields:
    """The fields a pipeline's components fill: which ones, their values for a doc, their types.

    Components are found by factory, so a pipeline saved under other component names works too.
    """

    def __init__(self, nlp: Language) -> None:
        pipes: dict[str, Any] = {
            nlp.get_pipe_meta(name).factory: nlp.get_pipe(name) for name in nlp.pipe_names
        }
        sentiment = pipes.get(SENTIMENT_FACTORY)
        emotion = pipes.get(EMOTION_FACTORY)
        ours = [pipe for pipe in (sentiment, emotion) if pipe is not None]
        self.sentiment_labels = tuple(sentiment.labels) if sentiment is not None else None
        self.emotion = emotion is not None
        self.sentences = any(pipe.settings.sentences for pipe in ours)
        self.kinds = self._kinds()
        """Each field, in the order it is added to a row, with what it holds."""

    @property
    def names(self) -> list[str]:
        """The fields, in the order they are added to a row."""
        return list(self.kinds)

    @property
    def details(self) -> set[str]:
        """Fields too wide or too many for a table on a terminal."""
        labels = self.sentiment_labels or ()
        return {*(f"sentiment_{label}" for label in labels), "emotions_top", "sentences"}

    def of(self, doc: Doc) -> dict[str, Any]:
        """A doc's fields: its results and, with sentences, a list of each sentence's results."""
        fields = self._results(doc)
        if self.sentences:
            sents = doc.sents if doc.has_annotation("SENT_START") else ()
            fields["sentences"] = [
                {"text": s.text, "start": s.start_char, "end": s.end_char, **self._results(s)}
                for s in sents
            ]
        return fields

    def _results(self, target: Doc | Span) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.sentiment_labels is not None:
            sentiment = target._.sentiment or {}
            scores = sentiment.get("scores") or {}
            fields["sentiment"] = sentiment.get("label")
            fields["sentiment_score"] = sentiment.get("score")
            fields.update(
                {f"sentiment_{label}": scores.get(label) for label in self.sentiment_labels}
            )
        if self.emotion:
            emotions = target._.emotions or {}
            fields["emotion"] = emotions.get("label")
            fields["emotion_score"] = emotions.get("score")
            fields["emotion_labels"] = emotions.get("labels", [])
            fields["emotion_group"] = emotions.get("group")
            fields["emotions_top"] = emotions.get("top", [])
        return fields

    def _kinds(self) -> dict[str, str]:
        """Each field with what it holds: a label, a score, the predicted emotions (a list), the
        top emotions, the sentences."""
        kinds: dict[str, str] = {}
        if self.sentiment_labels is not None:
            kinds.update({"sentiment": "label", "sentiment_score": "score"})
            kinds.update({f"sentiment_{label}": "score" for label in self.sentiment_labels})
        if self.emotion:
            kinds.update({"emotion": "label", "emotion_score": "score", "emotion_labels": "labels"})
            kinds["emotion_group"] = "label"
            kinds["emotions_top"] = "top"
        if self.sentences:
            kinds["sentences"] = "sentences"
        return kinds

    def arrow_types(self) -> dict[str, pa.DataType]:
        """Each field's Apache Arrow type, for columnar outputs (needs pyarrow)."""
        import pyarrow as pa

        string, score = pa.string(), pa.float64()
        item = [("label", string), ("gloss", string), ("group", string), ("score", score)]
        plain = {
            "label": string,
            "score": score,
            "labels": pa.list_(string),
            "top": pa.list_(pa.struct(item)),
        }
        types = {name: plain[kind] for name, kind in self.kinds.items() if kind in plain}
        if self.sentences:
            span = [("text", string), ("start", pa.int64()), ("end", pa.int64())]
            types["sentences"] = pa.list_(pa.struct([*span, *types.items()]))
        return types
