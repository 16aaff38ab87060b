"""``korsent train``: fine-tune or train a classifier that korean_sentiment/korean_emotion load."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from ..files.labelled import LABELLED_FORMATS
from ..interrupts import exit_code
from ..scratch import temporary
from .common import Warnings, add_file_options, check_file_options, positive_int
from .outputs import add_overwrite, check_output_dir, clear_output

DESCRIPTION = """\
Train a sequence classifier on an NSMC-format file (.txt) or a labelled CSV/TSV/JSONL file and
write a model directory that korean_sentiment / korean_emotion load directly. The defaults are the
sentiment model card's recipe (up to 10 epochs, early stopping with patience 2 on the validation
loss, batch 32, lr 2e-5, 128 tokens); the validation set is a seeded split of the training data
(or --val), and --test is only scored once, on the best checkpoint, after training.

A --model keeps its trained classification head when the training labels are its classes (0/1
are negative/positive for a negative/positive model, as korsent evaluate reads them); other
labels get a new head, and the command says so before it trains. --label-map takes ranges of
ratings: --label-map 1-4=negative,5-8=neutral,9-10=positive trains a three-way model.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="fine-tune or train a sentiment/emotion classifier",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "train", metavar="TRAIN_FILE", type=Path, help="NSMC .txt, or a .csv, .tsv or .jsonl file"
    )
    parser.add_argument(
        "-o", "--output", metavar="DIR", type=Path, required=True, help="model directory to write"
    )
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--model", metavar="NAME_OR_DIR", help="checkpoint to fine-tune")
    start.add_argument(
        "--init-config",
        metavar="CONFIG_JSON",
        type=Path,
        help="transformers config (with model_type) to train from random weights",
    )
    parser.add_argument(
        "--tokenizer",
        metavar="DIR_OR_VOCAB",
        help="tokenizer directory or WordPiece vocab.txt (default: the --model's own)",
    )

    add_file_options(parser, format_flag="--format", formats=LABELLED_FORMATS, labelled=True)
    data = parser.add_argument_group("data")
    data.add_argument(
        "--labels",
        metavar="NAMES",
        help="class names in index order (a,b,c, or a file with one per line), or 'sentiment' or "
        "'emotion' for the components' label sets (default: negative,positive for NSMC and for "
        "0/1 labels on a negative/positive --model, whose head is then kept; the --label-map "
        "classes; LABEL_i for other integer labels 0..N-1; else the sorted label values)",
    )
    data.add_argument(
        "--val", metavar="FILE", type=Path, help="validation file (default: split from training)"
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of the training rows held out (seeded) for validation: %(default)s",
    )
    data.add_argument(
        "--test", metavar="FILE", type=Path, help="test file, scored once after training"
    )
    data.add_argument(
        "--limit", metavar="N", type=positive_int, help="use only the first N training rows"
    )

    recipe = parser.add_argument_group("training (defaults: the sentiment model card's recipe)")
    recipe.add_argument("--epochs", type=positive_int, default=10, help="at most: %(default)s")
    recipe.add_argument(
        "--patience",
        type=positive_int,
        default=2,
        help="stop after this many epochs without a better validation loss: %(default)s",
    )
    recipe.add_argument("--batch-size", type=positive_int, default=32, help="%(default)s")
    recipe.add_argument(
        "--lr", type=float, default=2e-5, help="peak AdamW learning rate: %(default)s"
    )
    recipe.add_argument(
        "--warmup", type=float, default=0.0, help="share of steps for linear warmup: %(default)s"
    )
    recipe.add_argument("--weight-decay", type=float, default=0.01, help="%(default)s")
    recipe.add_argument(
        "--max-length", type=positive_int, default=128, help="tokens per text: %(default)s"
    )
    recipe.add_argument("--seed", type=int, default=42, help="split, init and order: %(default)s")
    recipe.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    recipe.add_argument(
        "--threads",
        metavar="N",
        type=positive_int,
        help="torch CPU threads (default: torch's choice; fewer is faster on a busy machine)",
    )
    recipe.add_argument("--fp16", action="store_true", help="mixed precision (CUDA only)")
    add_overwrite(recipe)
    recipe.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars (they are only drawn on a terminal) and no per-epoch lines",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check everything, then train and report; 130 (Ctrl-C) or 143 (SIGTERM) when interrupted
    (the best model is kept).

    Bad input raises :class:`InputError` (or CommandError) before training starts; ``korsent``
    prints it and exits 2.
    """
    from ..components.registry import resolve_model
    from ..training import data, loop

    warn = Warnings("train")
    start = Path(args.model) if args.model else None
    check_output_dir(args.output, "--output", args.overwrite, [("the --model", start)])
    settings = _fill(loop.Settings, args)
    source = _fill(data.Source, args)
    for path in (args.train, args.val, args.test):
        if path is not None:
            check_file_options(path, source.layout.format_of(path), args)
    settings.device = loop.pick_device(settings)
    # Models are found (or refused, in seconds when offline) before a large file is read.
    checkpoint = resolve_model(args.model) if args.model else None
    tokenizer = args.tokenizer
    if tokenizer is not None and not Path(tokenizer).is_file():  # a vocab.txt is used as it is
        tokenizer = resolve_model(tokenizer)
    train_data, val_data, test_data = data.load_data(
        source,
        settings.seed,
        model_classes=loop.model_classes(checkpoint) if checkpoint else (),
        warn=warn,
        note=warn.note,
    )
    warn.summarize()
    with temporary("korsent-train-") as scratch:
        nlp, component = loop.build_pipeline(
            train_data.names,
            model=checkpoint,
            init_config=args.init_config,
            tokenizer=tokenizer,
            settings=settings,
            scratch=scratch,
        )
        if args.overwrite:  # an earlier run's files, which check_output_dir let go
            clear_output(args.output)
        args.output.mkdir(parents=True, exist_ok=True)
        loop.write_args(args.output, _recorded(args), train_data.names)
        if checkpoint:
            print(loop.head_plan(component, train_data.names), file=sys.stderr)
        print(
            f"training on {len(train_data.texts):,} texts, validating on "
            f"{len(val_data.texts):,}; labels {', '.join(train_data.names)}",
            file=sys.stderr,
        )
        outcome = loop.train(nlp, component, train_data, val_data, args.output, settings)
    best = outcome.best
    if best is None:
        print("interrupted before the first epoch ended: no model was written.", file=sys.stderr)
        return exit_code(outcome.interrupted)
    print(
        f"best epoch {best['epoch']} (val_loss {best['val_loss']:.4f}, val_accuracy "
        f"{best['val_accuracy']:.4f}); model in {args.output}"
    )
    if outcome.interrupted:
        print("interrupted: the best checkpoint so far is kept.", file=sys.stderr)
        return exit_code(outcome.interrupted)
    if test_data is not None:
        metrics = loop.test_report(args.output, test_data, settings)
        print(
            f"test: accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f} "
            f"on {metrics['n']:,} texts ({loop.TEST_FILE})"
        )
    return 0


def _fill(cls: Any, args: argparse.Namespace) -> Any:
    """A settings dataclass from the arguments of the same names."""
    return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


def _recorded(args: argparse.Namespace) -> dict[str, object]:
    """The command's arguments as plain JSON values."""
    return {
        key: str(value) if isinstance(value, Path) else value
        for key, value in vars(args).items()
        if key != "func"
    }
