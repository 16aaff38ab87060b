"""The directory a command writes (``train``, ``distill``, ``export``, ``calibrate``): one
``--overwrite``, one check, one set of messages.

Without ``--overwrite`` a command refuses an output directory that is not empty. With it, the
command replaces what an earlier run left there (a model directory, a saved pipeline, a training
run's files) and nothing else: a directory of other files is refused all the same, and so is an
output that is, or holds, the command's own input (the model it starts from).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from .common import CommandError

EARLIER_RUN = ("config.json", "config.cfg", "training_args.json", "training_log.jsonl")
"""Files that mark a directory as korsent's or spaCy's output: a model, a pipeline, a run."""
CHECKPOINT = ".checkpoint-"
"""A killed training run's leftover checkpoints (see :mod:`spacy_korsent.scratch`)."""

HELP = (
    "replace the output directory when it holds an earlier model, pipeline or training run "
    "(a directory of other files is never touched)"
)


def add_overwrite(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The ``--overwrite`` flag, worded the same in every command."""
    parser.add_argument("--overwrite", action="store_true", help=HELP)


def check_output_dir(
    path: Path,
    option: str,
    overwrite: bool,
    inputs: Iterable[tuple[str, Optional[Path]]] = (),
) -> None:
    """Refuse, before any work, an output directory the command must not write.

    ``option`` names it in messages (``--output``, ``-o``, ``OUTPUT``); ``inputs`` are
    ``(what, path)`` pairs (``("the teacher", Path(...))``) it must neither be nor hold.
    """
    if path.is_file():
        raise CommandError(f"{option} {path} is a file; give a directory.")
    for what, source in inputs:
        if source is not None and source.exists():
            target, given = path.resolve(), source.resolve()
            if target == given or target in given.parents:
                raise CommandError(
                    f"{option} {path} holds {what} {source}: give the output a directory of "
                    "its own."
                )
    if not path.is_dir() or not any(path.iterdir()):
        return
    if not overwrite:
        raise CommandError(
            f"{option} {path} is not empty; choose another {option} or add --overwrite."
        )
    if not holds_earlier_run(path):
        raise CommandError(
            f"{option} {path} holds files that are not a model, pipeline or training run; "
            f"--overwrite only replaces one of those. Choose another {option}."
        )


def holds_earlier_run(path: Path) -> bool:
    """Whether ``path`` holds what a korsent or spaCy command writes (so --overwrite may go)."""
    return any((path / name).is_file() for name in EARLIER_RUN) or any(
        entry.name.startswith(CHECKPOINT) for entry in path.iterdir()
    )


def clear_output(path: Path) -> None:
    """Remove an earlier run's directory that :func:`check_output_dir` let ``--overwrite``
    replace, so that none of its files (an old ``calibration.json``) outlives it."""
    if path.is_dir() and any(path.iterdir()):
        shutil.rmtree(path)
