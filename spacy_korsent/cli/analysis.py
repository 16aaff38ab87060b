"""What both engines of ``korsent analyze`` share: the typed request and the steps around the run.

The command line parses its options into an :class:`AnalysisRequest`; an engine
(:mod:`.local_engine`, :mod:`.ray_engine`) runs it: it checks the outputs, reads the first row
before the models load (a missing column, an unreadable file or an empty input fails in seconds),
builds the pipeline, analyses the rows and writes them with the same writers, and makes the
``--html`` page. Neither engine sees the command line's options.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, TypeVar

from ..components.pipeline import PipelineOptions, build_pipeline
from ..files.fields import ResultFields
from ..files.readers import Layout, Record, source_name
from ..files.sources import InputFile, InputRows
from ..files.writers import Writer, check_output, open_writer, refuse_input_as_output, same_file
from .common import CommandError, Warnings

if TYPE_CHECKING:
    from spacy.language import Language

    from ..explain.report import HtmlReport

PAGE = "the --html page"
"""The optional product of a run (:mod:`.products`): its failure loses no rows."""
HTML_LIMIT = 1000
"""Rows the --html page shows by default (explaining costs a pass per token: a page, not a dump)."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how the Ray engine runs (None: its defaults, see :mod:`.ray_engine`)."""

    workers: Optional[int] = None
    cpus_per_worker: Optional[int] = None
    gpus_per_worker: Optional[float] = None
    address: Optional[str] = None


@dataclass(frozen=True)
class AnalysisRequest:
    """An analysis to run: the input, how to read it, the models, the outputs.

    The input is ``texts`` (analysed as they are) or ``files`` (one ``-`` for standard input);
    ``input`` is the input as the user named it (``-i``), for messages and the page's title.
    ``models`` maps each component's factory to its model (None: the factory's default).
    """

    models: dict[str, Optional[str]]
    texts: tuple[str, ...] = ()
    files: tuple[InputFile, ...] = ()
    input: Optional[str] = None
    layout: Layout = Layout()
    text_column: str = "text"
    sentences: bool = False
    output: Optional[str] = None
    output_format: str = "jsonl"
    html: Optional[str] = None
    html_limit: int = HTML_LIMIT
    id_column: Optional[str] = None
    """The column whose value heads each document on the --html page (None: ``id`` if any)."""
    escape_formulas: bool = False
    """Neutralise cells a spreadsheet would run as a formula (CSV and TSV output only)."""
    output_encoding: Optional[str] = None
    """The text encoding of CSV/TSV output (None: the writers' default, see files/writers.py)."""
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    quiet: bool = False
    ray: RayOptions = field(default_factory=RayOptions)

    @property
    def source(self) -> str:
        """How messages name the input: the file or directory, or standard input."""
        return source_name(self.input or "-")

    def rows(self) -> InputRows:
        """The rows of ``files``, read as the request says."""
        return InputRows(self.files, self.layout, self.text_column)


T = TypeVar("T")


def first_row(rows: Iterator[T], source: str) -> T:
    """The first row, read before the models load: a missing column, an unreadable file or an
    empty input fails in seconds."""
    first = next(rows, None)
    if first is None:
        raise CommandError(f"{source}: no rows to analyze.")
    return first


def html_report(request: AnalysisRequest, nlp: Language, first: Record) -> HtmlReport:
    """The --html page's report; an --id-column that the first row lacks is refused."""
    from ..explain.report import HtmlReport

    column = request.id_column
    if column is not None and column not in first.row:
        raise CommandError(
            f"{request.source}: no column {column!r} for --id-column in the first row "
            f"(its columns: {list(first.row)})."
        )
    return HtmlReport(nlp, limit=request.html_limit, id_column=column or "id")


def analysis_pipeline(request: AnalysisRequest, warn: Warnings) -> Language:
    """The pipeline of the analyses asked for, with the models given."""
    return build_pipeline(
        request.models, request.pipeline, sentences=request.sentences, note=warn.note
    )


def result_writer(request: AnalysisRequest, fields: ResultFields, warn: Warnings) -> Writer:
    """The writer of the output rows: the request's format to its output (standard output
    without one)."""
    return open_writer(
        request.output_format,
        request.output,
        warn=warn,
        text_column=request.text_column,
        hidden=fields.details,
        result_types=fields.arrow_types,
        escape_formulas=request.escape_formulas,
        encoding=request.output_encoding,
    )


def no_text_error(column: str) -> CommandError:
    """The error of a run in which no row had a text."""
    return CommandError(
        f"no row has a text in the field {column!r}; name the text's field with --text-column."
    )


def check_outputs(request: AnalysisRequest, inputs: Sequence[str | Path]) -> None:
    """Fail before the models load if an output (-o, --html) could not be written or would
    destroy an input or the other output."""
    output, html = request.output, request.html
    refuse_input_as_output(output, inputs, "-o")
    check_output(
        request.output_format,
        output,
        escape_formulas=request.escape_formulas,
        encoding=request.output_encoding,
    )
    if not html:
        return
    refuse_input_as_output(html, inputs, "--html")
    if output not in (None, "-") and same_file(html, output):
        raise CommandError(f"--html {html} is also -o: give the page its own file.")
    folder = Path(html).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write {html}: {folder} is not a writable directory.")


def write_page(report: HtmlReport, path: str, source: Optional[str]) -> None:
    """Write the --html page at the end of the run; its title names the input ``source``."""
    page = report.html(" ".join(["korsent analyze", *filter(None, [source])]))
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err
