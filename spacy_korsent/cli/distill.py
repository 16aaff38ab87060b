"""``korsent distill``: a smaller, faster student that gives a teacher model's answers."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..files.readers import FORMATS
from ..inference.backends import BACKENDS
from ..interrupts import exit_code
from .common import CommandError, Warnings, add_file_options, check_file_options, positive_int
from .outputs import add_overwrite, check_output_dir

if TYPE_CHECKING:
    from ..training.recipe import Settings

DESCRIPTION = """\
Distil a sentiment or emotion model into a smaller student on unlabelled texts. The teacher (a hub
id, a model directory or a saved pipeline) labels every text once through its spaCy component on
--backend, and the labels are cached (an interrupted run resumes). The student keeps the teacher's
vocabulary and labels, with fewer layers (--layers, started from every k-th teacher layer) and/or a
smaller width (--hidden, embeddings projected onto their principal directions), and learns the
teacher's probabilities softened by --temperature, plus gold labels where --label-column gives them.
The best student on a held-out part (most agreement with the teacher) is written to --output as
a Hugging Face model directory that korean_sentiment/korean_emotion load, with distill.json:
agreement, gold accuracy of both where known, docs/s of both on --backend, sizes. Ctrl-C (exit
130) or SIGTERM (143) keeps the best student so far.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``distill`` subcommand."""
    parser = subparsers.add_parser(
        "distill",
        help="train a smaller, faster student on a teacher model's answers",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--teacher", metavar="MODEL", required=True, help="hub id, model directory or pipeline"
    )
    parser.add_argument(
        "--teacher-component",
        metavar="NAME",
        help="the teacher's component in a saved pipeline with several",
    )
    parser.add_argument(
        "--texts",
        metavar="FILE",
        nargs="+",
        type=Path,
        required=True,
        help="files of texts: plain text (one per line), CSV/TSV, JSON Lines",
    )
    parser.add_argument(
        "-o", "--output", metavar="DIR", type=Path, required=True, help="student directory"
    )
    add_overwrite(parser)
    add_file_options(parser, format_flag="--format", formats=FORMATS, labelled=True)

    shape = parser.add_argument_group("the student")
    shape.add_argument("--layers", type=positive_int, help="layers (default: the teacher's)")
    shape.add_argument("--hidden", type=positive_int, help="width (default: the teacher's)")
    shape.add_argument(
        "--init",
        choices=("teacher", "random"),
        default="teacher",
        help="start from the teacher's weights (default) or from random ones",
    )

    teacher = parser.add_argument_group("teacher labels")
    teacher.add_argument(
        "--backend",
        choices=list(BACKENDS),
        default="torch",
        help="how the teacher labels (and both models are timed): torch (default, exact), or any "
        "other backend of the components, e.g. onnx-int8 (fastest on CPU; distill.json says how "
        "often it agrees with torch)",
    )
    teacher.add_argument(
        "--cache",
        metavar="DIR",
        type=Path,
        help="where teacher labels are kept (default: distill/ in the cache directory, see korsent "
        "cache)",
    )

    recipe = parser.add_argument_group("training")
    defaults = _defaults()
    recipe.add_argument("--temperature", type=float, default=defaults.temperature)
    recipe.add_argument(
        "--gold-weight",
        type=float,
        default=defaults.gold_weight,
        help="share of the loss on gold labels where --label-column gives them: %(default)s",
    )
    recipe.add_argument("--epochs", type=positive_int, default=defaults.epochs)
    recipe.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
    recipe.add_argument("--lr", type=float, default=defaults.lr, help="peak AdamW learning rate")
    recipe.add_argument("--warmup", type=float, default=defaults.warmup, help="share of steps")
    recipe.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    recipe.add_argument(
        "--max-length", type=positive_int, default=128, help="subword tokens per window"
    )
    recipe.add_argument(
        "--val-fraction",
        type=float,
        default=defaults.val_fraction,
        help="share of the texts held out to choose the best student (at most 10,000)",
    )
    recipe.add_argument(
        "--eval-every",
        metavar="STEPS",
        type=positive_int,
        help="also check the held-out part every STEPS batches (default: once an epoch)",
    )
    recipe.add_argument(
        "--patience",
        type=positive_int,
        default=defaults.patience,
        help="stop after this many checks without more agreement",
    )
    recipe.add_argument("--seed", type=int, default=defaults.seed)
    recipe.add_argument("--device", help="torch device for the teacher and training (default cpu)")
    recipe.add_argument("--threads", type=positive_int, help="torch CPU threads")
    recipe.add_argument(
        "--speed-texts",
        metavar="N",
        type=int,
        default=defaults.speed_texts,
        help="held-out texts both models are timed on (0: no timing): %(default)s",
    )
    recipe.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _defaults() -> Settings:
    from ..training.recipe import Settings

    return Settings()


def run(args: argparse.Namespace) -> int:
    """Distil; 130 (Ctrl-C) or 143 (SIGTERM) when interrupted (the best student so far is kept)."""
    from ..files.readers import Layout, guess_format
    from ..training import distill, teacher
    from ..training.corpus import read_corpus
    from ..training.recipe import Settings

    warn = Warnings("distill")
    output: Path = args.output
    check_output_dir(
        output, "--output", args.overwrite, [("the teacher", Path(args.teacher).expanduser())]
    )
    if args.layers is None and args.hidden is None:
        raise CommandError("give the student's size: --layers N and/or --hidden N.")
    if args.speed_texts < 0:
        raise CommandError(f"--speed-texts must be 0 or more, not {args.speed_texts}.")
    spec = teacher.TeacherSpec(
        args.teacher, args.backend, args.max_length, args.device, args.teacher_component
    )
    teacher.model_source(spec)  # a missing teacher fails before a large file is read
    sources = []
    for path in args.texts:
        if not path.is_file():
            raise CommandError(f"--texts {path}: no such file.")
        fmt = args.fmt or guess_format(path)
        check_file_options(path, fmt, args)
        sources.append((path, Layout.from_options(args, fmt)))
    corpus = read_corpus(
        sources,
        text_column=args.text_column or "text",
        label_column=args.label_column,
        label_separator=args.label_separator,
        warn=warn,
        note=warn.note,
    )
    warn.summarize()
    names = [f.name for f in dataclasses.fields(Settings) if f.name != "max_val"]
    settings = Settings(**{name: getattr(args, name) for name in names})
    try:
        outcome = distill.distill(
            corpus,
            spec,
            output,
            settings,
            cache_root=args.cache or teacher.default_cache(),
            label_map=args.label_map,
            log=warn.note,
        )
    except ValueError as err:  # a student shape the teacher cannot give, a component's refusal
        raise CommandError(str(err)) from err
    return _summary(outcome.report, outcome.interrupted, output)


def _summary(report: dict, interrupted: Optional[KeyboardInterrupt], output: Path) -> int:
    """Print what was reached; the exit code (130 for Ctrl-C, 143 for SIGTERM)."""
    best = report.get("best")
    if best is None:
        print("interrupted before the first check: no student was written.", file=sys.stderr)
        return exit_code(interrupted)
    if interrupted is not None:
        print(
            f"interrupted: the best student so far (agreement {best['agreement']:.4f} on the "
            f"held-out texts) is in {output}.",
            file=sys.stderr,
        )
        return exit_code(interrupted)
    held = report["held_out"]
    line = (
        f"student in {output}: agrees with the teacher on {held['agreement']:.2%} of "
        f"{held['texts']:,} held-out texts ({held['backend']})"
    )
    if "student_gold" in held:
        key = next(iter(held["student_gold"]))
        line += (
            f"; gold {key} {held['student_gold'][key]:.4f} against the teacher's "
            f"{held['teacher_gold'][key]:.4f}"
        )
    speed = report.get("speed")
    if speed:
        line += (
            f"; {speed['student_docs_per_s']:.0f} docs/s against {speed['teacher_docs_per_s']:.0f}"
            f" ({speed['speedup']:.1f}x)"
        )
    print(line + ". Details: " + str(output / "distill.json"))
    return 0
