"""An HTML page for a stream of docs: the first ``limit`` explained and shown, the rest counted.

``korsent analyze --html`` feeds it each batch while the batch's docs are alive (inside spaCy's
memory zone), so only the finished HTML of the shown docs is kept, never the docs themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from spacy.language import Language
from spacy.tokens import Doc

from .render import doc_html, page_html


class HtmlReport:
    """Collects the page of the first ``limit`` docs; explains them with the pipeline's components.

    Only the shown docs are explained (``explain_docs`` of every component that has it, unless the
    component already explains every doc), so the rows past the limit cost nothing extra. Each
    doc is headed by its number and, when its input row has one, the value of ``id_column``.
    """

    def __init__(self, nlp: Language, *, limit: int, id_column: str = "id") -> None:
        self.explainers: list[Any] = [
            pipe
            for _, pipe in nlp.pipeline
            if hasattr(pipe, "explain_docs") and not getattr(pipe, "explain", False)
        ]
        self.limit = limit
        self.id_column = id_column
        self.fragments: list[str] = []
        self.seen = 0

    def add(self, docs: Sequence[Doc], rows: Optional[Sequence[Mapping[str, Any]]] = None) -> None:
        """Render the docs of one batch while the limit lasts; count all of them. ``rows`` are
        the docs' input rows, which may hold their ids."""
        shown = list(docs[: max(0, self.limit - len(self.fragments))])
        if shown:
            for pipe in self.explainers:
                pipe.explain_docs(shown)
            first = len(self.fragments) + 1
            ids = [self._id(row) for row in rows or ()] or [None] * len(shown)
            self.fragments.extend(
                doc_html(doc, number=first + i, name=name)
                for i, (doc, name) in enumerate(zip(shown, ids))
            )
        self.seen += len(docs)

    def _id(self, row: Mapping[str, Any]) -> Optional[str]:
        value = row.get(self.id_column)
        return None if value is None or value == "" else f"{self.id_column} {value}"

    def count(self, number: int) -> None:
        """Count ``number`` docs that were analysed elsewhere and not passed to :meth:`add`
        (``korsent analyze --engine ray``, past the shown rows)."""
        self.seen += number

    def html(self, title: str) -> str:
        """The page: the shown docs, and how many were left out."""
        shown = len(self.fragments)
        note = f"{shown:,} documents."
        if self.seen > shown:
            note = (
                f"The first {shown:,} of {self.seen:,} documents; the other "
                f"{self.seen - shown:,} are not shown."
            )
        return page_html(self.fragments, title=title, note=note)
