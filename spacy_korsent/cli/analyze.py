"""``korsent analyze``: sentiment and emotions of texts, lines or table rows, as a stream.

Rows go through ``nlp.pipe(..., as_tuples=True)`` with the input row as context, so every input
column comes out again next to the results, and a batch is written (and flushed) as soon as it is
classified: memory stays bounded and an interrupted run leaves complete lines behind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from ..files.fields import ResultFields, checked_text
from ..files.readers import (
    FORMATS,
    Layout,
    Record,
    guess_format,
    read_records,
    replace_lone_surrogates,
    source_name,
)
from ..files.writers import (
    OUTPUT_FORMATS,
    Writer,
    check_output,
    open_writer,
    output_format,
    refuse_input_as_output,
    same_file,
)
from . import ray_engine
from .common import (
    EMOTION,
    SENTIMENT,
    CommandError,
    Warnings,
    add_file_options,
    add_pipeline_options,
    build_pipeline,
    check_file_options,
    count_lines,
    positive_int,
    progress,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from ..explain.report import HtmlReport

DESCRIPTION = """\
Analyze texts given as arguments, lines of standard input, or a file: plain text (one document
per line), CSV/TSV with a header (or --columns), or JSON Lines; --text-column names the text's
column. The output keeps every input column and adds, per task:

  sentiment        sentiment (label), sentiment_score (its probability),
                   sentiment_<label> (the probability of each label, e.g. sentiment_positive)
  emotion          emotion (the most probable), emotion_score, emotion_labels (the predicted
                   emotions: every one at or above the threshold for a multi-label model),
                   emotion_group (one of six groups for the default model), emotions_top (the
                   top 3: label, gloss, group, score)

