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

from ..answers import EXTENSIONS, LABEL, LABELS, SCORE, SENTIMENT, TOP, TOP_KEYS, AnswerKind
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

    Each component's answer kind (:mod:`spacy_korsent.answers`) defines its columns and their
    values; components are found by factory, so a pipeline saved under other component names
    works too.
    """

    def __init__(self, nlp: Language) -> None:
        pipes: dict[str, Any] = {
            nlp.get_pipe_meta(name).factory: nlp.get_pipe(name) for name in nlp.pipe_names
        }
        ours = [pipes[name] for name in (SENTIMENT_FACTORY, EMOTION_FACTORY) if name in pipes]
        self.answers: dict[str, AnswerKind] = {
            pipe.answer_kind.task: pipe.answer_kind for pipe in ours
        }
        """Each task's answer kind, sentiment first."""
        self.sentences = any(pipe.settings.sentences for pipe in ours)
        self.kinds = self._kinds()
        """Each field, in the order it is added to a row, with what it holds."""

    @property
    def sentiment_labels(self) -> Optional[tuple[str, ...]]:
        """The sentiment model's labels (each has a ``sentiment_<label>`` field); None without
        sentiment."""
        kind = self.answers.get(SENTIMENT)
        return kind.labels if kind is not None else None

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
        for task, kind in self.answers.items():
            fields.update(kind.row(target._.get(EXTENSIONS[task])))
        return fields

    def _kinds(self) -> dict[str, str]:
        """Each field with what it holds (:data:`~spacy_korsent.answers.HOLDS`), and the
        sentences."""
        kinds: dict[str, str] = {}
        for kind in self.answers.values():
            kinds.update(kind.columns())
        if self.sentences:
            kinds["sentences"] = "sentences"
        return kinds

    def arrow_types(self) -> dict[str, pa.DataType]:
        """Each field's Apache Arrow type, for columnar outputs (needs pyarrow); every one may
        be null, as :mod:`~spacy_korsent.answers` says when."""
        import pyarrow as pa

        string, score = pa.string(), pa.float64()
        item = [(key, score if key == "score" else string) for key in TOP_KEYS]
        plain = {
            LABEL: string,
            SCORE: score,
            LABELS: pa.list_(string),
            TOP: pa.list_(pa.struct(item)),
        }
        types = {name: plain[kind] for name, kind in self.kinds.items() if kind in plain}
        if self.sentences:
            span = [("text", string), ("start", pa.int64()), ("end", pa.int64())]
            types["sentences"] = pa.list_(pa.struct([*span, *types.items()]))
        return types
