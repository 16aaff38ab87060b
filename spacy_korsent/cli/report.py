"""``korsent report``: a corpus at a glance, from ``korsent analyze``'s output (no model runs).

The file is read once, row by row, and counted in bounded memory (see :mod:`spacy_korsent.report`);
the page is written at the end. A file that is not analysed output, lacks a column an option
names or holds a score that is not a probability ends the command with exit code 2.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain
from pathlib import Path

from ..files.parquet import parquet_columns
from ..files.readers import Layout, Record, source_name
from ..files.sources import count_lines
from ..files.writers import refuse_input_as_output
from ..report.reading import INPUT_FORMATS, read_analysed, report_format
from .common import (
    CommandError,
    Warnings,
    add_file_options,
    check_file_options,
    positive_int,
    progress,
)

DESCRIPTION = """\
Write one HTML page about a file that korsent analyze wrote (JSON Lines, CSV, TSV, XLSX or
Parquet):
the sentiment labels and a score histogram; the emotions, emotion groups and (multi-label models)
predicted emotions; the same by a group column (--group-by) and over time (--date-column); the
words that most distinguish each label; the most confident and most uncertain rows per label
with their ids. The page needs no network and prints. The models do not run again.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="an HTML report of a corpus from korsent analyze's output",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    files = parser.add_argument_group("input and output")
    files.add_argument(
        "-i", "--input", metavar="FILE", required=True, help="korsent analyze's output ('-': stdin)"
    )
    files.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML page")
    add_file_options(parser, format_flag="--input-format", formats=INPUT_FORMATS, labelled=False)
    shown = parser.add_argument_group("what the report shows")
    shown.add_argument("--group-by", metavar="COL", help="break the results down by this column")
    shown.add_argument(
        "--date-column",
        metavar="COL",
        help="show the results over time by this column's dates (by day, week or month)",
    )
    shown.add_argument(
        "--id-column",
        metavar="COL",
        help="the rows' ids, shown with the examples (default: 'id' if present, else the line)",
    )
    shown.add_argument("--title", help="the page's title (default: the input file's name)")
    shown.add_argument(
        "--examples", metavar="N", type=positive_int, default=5, help="examples per label (5)"
    )
    shown.add_argument(
        "--words", metavar="N", type=positive_int, default=15, help="words per label (15)"
    )
    shown.add_argument(
        "--min-count",
        metavar="N",
        type=positive_int,
        default=5,
        help="rows a word must occur in to be ranked (5)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; 2 when the input cannot be used."""
    from ..report import Corpus, Settings, find_columns, render_report

    warn = Warnings("report")
    text_column = args.text_column or "text"
    source = source_name(args.input)
    fmt = report_format(args.input, args.fmt)
    check_file_options(source, fmt, args)
    _check_output(args)
    layout = Layout.from_options(args, fmt)
    find = partial(
        find_columns,
        source=source,
        text=text_column,
        id_column=args.id_column,
        group=args.group_by,
        date=args.date_column,
    )
    wanted = None
    if fmt == "parquet" and args.input != "-":  # read only what the report needs
        wanted = find(dict.fromkeys(parquet_columns(args.input))).read
    records = _kept(
        read_analysed(
            args.input,
            fmt,
            layout,
            text_column=text_column,
            warn=warn,
            note=warn.note,
            columns=wanted,
        ),
        warn,
    )
    first = next(records, None)
    if first is None:
        raise CommandError(f"{source}: no rows to report on.")
    columns = find(first.row)
    settings = Settings(examples=args.examples, words=args.words, min_count=args.min_count)
    corpus = Corpus(columns, source, settings)
    counted = args.input != "-" and fmt in ("jsonl", "csv", "tsv")
    with progress(args.quiet, (lambda: count_lines(Path(args.input))) if counted else None) as bar:
        for record in chain([first], records):
            corpus.add(record)
            bar.update(1)
    page = render_report(corpus, title=args.title or f"{Path(source).name}: corpus report")
    _write(args.output, page)
    warn.summarize()
    return 0


def _kept(records: Iterable[Record], warn: Warnings) -> Iterator[Record]:
    """Rows with the wrong number of fields are reported and counted all the same."""
    for record in records:
        if record.problem:
            warn(f"{record.problem}; kept (missing fields empty, extra fields left out).")
        yield record


def _check_output(args: argparse.Namespace) -> None:
    """Fail before reading if the page could not be written or would replace the input."""
    refuse_input_as_output(args.output, [args.input], "-o")
    if args.output == "-":
        return
    folder = Path(args.output).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise CommandError(f"cannot write {args.output}: {folder} is not a writable directory.")


def _write(path: str, page: str) -> None:
    if path == "-":
        print(page, end="")
        return
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err
