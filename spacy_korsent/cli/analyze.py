"""``korsent analyze``: sentiment and emotions of texts, lines or table rows, as a stream.

Rows go through ``nlp.pipe(..., as_tuples=True)`` with the input row as context, so every input
column comes out again next to the results, and a batch is written (and flushed) as soon as it is
classified: memory stays bounded and an interrupted run leaves complete lines behind.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ..files.fields import ResultFields, checked_text
from ..files.readers import FORMATS, guess_format, read_rows, replace_lone_surrogates
from . import ray_engine
from .common import (
    EMOTION,
    SENTIMENT,
    CommandError,
    Warnings,
    add_pipeline_options,
    build_pipeline,
    count_lines,
    progress,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

DESCRIPTION = """\
Analyze texts given as arguments, lines of standard input, or a file: plain text (one document
per line), CSV/TSV with a header, or JSON Lines; --text-column names the text's column. The
output keeps every input column and adds, per task:

  sentiment        sentiment (label), sentiment_score (its probability),
                   sentiment_<label> (the probability of each label, e.g. sentiment_positive)
  emotion          emotion (one of 60 labels), emotion_score, emotion_group (one of six groups),
                   emotions_top (the top 3: label, gloss, group, score)

--sentences adds "sentences": a list of {text, start, end, <the same fields>} per sentence.
Lists are JSON strings in CSV output. Empty texts get empty results. Added fields replace input
columns of the same name.
"""

OUTPUT_FORMATS = ("jsonl", "csv", "table")
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
        "--input-format",
        choices=FORMATS,
        help="default: from the suffix (.csv, .tsv, .jsonl), else text (one document per line)",
    )
    source.add_argument(
        "--text-column",
        metavar="NAME",
        default="text",
        help="column or field with the text (default: text)",
    )
    source.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default: standard output)"
    )
    source.add_argument(
        "-f", "--format", choices=OUTPUT_FORMATS, default="jsonl", help="default: jsonl"
    )
    models = parser.add_argument_group("analyses")
    models.add_argument("-t", "--task", choices=tuple(TASKS), default="sentiment")
    models.add_argument(
        "--sentiment-model",
        metavar="MODEL",
        help="hub id or directory (default: cringepnh/koelectra-korean-sentiment)",
    )
    models.add_argument(
        "--emotion-model",
        metavar="MODEL",
        help="hub id or directory (default: hun3359/klue-bert-base-sentiment)",
    )
    models.add_argument("--sentences", action="store_true", help="also classify each sentence")
    add_pipeline_options(parser)
    ray_engine.add_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Analyze the input; 2 when it cannot be used at all."""
    if ray_engine.on_ray(args):
        return ray_engine.run(args)
    warn = Warnings("analyze")
    rows, count = _input(args, warn)
    first = next(rows, None)  # finds a missing column or an empty input before the model loads
    if first is None:
        raise CommandError(f"{args.input or 'standard input'}: no rows to analyze.")
    chosen = {SENTIMENT: args.sentiment_model, EMOTION: args.emotion_model}
    factories = TASKS[args.task]
    nlp = build_pipeline({f: chosen[f] for f in factories}, args, sentences=args.sentences)
    analysis = Analysis(nlp, args.text_column, warn)
    with _open_output(args.output) as stream, progress(args.quiet, count) as bar:
        writer = _writer(args.format, stream, analysis)
        for batch in analysis.batches(chain([first], rows), args.batch_size):
            writer.write(batch)
            bar.update(len(batch))
    warn.summarize()
    if not analysis.with_text:
        raise CommandError(
            f"no row has a text in the field {args.text_column!r}; "
            "name the text's field with --text-column."
        )
    return 0


def _input(
    args: argparse.Namespace, warn: Warnings
) -> tuple[Iterator[dict], Callable[[], int] | None]:
    """The rows to analyze and a function that counts them (None where they cannot be counted)."""
    column = args.text_column
    if args.texts:
        if args.input:
            raise CommandError("give texts as arguments or --input, not both.")
        texts = [replace_lone_surrogates(text) for text in args.texts]
        return iter([{column: text} for text in texts]), lambda: len(texts)
    path = args.input or "-"
    if path == "-" and sys.stdin.isatty():
        raise CommandError(
            "nothing to analyze: give texts as arguments, --input FILE, or pipe lines to stdin."
        )
    fmt = args.input_format or ("text" if path == "-" else guess_format(Path(path)))
    required = (column,) if fmt in ("csv", "tsv") else ()
    rows = read_rows(path, fmt, text_column=column, required=required, warn=warn)
    counted = path != "-" and Path(path).is_file()  # a pipe would be used up by counting
    header = 1 if fmt in ("csv", "tsv") else 0
    return rows, (lambda: count_lines(Path(path)) - header) if counted else None


