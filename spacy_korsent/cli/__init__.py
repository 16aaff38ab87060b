"""The ``korsent`` command line: ``analyze``, ``evaluate``, ``calibrate``, ``train``, ...

Each subcommand lives in its own module with ``register(subparsers)``; its ``run(args)`` returns
the exit code. Modules import spaCy, torch and transformers inside ``run``, so ``--help`` is fast.
Problems with the input or the model end the command with a one-line message and exit code 2;
Ctrl-C and SIGTERM end it with whole rows written and exit code 130 or 143 (:mod:`..interrupts`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..components.pipeline import PipelineError
from ..files.readers import InputError
from ..inference.loading import ModelNotFoundError
from ..interrupts import Terminated, exit_code, signals_handled
from .common import CommandError

COMMANDS = (
    "analyze",
    "evaluate",
    "calibrate",
    "train",
    "export",
    "convert",
    "report",
    "distill",
    "cache",
    "serve",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``korsent`` parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="korsent",
        description="Korean sentiment and emotion analysis with spaCy pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``korsent`` with ``argv`` (default: the process's arguments); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        with signals_handled():
            return args.func(args)
    except ModelNotFoundError as err:
        hint = "On the command line, give the directory with --sentiment-model/--emotion-model "
        hint += "(analyze) or --model (evaluate, train, export)."
        print(f"korsent {args.command}: error: {err} {hint}", file=sys.stderr)
        return 2
    except (CommandError, InputError, PipelineError) as err:
        print(f"korsent {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        how = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"korsent {args.command}: {how}.", file=sys.stderr)
        return exit_code(interrupt)
    except BrokenPipeError:
        # The reader went away (`korsent analyze ... | head`): stop quietly, as Unix tools do,
        # and keep Python from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
