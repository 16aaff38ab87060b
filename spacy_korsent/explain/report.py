"""An HTML page for a stream of docs: the first ``limit`` explained and shown, the rest counted.

``korsent analyze --html`` feeds it each batch while the batch's docs are alive (inside spaCy's
memory zone), so only the finished HTML of the shown docs is kept, never the docs themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from .render import doc_html, page_html


class HtmlReport:
    """Collects the page of the first ``limit`` docs; explains them with the pipeline's components.

    Only the shown docs are explained (``explain_docs`` of every component that has it, unless the
    component already explains every doc), so the rows past the limit cost nothing extra.
    """

    def __init__(self, nlp: Language, *, limit: int) -> None:
        self.explainers: list[Any] = [
            pipe
            for _, pipe in nlp.pipeline
            if hasattr(pipe, "explain_docs") and not getattr(pipe, "explain", False)
        ]
        self.limit = limit
        self.fragments: list[str] = []
        self.seen = 0

    def add(self, docs: Sequence[Doc]) -> None:
        """Render the docs of one batch while the limit lasts; count all of them."""
        shown = list(docs[: max(0, self.limit - len(self.fragments))])
        if shown:
            for pipe in self.explainers:
                pipe.explain_docs(shown)
            first = len(self.fragments) + 1
            self.fragments.extend(doc_html(doc, number=first + i) for i, doc in enumerate(shown))
        self.seen += len(docs)

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