class Analysis:
    """Turns input rows into output rows: the row's columns plus the components' results."""

    def __init__(self, nlp: Language, text_column: str, warn: Warnings) -> None:
        self.nlp = nlp
        self.text_column = text_column
        self.warn = warn
        self.fields = ResultFields(nlp)
        self.with_text = 0

    def batches(self, rows: Iterable[dict], batch_size: int) -> Iterator[list[dict]]:
        """Output rows in input order, ``batch_size`` at a time.

        Each batch runs in a spaCy memory zone, so that the strings of millions of documents do
        not pile up in the vocabulary: memory stays what one batch needs.
        """
        from spacy.util import minibatch

        numbered = enumerate(rows, start=1)
        for chunk in minibatch(numbered, size=batch_size):
            pairs = [(self._text(row, number), row) for number, row in chunk]
            with self.nlp.memory_zone():
                docs = self.nlp.pipe(pairs, as_tuples=True, batch_size=batch_size)
                batch = [self._output(doc, row) for doc, row in docs]
            yield batch

    def _text(self, row: dict, number: int) -> str:
        text, problem = checked_text(row.get(self.text_column), self.text_column)
        if problem is None:
            self.with_text += 1
        else:
            self.warn(f"row {number} {problem}")
        return text

    def _output(self, doc: Doc, row: dict) -> dict:
        return {**row, **self.fields.of(doc)}


def _open_output(path: str | None) -> Any:
    if path is None or path == "-":
        return nullcontext(sys.stdout)
    try:
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err


def _writer(fmt: str, stream: TextIO, analysis: Analysis) -> Any:
    if fmt == "jsonl":
        return JsonlWriter(stream)
    if fmt == "csv":
        return CsvWriter(stream, analysis.warn)
    return TableWriter(stream, analysis.text_column, hidden=analysis.fields.details)


class JsonlWriter:
    """One JSON object per line, UTF-8 as it is (no \\u escapes)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, rows: list[dict]) -> None:
        self.stream.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        self.stream.flush()


class CsvWriter:
    """CSV with a header of the first row's columns; lists and objects become JSON strings."""

    def __init__(self, stream: TextIO, warn: Warnings) -> None:
        self.stream = stream
        self.warn = warn
        self.columns: list[str] = []
        self.warned = False

    def write(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not self.columns:
            self.columns = [str(column) for column in rows[0]]
            writer.writerow(self.columns)
        for row in rows:
            if not self.warned and not set(row) <= set(self.columns):
                self.warned = True
                extra = sorted(map(str, set(row) - set(self.columns)))
                self.warn(
                    f"columns {extra} are not in the CSV header (from the first row); left out."
                )
            writer.writerow(_csv_value(row.get(column)) for column in self.columns)
        self.stream.write(buffer.getvalue())
        self.stream.flush()


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


class TableWriter:
    """Aligned columns for reading on a terminal: the input's columns and the main results.

    Column widths come from the first batch (long cells are cut with …); sentences, with
    --sentences, follow their document as indented rows.
    """

    TEXT_WIDTH = 48
    CELL_WIDTH = 24

    def __init__(self, stream: TextIO, text_column: str, *, hidden: set[str]) -> None:
        self.stream = stream
        self.text_column = text_column
        self.hidden = hidden
        self.widths: dict[str, int] = {}

    def write(self, rows: list[dict]) -> None:
        lines = [self._cells(row) for row in self._with_sentences(rows)]
        out = []
        if not self.widths:
            columns = [c for c in rows[0] if c not in self.hidden]
            for column in columns:
                cap = self.TEXT_WIDTH if column == self.text_column else self.CELL_WIDTH
                cells = [str(column)] + [line.get(column, "") for line in lines]
                self.widths[column] = min(cap, max(map(_width, cells)))
            out.append(self._line({c: str(c) for c in self.widths}))
            out.append("  ".join("-" * width for width in self.widths.values()))
        out.extend(self._line(line) for line in lines)
        self.stream.write("".join(line.rstrip() + "\n" for line in out))
        self.stream.flush()

    def _with_sentences(self, rows: list[dict]) -> Iterator[dict]:
        for row in rows:
            yield row
            for sentence in row.get("sentences", ()):
                fields = {k: v for k, v in sentence.items() if k not in ("text", "start", "end")}
                yield {self.text_column: "  └ " + sentence["text"], **fields}

    def _cells(self, row: dict) -> dict[str, str]:
        return {str(column): _cell(value) for column, value in row.items()}

    def _line(self, cells: dict[str, str]) -> str:
        return "  ".join(_fit(cells.get(c, ""), width) for c, width in self.widths.items())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return re.sub(r"\s*[\r\n\t]\s*", " ", str(value))


def _char_width(char: str) -> int:
    """Terminal columns: East Asian wide and full-width characters (Hangul) take two."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _width(text: str) -> int:
    return sum(map(_char_width, text))


def _fit(text: str, width: int) -> str:
    """``text`` cut (with …) or padded to exactly ``width`` terminal columns."""
    used = _width(text)
    if used > width:
        kept = []
        used = 1  # the ellipsis
        for char in text:
            if used + _char_width(char) > width:
                break
            kept.append(char)
            used += _char_width(char)
        text = "".join(kept) + "…"
    return text + " " * (width - used)
