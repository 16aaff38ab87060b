"""``korsent analyze`` in this process: rows go through ``nlp.pipe`` as a stream.

Rows go through ``nlp.pipe(..., as_tuples=True)`` with the input row as context, so every input
column comes out again next to the results, and a batch is written (and flushed) as soon as it is
classified: memory stays bounded and an interrupted run leaves complete lines behind. It reads
what the Ray engine reads (:mod:`spacy_korsent.files.sources`: a file, a directory of files,
Parquet), and also texts given as they are and standard input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Callable, Optional

from ..files.fields import ResultFields, checked_text
from ..files.readers import Record, replace_lone_surrogates
from .analysis import (
    PAGE,
    AnalysisRequest,
    analysis_pipeline,
    check_outputs,
    first_row,
    html_report,
    no_text_error,
    result_writer,
    write_page,
)
from .common import Warnings, progress
from .products import Products

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc


def run(request: AnalysisRequest, warn: Warnings) -> int:
    """Analyze the request's input and write it; 2 when it cannot be used at all, 3 when the
    rows were written but the --html page failed."""
    check_outputs(request, [file.path for file in request.files if file.path != "-"])
    rows, count = _input(request, warn)
    first = first_row(rows, request.source)
    nlp = analysis_pipeline(request, warn)
    analysis = Analysis(nlp, request.text_column, warn)
    report = None
    products = Products("analyze")
    if request.html:
        page = report = html_report(request, nlp, first[1])
        analysis.on_docs = lambda docs, rows: products.make(PAGE, lambda: page.add(docs, rows))
    writer = result_writer(request, analysis.fields, warn)
    batch_size = request.pipeline.batch_size
    try:
        with progress(request.quiet, count) as bar:
            for batch in analysis.batches(chain([first], rows), batch_size):
                writer.write(batch)
                bar.update(len(batch))
    finally:
        writer.close()
    if report is not None and request.html:
        html, page = request.html, report
        products.make(PAGE, lambda: write_page(page, html, request.input))
    warn.summarize()
    if not analysis.with_text:
        raise no_text_error(request.text_column)
    return products.exit_code


def _input(
    request: AnalysisRequest, warn: Warnings
) -> tuple[Iterator[tuple[str, Record]], Optional[Callable[[], Optional[int]]]]:
    """``(where, row)`` of every input row, and a function that counts them (for the progress
    bar: it may read whole files, so it is only called for a bar that is shown)."""
    if request.texts:
        texts = [replace_lone_surrogates(text) for text in request.texts]
        column = request.text_column
        records = (
            (f"argument:{n}", Record(n, {column: text})) for n, text in enumerate(texts, start=1)
        )
        return records, lambda: len(texts)
    rows = request.rows()
    rows.check_headers()  # every file's, as the Ray engine does: before anything is written
    return rows.records(warn, warn.note), rows.count


class Analysis:
    """Turns input rows into output rows: the row's columns plus the components' results."""

    def __init__(self, nlp: Language, text_column: str, warn: Warnings) -> None:
        self.nlp = nlp
        self.text_column = text_column
        self.warn = warn
        self.fields = ResultFields(nlp)
        self.with_text = 0
        self.on_docs: Callable[[list[Doc], list[dict]], None] | None = None
        """Called with each batch's docs, while they are alive, and rows (``--html``)."""

    def batches(
        self, records: Iterable[tuple[str, Record]], batch_size: int
    ) -> Iterator[list[dict]]:
        """Output rows in input order, ``batch_size`` at a time.

        Each batch runs in a spaCy memory zone, so that the strings of millions of documents do
        not pile up in the vocabulary: memory stays what one batch needs.
        """
        from spacy.util import minibatch

        for chunk in minibatch(records, size=batch_size):
            pairs = [(self._text(where, record), record.row) for where, record in chunk]
            with self.nlp.memory_zone():
                docs = list(self.nlp.pipe(pairs, as_tuples=True, batch_size=batch_size))
                if self.on_docs is not None:
                    self.on_docs([doc for doc, _ in docs], [row for _, row in docs])
                batch = [{**row, **self.fields.of(doc)} for doc, row in docs]
            yield batch

    def _text(self, where: str, record: Record) -> str:
        text, problem = checked_text(record.row.get(self.text_column), self.text_column)
        if problem is None:
            self.with_text += 1
        else:
            self.warn(f"{where}: {problem}")
        return text
