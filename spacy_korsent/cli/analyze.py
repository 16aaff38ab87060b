"""``korsent analyze``: sentiment and emotions of texts, lines or table rows, as a stream.

This module is the command line: it parses the options into an
:class:`~.analysis.AnalysisRequest` (texts, or the files to read: one file, a directory of files,
standard input) and hands it to an engine: :mod:`.local_engine` (in this process) or
:mod:`.ray_engine` (on the workers of a Ray cluster), which read, analyse and write the same way.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from itertools import chain
from pathlib import Path
from typing import Callable

from ..files.readers import FORMATS, Layout, source_name
from ..files.sources import InputFile, input_files
from ..files.writers import OUTPUT_ENCODINGS, OUTPUT_FORMATS, output_format
from ..inference.backends import BACKENDS
from . import local_engine, ray_engine
from .analysis import HTML_LIMIT, AnalysisRequest, RayOptions
from .common import (
    CommandError,
    Warnings,
    add_file_options,
    add_model_options,
    add_pipeline_options,
    check_file_options,
    chosen_models,
    pipeline_options,
    positive_int,
)

DESCRIPTION = """\
Analyze texts given as arguments, lines of standard input, or a file: plain text (one document
per line), CSV/TSV or an Excel sheet (.xlsx, --sheet) with a header (or --columns), or JSON Lines;
--text-column names the text's column. The output keeps every input column and adds, per task:

  sentiment        sentiment (label), sentiment_score (its probability; empty for the neutral
                   answer of a neutral band), sentiment_<label> (the probability of each of the
                   model's labels, e.g. sentiment_positive)
  emotion          emotion (the most probable), emotion_score, emotion_labels (the predicted
                   emotions: every one at or above the threshold for a multi-label model),
                   emotion_group (one of six groups for the default model), emotions_top (the
                   top 3: label, gloss, group, score)

--sentences adds "sentences": a list of {text, start, end, <the same fields>} per sentence.
The output format comes from the -o file's suffix (.jsonl, .csv, .tsv, .parquet, .xlsx) unless -f
names one; standard output gets JSON Lines. CSV and TSV files are UTF-8 with a byte order mark, as
Excel needs (--output-encoding). Lists are JSON text in CSV, TSV and .xlsx cells and native lists
in Parquet, where input columns keep their types.
Empty texts get empty results. Added fields replace input columns of the same name.
"""

ENGINES: dict[str, Callable[[AnalysisRequest, Warnings], int]] = {
    "local": local_engine.run,
    "ray": ray_engine.run,
}
RAY_ONLY = ("workers", "cpus_per_worker", "gpus_per_worker", "address")


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
        "--output-encoding",
        choices=OUTPUT_ENCODINGS,
        help="of CSV/TSV output (default: utf-8-sig for files, which Excel reads as UTF-8 only "
        "with this byte order mark; utf-8 for standard output); cp949 writes characters it "
        "lacks as ? with a warning",
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
    source.add_argument(
        "--id-column",
        metavar="NAME",
        help="the column or field whose value heads each row on the --html page, next to its "
        "number (default: id, where the rows have one)",
    )
    add_model_options(parser)
    add_pipeline_options(parser)
    add_engine_options(parser)
    parser.set_defaults(func=run)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and the options of the Ray engine."""
    group = parser.add_argument_group("engine (see the docs' Scale-out on Ray page)")
    group.add_argument(
        "--engine",
        choices=tuple(ENGINES),
        default="local",
        help="local: in this process (default); ray: on the workers of a Ray cluster, or of a "
        "local Ray instance (both read -i FILE or DIRECTORY: JSONL, CSV, TSV, XLSX, text, "
        "Parquet)",
    )
    group.add_argument(
        "--workers",
        metavar="N",
        type=positive_int,
        help="Ray workers, each with its own copy of the models (default: as many as the "
        "cluster's CPUs, or GPUs, allow; at most one per block of --batch-size rows)",
    )
    group.add_argument(
        "--cpus-per-worker",
        metavar="N",
        type=positive_int,
        help="CPUs (threads) per Ray worker (default: a node's CPUs, at most 4, and with "
        "--workers no more than the cluster's CPUs shared among them; 1 with GPUs)",
    )
    group.add_argument(
        "--gpus-per-worker",
        metavar="G",
        type=float,
        help="GPUs per Ray worker, e.g. 1, or 0.5 for two workers on a GPU (default: none)",
    )
    group.add_argument(
        "--address",
        metavar="ADDR",
        help="join the Ray cluster at ADDR (auto, or HEAD_IP:6379; run on a node of it) "
        "instead of starting a local Ray instance",
    )


def run(args: argparse.Namespace) -> int:
    """Build the request from the options and run it on the engine asked for."""
    warn = Warnings("analyze")
    fmt = output_format(args.output, args.format)
    _take_file_argument(args, warn)
    _check_engine_options(args)
    if args.id_column and not args.html:
        raise CommandError("--id-column names the ids shown on the --html page: give --html too.")
    text_column = args.text_column or "text"
    files = _input_files(args, text_column, warn)
    for file in files:
        check_file_options(source_name(file.path), file.fmt, args)
    request = AnalysisRequest(
        models=chosen_models(args),
        texts=tuple(args.texts),
        files=tuple(files),
        input=args.input,
        layout=Layout.from_options(args),
        text_column=text_column,
        sentences=args.sentences,
        output=args.output,
        output_format=fmt,
        html=args.html,
        html_limit=args.html_limit,
        id_column=args.id_column,
        escape_formulas=args.escape_formulas,
        output_encoding=args.output_encoding,
        pipeline=pipeline_options(args),
        quiet=args.quiet,
        ray=RayOptions(args.workers, args.cpus_per_worker, args.gpus_per_worker, args.address),
    )
    return ENGINES[args.engine](request, warn)


def _check_engine_options(args: argparse.Namespace) -> None:
    """Options of the Ray engine without it, and what the Ray engine cannot read or use."""
    if args.engine != "ray":
        given = [
            f"--{name.replace('_', '-')}" for name in RAY_ONLY if getattr(args, name) is not None
        ]
        if given:
            raise CommandError(f"{', '.join(given)} only work with --engine ray.")
        return
    if args.texts or not args.input or args.input == "-":
        raise CommandError(
            "--engine ray reads a file or a directory of files: give it with -i/--input."
        )
    if args.device:
        raise CommandError(
            "--device does not apply to --engine ray: give the workers GPUs with --gpus-per-worker."
        )
    kind = BACKENDS[args.backend]
    if kind.runtime != "torch" and args.gpus_per_worker:
        raise CommandError(
            f"--backend {args.backend} runs on CPUs: leave --gpus-per-worker out, or use "
            "--backend torch on the workers' GPUs."
        )
    if kind.dtype == "float16":
        raise CommandError(
            f"--backend {args.backend} cannot go to Ray workers: the pipeline is built on this "
            "machine's CPU first. Use --backend torch with --gpus-per-worker."
        )


def _input_files(args: argparse.Namespace, text_column: str, warn: Warnings) -> list[InputFile]:
    """The files to read (none for texts given as arguments): -i FILE or DIRECTORY, or
    standard input, whose format is recognized from its first lines."""
    if args.texts:
        if args.input:
            raise CommandError("give texts as arguments or --input, not both.")
        return []
    if args.input not in (None, "-"):
        return input_files(args.input, args.fmt)
    if sys.stdin.isatty():
        raise CommandError(
            "nothing to analyze: give texts as arguments, --input FILE, or pipe lines to stdin."
        )
    stream, fmt = _sniff_stdin(args.fmt, text_column, warn)
    return [InputFile("-", fmt, stream)]


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


def _sniff_stdin(fmt: str | None, text_column: str, warn: Warnings) -> tuple[Iterable[bytes], str]:
    """Standard input's bytes and format: a JSON Lines or CSV/TSV table is recognized, not read
    line by line; a table without the text column is refused."""
    lines = iter(sys.stdin.buffer)
    head = [line for line in (next(lines, b""), next(lines, b"")) if line]
    stream = chain(head, lines)
    if fmt is not None or not head:
        return stream, fmt or "text"
    if head[0].startswith(ZIP):
        warn.note("standard input is a ZIP archive: read as an Excel workbook (.xlsx).")
        return stream, "xlsx"
    first = _LINE_END.split(head[0].decode("utf-8", "replace"))[0].lstrip("\ufeff").strip()
    if first.startswith("{") and _is_json_object(first):
        warn.note("standard input holds JSON Lines: read as such (--input-format overrides).")
        return stream, "jsonl"
    delimiter = "\t" if "\t" in first else ","
    header = [name.strip().strip('"') for name in first.split(delimiter)]
    kind = "tsv" if delimiter == "\t" else "csv"
    if len(header) >= 2 and text_column in header:
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
            f"column {text_column!r}: name the text's column with --text-column (and "
            f"--input-format {kind}), or give --input-format text to analyze each line."
        )
    return stream, "text"


_NAME = re.compile(r"[\w.-]{1,40}")
ZIP = b"PK\x03\x04"
"""How a ZIP archive, and so an .xlsx workbook, starts."""
_LINE_END = re.compile(r"\r\n?|\n")


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
