"""What the subcommands share: input and pipeline options, warnings, progress.

``analyze`` and ``evaluate`` build the pipeline a library user would (``blank_korean()`` +
``add_pipe``) so that the command line measures what the library runs; ``analyze``, ``evaluate``
and ``train`` read files with the same options (format, columns, quoting, encoding).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any, Callable

from ..components.pipeline import TASKS, PipelineOptions
from ..components.registry import EMOTION, SENTIMENT
from ..files.labelled import LabelledLayout
from ..files.workbook_limits import MAX_SHEET_CELLS, MAX_SHEET_TEXT
from ..inference.backends import BACKENDS


class CommandError(Exception):
    """A problem the command reports in one line and exits with code 2 for (no traceback)."""


def positive_int(value: str) -> int:
    """An argparse type for counts that must be at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def add_file_options(
    parser: argparse.ArgumentParser, *, format_flag: str, formats: tuple[str, ...], labelled: bool
) -> None:
    """How to read the input file: format, columns, quoting, encoding (and labels if ``labelled``).

    Column options default to None, so that a command can tell an option given from its default.
    """
    group = parser.add_argument_group("reading the file")
    group.add_argument(
        format_flag,
        dest="fmt",
        choices=formats,
        help="default: from the suffix (.csv, .tsv, .jsonl, .xlsx)",
    )
    group.add_argument(
        "--text-column", metavar="NAME", help="column or field with the text (default: text)"
    )
    if labelled:
        group.add_argument(
            "--label-column", metavar="NAME", help="column or field with the label (default: label)"
        )
    group.add_argument(
        "--columns",
        metavar="A,B,C",
        type=_names,
        help="names of the columns of a CSV/TSV file or an Excel sheet without a header line "
        "(its first line is data), e.g. id,text,label",
    )
    group.add_argument(
        "--no-quoting",
        dest="quoting",
        action="store_false",
        help='CSV/TSV without quoting: a " is part of the text (TSV files such as KOTE)',
    )
    group.add_argument(
        "--encoding",
        metavar="NAME",
        help="the file's encoding (default: detected: UTF-8 with or without BOM, UTF-16 with BOM, "
        "CP949/EUC-KR)",
    )
    group.add_argument(
        "--strict-rows",
        action="store_true",
        default=None,
        help="CSV/TSV: a quoted field that takes in lines looking like rows of their own (a stray "
        "quote) ends the run (exit 2) instead of being read as one row with a warning",
    )
    group.add_argument(
        "--sheet",
        metavar="NAME|N",
        help="the sheet of an Excel workbook (.xlsx) to read, by name or number from 1 "
        "(default: the first; needs pip install 'spacy-korsent[excel]')",
    )
    group.add_argument(
        "--max-sheet-cells",
        metavar="N",
        type=positive_int,
        help=f"read a sheet only if its used range (rows x columns) has at most N cells "
        f"(default: {MAX_SHEET_CELLS:,}; the reader holds them all in memory)",
    )
    group.add_argument(
        "--max-sheet-text",
        metavar="N",
        type=positive_int,
        help=f"read a workbook only if its cells hold at most N characters of text, a shared "
        f"string counted for each cell that uses it (default: {MAX_SHEET_TEXT:,})",
    )
    if labelled:
        group.add_argument(
            "--label-separator",
            metavar="SEP",
            help="a label cell holds several labels split by SEP (multi-label data, e.g. ',' "
            "for KOTE's 0,6,10); JSON Lines may give a list instead",
        )
        group.add_argument(
            "--label-map",
            metavar="V=CLASS,...",
            help="map label values to classes, one by one (1=negative,5=positive) or by ranges of "
            "numbers, both ends included (1-4=negative,5-8=neutral,9-10=positive); 4.0 reads as 4",
        )


def check_file_options(path: object, fmt: str, args: argparse.Namespace) -> None:
    """A CommandError for file options given that the file's format cannot use."""
    if fmt not in ("csv", "tsv", "nsmc") and getattr(args, "strict_rows", None):
        raise CommandError(
            f"--strict-rows cannot apply to {path}: only CSV and TSV files have quoted fields "
            "that can take in rows; leave it out."
        )
    sheet = [] if fmt == "xlsx" else _given(args, "sheet", "max_sheet_cells", "max_sheet_text")
    if fmt == "nsmc":
        given = _given(args, "text_column", "label_column", "columns")
        why = "it is read as NSMC (id, document, label with a header)"
        hint = "give --format tsv (or csv, jsonl) to read it with your own columns"
    elif fmt in ("jsonl", "text"):
        given = ["--columns"] if args.columns else []
        why = f"it is read as {'JSON Lines' if fmt == 'jsonl' else 'plain text'}"
        hint = "--columns names the columns of a CSV/TSV file without a header line"
    elif fmt == "parquet":
        given = _given(args, "columns", "encoding")
        why = "it is read as Parquet, which holds its own column names, types and encoding"
        hint = "leave them out for Parquet files"
    elif fmt == "xlsx":
        given = ["--encoding"] if getattr(args, "encoding", None) else []
        why = "it is read as an Excel workbook, whose cells hold text, not encoded bytes"
        hint = "leave them out for .xlsx files"
    else:  # CSV and TSV take every option but the sheet's
        given, why = [], "only Excel workbooks (.xlsx) have sheets"
        hint = f"leave {' and '.join(sheet) or '--sheet'} out"
    given += sheet + ([] if args.quoting or fmt in ("csv", "tsv") else ["--no-quoting"])
    if given:
        raise CommandError(f"{', '.join(given)} cannot apply to {path}: {why}; {hint}.")


