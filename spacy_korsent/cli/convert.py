"""``korsent convert``: labelled files to ``.spacy`` files for ``spacy train``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..files.labelled import LABELLED_FORMATS, SENTIMENT_NAMES, binary_as_sentiment
from ..files.writers import refuse_input_as_output, same_file
from ..interrupts import whole
from .common import CommandError, Warnings, add_file_options, check_file_options, positive_int

if TYPE_CHECKING:
    from ..training.data import Labelled

DESCRIPTION = """\
Turn a labelled file (NSMC .txt, or CSV/TSV/JSONL/XLSX with a text and a label column) into a .spacy
file of docs whose gold doc.cats give every label 1.0 or 0.0, for spacy train (--paths.train,
--paths.dev). The file is read as korsent train reads it (the same reader and options; --labels
fixes the names and their order, --label-map maps values to them, also by ranges of ratings such
as 1-4=negative,5-8=neutral,9-10=positive). Labels 0/1 are written as LABEL_0/LABEL_1, which
korean_sentiment reads as negative/positive when it fine-tunes a negative/positive model (keeping
its head). --dev FILE also writes a seeded held-out part (--dev-fraction) there.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="labelled NSMC/CSV/TSV/JSONL files to .spacy files for spacy train",
        description=DESCRIPTION,
    )
    parser.add_argument("input", metavar="INPUT", type=Path, help="the labelled file")
    parser.add_argument("output", metavar="OUTPUT", type=Path, help=".spacy file to write")
    add_file_options(parser, format_flag="--format", formats=LABELLED_FORMATS, labelled=True)
    parser.add_argument(
        "--labels",
        metavar="NAMES",
        help="class names in index order (a,b,c), 'sentiment' or 'emotion' (as korsent train)",
    )
    parser.add_argument("--dev", metavar="FILE", type=Path, help="also write a held-out part")
    parser.add_argument(
        "--dev-fraction", type=float, default=0.1, help="share held out for --dev: %(default)s"
    )
    parser.add_argument("--seed", type=int, default=42, help="of the --dev split: %(default)s")
    parser.add_argument("--limit", metavar="N", type=positive_int, help="only the first N rows")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, label, (split,) write; 2 when the input cannot be used."""
    from ..training.data import Source, read_labelled, split_validation

    source = Source(
        train=args.input,
        fmt=args.fmt,
        text_column=args.text_column,
        label_column=args.label_column,
        columns=args.columns,
        quoting=args.quoting,
        encoding=args.encoding,
        sheet=args.sheet,
        strict_rows=args.strict_rows,
        max_sheet_cells=args.max_sheet_cells,
        max_sheet_text=args.max_sheet_text,
        labels=args.labels,
        label_map=args.label_map,
        label_separator=args.label_separator,
        limit=args.limit,
    )
    check_file_options(args.input, source.layout.format_of(args.input), args)
    refuse_input_as_output(args.output, [args.input], "OUTPUT")
    if args.dev is not None:
        refuse_input_as_output(args.dev, [args.input], "--dev")
        if same_file(args.dev, args.output):
            raise CommandError(f"--dev {args.dev} is OUTPUT: give the held-out part its own file.")
    warn = Warnings("convert")
    data = read_labelled(source, warn=warn, note=warn.note)
    if binary_as_sentiment(data.names, SENTIMENT_NAMES):
        warn.note(
            f"the labels 0/1 are written as {', '.join(data.names)}; korean_sentiment reads them "
            "as negative/positive (1 = positive) when spacy train fine-tunes a negative/positive "
            "model, whose head is then kept. Name other classes with --labels (e.g. spam,ham)."
        )
    warn.summarize()
    parts = [(args.output, data)]
    if args.dev is not None:
        train, dev = split_validation(data, args.dev_fraction, args.seed)
        parts = [(args.output, train), (args.dev, dev)]
    for path, part in parts:
        _write(path, part)
        print(f"{path}: {len(part.texts):,} docs, labels {', '.join(part.names)}", file=sys.stderr)
    return 0


def _write(path: Path, data: Labelled) -> None:
    from spacy.tokens import DocBin

    from ..components.blank import blank_korean

    nlp = blank_korean()
    nlp.max_length = sys.maxsize  # a huge text is windowed by the component, as in analyze
    docs = DocBin()
    for doc, cats in zip(nlp.pipe(data.texts), data.cats()):
        doc.cats = cats
        docs.add(doc)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with whole():  # Ctrl-C or SIGTERM waits for a whole file
            docs.to_disk(path)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err
