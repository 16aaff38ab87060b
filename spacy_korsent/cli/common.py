"""What ``korsent analyze`` and ``korsent evaluate`` share: pipeline options, warnings, progress.

Both build the pipeline a library user would (``blank_korean()`` + ``add_pipe``) so that the
command line measures what the library runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from spacy.language import Language

SENTIMENT = "korean_sentiment"
EMOTION = "korean_emotion"


class CommandError(Exception):
    """A problem the command reports in one line and exits with code 2 for (no traceback)."""


def positive_int(value: str) -> int:
    """An argparse type for counts that must be at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """The component settings both commands pass through to ``add_pipe``."""
    group = parser.add_argument_group("pipeline")
    group.add_argument(
        "--batch-size",
        metavar="N",
        type=positive_int,
        default=1024,
        help="documents classified (and written) together; the components' buffer_size",
    )
    group.add_argument("--device", help="torch device: cpu, cuda, cuda:1 ... (default: cpu)")
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
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_pipeline(
    models: dict[str, str | None], args: argparse.Namespace, *, sentences: bool = False
) -> Language:
    """A blank Korean pipeline with the given components (factory -> model), models loaded.

    A model of None keeps the factory's default hub id. With ``sentences`` a sentencizer goes
    first and the components classify each sentence as well.
    """
    from spacy_korsent import blank_korean

    if args.device:
        _check_device(args.device)
    nlp = blank_korean()
    if sentences:
        nlp.add_pipe("sentencizer")
    for factory, model in models.items():
        config: dict[str, Any] = {
            "buffer_size": args.batch_size,
            "truncate": args.truncate,
            "device": args.device,
            "sentences": sentences,
        }
        if args.max_length is not None:
            config["max_length"] = args.max_length
        if model is not None:
            config["model"] = model
        try:
            nlp.add_pipe(factory, config=config).initialize()
        except ValueError as err:  # the components' checks of model and settings
            raise CommandError(str(err)) from err
    return nlp


def _check_device(device: str) -> None:
    import torch

    try:
        kind = torch.device(device).type
    except RuntimeError as err:
        raise CommandError(f"--device {device!r} is not a torch device: {err}") from err
    if kind == "cuda" and not torch.cuda.is_available():
        raise CommandError(f"--device {device!r}: torch sees no CUDA GPU on this machine.")


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

    def summarize(self) -> None:
        """Say how many warnings were not shown; call once at the end."""
        if self.count > self.limit:
            hidden = self.count - self.limit
            _print_err(f"korsent {self.command}: {hidden:,} more warnings were not shown.")


def _print_err(message: str) -> None:
    """Print a line to standard error without tearing a progress bar that is drawn there."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def progress(quiet: bool, count: Callable[[], int] | None = None) -> Any:
    """A tqdm bar on a terminal's standard error: documents per second, and the ETA if ``count``.

    Silent with ``quiet`` or when standard error is not a terminal; ``update(n)`` works either way.
    ``count`` (which may read a whole file) is only called for a bar that is shown.
    """
    from tqdm import tqdm

    shown = not quiet and sys.stderr.isatty()
    total = count() if shown and count is not None else None
    return tqdm(total=total, unit="doc", file=sys.stderr, disable=not shown, dynamic_ncols=True)


def count_lines(path: Path) -> int:
    """The number of lines in a file, read in large blocks (for a progress bar's total)."""
    count, last = 0, b"\n"
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")