def _given(args: argparse.Namespace, *names: str) -> list[str]:
    """The options of ``names`` given on the command line, as the user wrote them."""
    return [f"--{name.replace('_', '-')}" for name in names if getattr(args, name, None)]


def gold_layout(path: str, args: argparse.Namespace) -> LabelledLayout:
    """How to read the labelled file ``path`` for ``args.task`` (``evaluate``, ``calibrate``):
    NSMC unless told for sentiment, TSV for emotion; options the format cannot use are errors."""
    sentiment = args.task == "sentiment"
    layout = LabelledLayout.from_options(args, default_fmt="nsmc" if sentiment else "tsv")
    fmt = layout.format_of(path)
    if fmt == "nsmc" and not sentiment:
        raise CommandError("NSMC files hold sentiment labels; -t emotion reads CSV/TSV/JSONL.")
    check_file_options(path, fmt, args)
    return layout


def _names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(","))
    if "" in names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{value!r}: names must be distinct and non-empty")
    return names


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Which analyses, with which models (``analyze``, ``serve``)."""
    models = parser.add_argument_group("analyses")
    models.add_argument("-t", "--task", choices=tuple(TASKS), default="sentiment")
    models.add_argument(
        "--sentiment-model",
        metavar="MODEL",
        help="hub id, model directory or saved pipeline "
        "(default: cringepnh/koelectra-korean-sentiment); its calibration (korsent calibrate) "
        "is applied",
    )
    models.add_argument(
        "--emotion-model",
        metavar="MODEL",
        help="hub id, model directory or saved pipeline "
        "(default: hun3359/klue-bert-base-sentiment); its calibration is applied",
    )
    models.add_argument(
        "--sentences",
        action="store_true",
        help="also classify each sentence (split by korean_sentencizer when kiwipiepy is "
        "installed, else by spaCy's sentencizer)",
    )


def chosen_models(args: argparse.Namespace) -> dict[str, str | None]:
    """Factory -> model of the task parsed by :func:`add_model_options`."""
    chosen = {SENTIMENT: args.sentiment_model, EMOTION: args.emotion_model}
    return {factory: chosen[factory] for factory in TASKS[args.task]}


def add_pipeline_options(
    parser: argparse.ArgumentParser, *, stream: bool = True, calibration: bool = True
) -> None:
    """The component settings the commands pass through to ``add_pipe``; with ``stream``, also
    the batch size and progress bar of a command that reads a stream of documents (not
    ``serve``); with ``calibration``, ``--no-calibration`` (not for ``calibrate``, which always
    starts from the raw model)."""
    group = parser.add_argument_group("pipeline")
    if stream:
        group.add_argument(
            "--batch-size",
            metavar="N",
            type=positive_int,
            default=1024,
            help="documents classified (and written) together; the components' buffer_size",
        )
    group.add_argument("--device", help="torch device: cpu, cuda, cuda:1 ... (default: cpu)")
    group.add_argument(
        "--backend",
        choices=list(BACKENDS),
        default="torch",
        help="what runs the models (default: torch; onnx-int8 is the fastest on CPU; see "
        "the docs' Speed page)",
    )
    group.add_argument(
        "--max-length",
        metavar="N",
        type=positive_int,
        help="subword tokens per window (default: the components' 128); longer texts are split "
        "into overlapping windows",
    )
    group.add_argument(
        "--truncate", action="store_true", help="classify only the first window of a long text"
    )
    if calibration:
        group.add_argument(
            "--no-calibration",
            dest="calibration",
            action="store_false",
            help="the models' own probabilities and decisions: leave out the calibration saved "
            "with a model (temperature, neutral band, per-label thresholds)",
        )
    if stream:
        group.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def pipeline_options(args: argparse.Namespace) -> PipelineOptions:
    """The settings parsed by :func:`add_pipeline_options` (a command without one of them gets
    its default)."""
    names = [item.name for item in fields(PipelineOptions) if hasattr(args, item.name)]
    return PipelineOptions(**{name: getattr(args, name) for name in names})


class Warnings:
    """Print warnings to standard error: the first ``limit`` in full, then only how many more."""

    def __init__(self, command: str, limit: int = 20) -> None:
        self.command = command
        self.limit = limit
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if self.count <= self.limit:
            _print_err(f"korsent {self.command}: warning: {message}")

    def note(self, message: str) -> None:
        """Print a note (not a warning: something the run did that the user should know)."""
        _print_err(f"korsent {self.command}: note: {message}")

    def summarize(self) -> None:
        """Say how many warnings were not shown; call once at the end."""
        if self.count > self.limit:
            hidden = self.count - self.limit
            _print_err(f"korsent {self.command}: {hidden:,} more warnings were not shown.")


def _print_err(message: str) -> None:
    """Print a line to standard error without tearing a progress bar that is drawn there."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def progress(quiet: bool, count: Callable[[], int | None] | None = None) -> Any:
    """A tqdm bar on a terminal's standard error: documents per second, and the ETA if ``count``.

    Silent with ``quiet`` or when standard error is not a terminal; ``update(n)`` works either way.
    ``count`` (which may read a whole file) is only called for a bar that is shown.
    """
    from tqdm import tqdm

    shown = not quiet and sys.stderr.isatty()
    total = count() if shown and count is not None else None
    return tqdm(total=total, unit="doc", file=sys.stderr, disable=not shown, dynamic_ncols=True)