--sentences adds "sentences": a list of {text, start, end, <the same fields>} per sentence.
The output format comes from the -o file's suffix (.jsonl, .csv, .tsv, .parquet) unless -f names
one; standard output gets JSON Lines. Lists are JSON strings in CSV, TSV and Parquet output.
Empty texts get empty results. Added fields replace input columns of the same name.
"""

HTML_LIMIT = 1000
"""Rows the --html page shows by default (explaining costs a pass per token: a page, not a dump)."""
TASKS = {"sentiment": (SENTIMENT,), "emotion": (EMOTION,), "both": (SENTIMENT, EMOTION)}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` subcommand."""
    parser = subparsers.add_parser(
        "analyze",
        help="sentiment and emotions of texts, lines or CSV/TSV/JSONL rows",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("texts", nargs="*", help="texts to analyze (else --input, else stdin)")
    source = parser.add_argument_group("input and output")
    source.add_argument(
        "-i", "--input", metavar="FILE", help="file to analyze; '-' is standard input"
    )
    source.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default: standard output)"
    )
    source.add_argument(
        "-f",
        "--format",
        choices=OUTPUT_FORMATS,
        help="output format (default: from the -o suffix, else jsonl)",
    )
    source.add_argument(
        "--escape-formulas",
        action="store_true",
        help="CSV/TSV output: put a ' before each cell that starts with =, +, -, @, tab or "
        "carriage return (numbers excepted), so that Excel and LibreOffice show it as text "
        "instead of running it as a formula (OWASP's advice against CSV injection)",
    )
    add_file_options(parser, format_flag="--input-format", formats=FORMATS, labelled=False)
    source.add_argument(
        "--html",
        metavar="FILE",
        help="also write an HTML page of the rows' predictions with tokens shaded by attribution "
        "(the first --html-limit rows; explaining costs about one extra pass per token)",
    )
    source.add_argument(
        "--html-limit",
        metavar="N",
        type=positive_int,
        default=HTML_LIMIT,
        help=f"rows shown on the --html page (default: {HTML_LIMIT:,}); the rest are counted",
    )
    models = parser.add_argument_group("analyses")
    models.add_argument("-t", "--task", choices=tuple(TASKS), default="sentiment")
    models.add_argument(
        "--sentiment-model",
        metavar="MODEL",
        help="hub id, model directory or saved pipeline "
        "(default: cringepnh/koelectra-korean-sentiment)",
    )
    models.add_argument(
        "--emotion-model",
        metavar="MODEL",
        help="hub id, model directory or saved pipeline "
        "(default: hun3359/klue-bert-base-sentiment)",
    )
    models.add_argument(
        "--sentences",
        action="store_true",
        help="also classify each sentence (split by korean_sentencizer when kiwipiepy is "
        "installed, else by spaCy's sentencizer)",
    )
    add_pipeline_options(parser)
    ray_engine.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Analyze the input; 2 when it cannot be used at all."""
    warn = Warnings("analyze")
    args.text_column = args.text_column or "text"
    fmt = output_format(args.output, args.format)
    _take_file_argument(args, warn)
    if ray_engine.on_ray(args):
        return ray_engine.run(args, fmt, warn)
    records, count = _input(args, warn)
    check_outputs(args, fmt, [args.input] if args.input else [])
    first = first_row(records, source_name(args.input or "-"))
    nlp = analysis_pipeline(args, warn)
    source = source_name(args.input or "-") if not args.texts else "argument"
    analysis = Analysis(nlp, args.text_column, warn, source=source)
    report = None
    if args.html:
        from ..explain.report import HtmlReport

        report = HtmlReport(nlp, limit=args.html_limit)
        analysis.on_docs = report.add
    writer = result_writer(fmt, args, analysis.fields, warn)
    try:
        with progress(args.quiet, count) as bar:
            for batch in analysis.batches(chain([first], records), args.batch_size):
                writer.write(batch)
                bar.update(len(batch))
    finally:
        writer.close()
    if report is not None:
        write_page(report, args)
    warn.summarize()
    if not analysis.with_text:
        raise no_text_error(args.text_column)
    return 0


T = TypeVar("T")


def first_row(rows: Iterator[T], source: str) -> T:
    """The first row, read before the models load: a missing column, an unreadable file or an
    empty input fails in seconds."""
    first = next(rows, None)
    if first is None:
        raise CommandError(f"{source}: no rows to analyze.")
    return first


def analysis_pipeline(args: argparse.Namespace, warn: Warnings) -> Language:
    """The pipeline of the analyses ``-t`` asks for, with the models given."""
    chosen = {SENTIMENT: args.sentiment_model, EMOTION: args.emotion_model}
    return build_pipeline(
        {f: chosen[f] for f in TASKS[args.task]}, args, sentences=args.sentences, note=warn.note
    )


def result_writer(
    fmt: str, args: argparse.Namespace, fields: ResultFields, warn: Warnings
) -> Writer:
    """The writer of the output rows: ``fmt`` to ``-o`` (standard output without it)."""
    return open_writer(
        fmt,
        args.output,
        warn=warn,
        text_column=args.text_column,
        hidden=fields.details,
        float_columns=fields.is_float,
        escape_formulas=args.escape_formulas,
    )


def no_text_error(column: str) -> CommandError:
    """The error of a run in which no row had a text."""
    return CommandError(
        f"no row has a text in the field {column!r}; name the text's field with --text-column."
    )


def check_outputs(args: argparse.Namespace, fmt: str, inputs: Sequence[str | Path]) -> None:
    """Fail before the models load if an output (-o, --html) could not be written or would
    destroy an input or the other output."""
    refuse_input_as_output(args.output, inputs, "-o")
    check_output(fmt, args.output, escape_formulas=args.escape_formulas)
    if not args.html:
        return
    refuse_input_as_output(args.html, inputs, "--html")
    if args.output not in (None, "-") and same_file(args.html, args.output):
        raise CommandError(f"--html {args.html} is also -o: give the page its own file.")
    folder = Path(args.html).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write {args.html}: {folder} is not a writable directory.")


def write_page(report: HtmlReport, args: argparse.Namespace) -> None:
    """Write the --html page at the end of the run."""
    page = report.html(" ".join(["korsent analyze", *filter(None, [args.input])]))
    try:
        Path(args.html).write_text(page, encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot write {args.html}: {err.strerror or err}.") from err


def _input(
    args: argparse.Namespace, warn: Warnings
) -> tuple[Iterator[Record], Callable[[], int] | None]:
    """The rows to analyze and a function that counts them (None where they cannot be counted)."""
    column = args.text_column
    if args.texts:
        if args.input:
            raise CommandError("give texts as arguments or --input, not both.")
        texts = [replace_lone_surrogates(text) for text in args.texts]
        records = (Record(n, {column: text}) for n, text in enumerate(texts, start=1))
        return records, lambda: len(texts)
    path = args.input or "-"
    stream = None
    fmt = args.fmt or guess_format(path)
    if path == "-":
        if sys.stdin.isatty():
            raise CommandError(
                "nothing to analyze: give texts as arguments, --input FILE, or pipe lines to stdin."
            )
        stream, fmt = _sniff_stdin(args.fmt, args, warn)
    check_file_options(source_name(path), fmt, args)
    table = fmt in ("csv", "tsv")
    layout = Layout(fmt, args.columns, args.quoting, args.encoding)
    rows = read_records(
        path,
        layout,
        text_column=column,
        required=(column,) if table else (),
        warn=warn,
        note=warn.note,
        stream=stream,
    )
    counted = path != "-" and Path(path).is_file()  # a pipe would be used up by counting
    header = 1 if table and not args.columns else 0
    return kept(rows, warn), (lambda: count_lines(Path(path)) - header) if counted else None


def _take_file_argument(args: argparse.Namespace, warn: Warnings) -> None:
    """A text argument that names an existing file is read as the input file, with a note."""
    files = [text for text in args.texts if Path(text).is_file()]
    if not files:
        return
    if len(args.texts) > 1 or args.input:
        raise CommandError(
            f"the argument {files[0]!r} names a file; give one input file with -i FILE "
            "(texts given as arguments are analyzed as they are)."
        )
    args.input, args.texts = files[0], []
    warn.note(f"reading the file {files[0]} (an argument that names a file is read as -i FILE).")


def _sniff_stdin(
    fmt: str | None, args: argparse.Namespace, warn: Warnings
) -> tuple[Iterable[bytes], str]:
    """Standard input's bytes and format: a JSON Lines or CSV/TSV table is recognized, not read
    line by line; a table without the text column is refused."""
    lines = iter(sys.stdin.buffer)
    head = [line for line in (next(lines, b""), next(lines, b"")) if line]
    stream = chain(head, lines)
    if fmt is not None or not head:
        return stream, fmt or "text"
    first = _LINE_END.split(head[0].decode("utf-8", "replace"))[0].lstrip("\ufeff").strip()
    if first.startswith("{") and _is_json_object(first):
        warn.note("standard input holds JSON Lines: read as such (--input-format overrides).")
        return stream, "jsonl"
    delimiter = "\t" if "\t" in first else ","
    header = [name.strip().strip('"') for name in first.split(delimiter)]
    kind = "tsv" if delimiter == "\t" else "csv"
    if len(header) >= 2 and args.text_column in header:
        warn.note(
            f"standard input looks like {kind.upper()} with the header {first!r}: read as "
            f"{kind.upper()} (--input-format text reads it line by line)."
        )
        return stream, kind
    second = head[1].decode("utf-8", "replace") if len(head) > 1 else ""
    if (
        len(header) >= 2
        and all(_NAME.fullmatch(name) for name in header)
        and (second.count(delimiter) >= len(header) - 1)
    ):
        raise CommandError(
            f"standard input looks like {kind.upper()} with the header {first!r}, which has no "
            f"column {args.text_column!r}: name the text's column with --text-column (and "
            f"--input-format {kind}), or give --input-format text to analyze each line."
        )
    return stream, "text"


_NAME = re.compile(r"[\w.-]{1,40}")
_LINE_END = re.compile(r"\r\n?|\n")


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def kept(records: Iterable[Record], warn: Warnings) -> Iterator[Record]:
    """Rows with the wrong number of fields are reported and analyzed all the same."""
    for record in records:
        if record.problem:
            warn(f"{record.problem}; kept (missing fields empty, extra fields left out).")
        yield record


class Analysis:
    """Turns input rows into output rows: the row's columns plus the components' results."""

    def __init__(self, nlp: Language, text_column: str, warn: Warnings, *, source: str) -> None:
        self.nlp = nlp
        self.source = source
        self.text_column = text_column
        self.warn = warn
        self.fields = ResultFields(nlp)
        self.with_text = 0
        self.on_docs: Callable[[list[Doc]], None] | None = None
        """Called with each batch's docs while they are alive (``--html``)."""

    def batches(self, records: Iterable[Record], batch_size: int) -> Iterator[list[dict]]:
        """Output rows in input order, ``batch_size`` at a time.

        Each batch runs in a spaCy memory zone, so that the strings of millions of documents do
        not pile up in the vocabulary: memory stays what one batch needs.
        """
        from spacy.util import minibatch

        for chunk in minibatch(records, size=batch_size):
            pairs = [(self._text(record), record.row) for record in chunk]
            with self.nlp.memory_zone():
                docs = list(self.nlp.pipe(pairs, as_tuples=True, batch_size=batch_size))
                if self.on_docs is not None:
                    self.on_docs([doc for doc, _ in docs])
                batch = [{**row, **self.fields.of(doc)} for doc, row in docs]
            yield batch

    def _text(self, record: Record) -> str:
        text, problem = checked_text(record.row.get(self.text_column), self.text_column)
        if problem is None:
            self.with_text += 1
        else:
            self.warn(f"{self.source}:{record.line}: {problem}")
        return text
