"""``korsent export``: write a pipeline that runs its components with ONNX Runtime.

Exporting takes a few seconds to a minute for a base-sized model; a pipeline written by this command
carries the export (``<component>/model.onnx``), so ``spacy.load`` of it starts without one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..components.registry import EMOTION, SENTIMENT
from ..files.packing import member_path
from ..interrupts import whole
from .common import CommandError
from .outputs import add_overwrite, check_output_dir, clear_output

if TYPE_CHECKING:
    from spacy.language import Language

    from ..components.classifier import KoreanClassifier

DESCRIPTION = """\
Export the korean_sentiment / korean_emotion components of a pipeline to ONNX and write a pipeline
that uses them: spacy.load(OUTPUT) then runs ONNX Runtime (install with
pip install "spacy-korsent[onnx]"). SOURCE is a pipeline directory saved with nlp.to_disk, or a
model (hub id or directory) for a new one-component pipeline (--task). --quantize stores int8
weights: two to three times faster again on CPU, probabilities a little off the float ones. Each
component's ONNX file is OUTPUT/<component>/model.onnx, with inputs input_ids and attention_mask
(int64, batch x length) and output logits.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="write a pipeline whose components run with ONNX Runtime",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE", help="pipeline directory, or model")
    parser.add_argument("output", metavar="OUTPUT", type=Path, help="pipeline directory to write")
    parser.add_argument(
        "-t",
        "--task",
        choices=("sentiment", "emotion"),
        default="sentiment",
        help="the component for a SOURCE that is a model (default: sentiment)",
    )
    parser.add_argument("--quantize", action="store_true", help="int8 dynamic quantization")
    add_overwrite(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load or build the pipeline on an ONNX backend (which exports), then save it."""
    source = Path(args.source)
    check_output_dir(args.output, "OUTPUT", args.overwrite, [("the source", source)])
    settings = {"backend": "onnx-int8" if args.quantize else "onnx"}
    try:
        if (source / "config.cfg").is_file():
            nlp, names = _load_pipeline(source, settings)
        else:
            factory = SENTIMENT if args.task == "sentiment" else EMOTION
            nlp, names = _new_pipeline(args.source, factory, settings)
    except (ImportError, ValueError) as err:  # onnx not installed; the components' checks
        raise CommandError(str(err)) from err
    with whole():  # Ctrl-C or SIGTERM waits for a whole pipeline (the export is done by now)
        if args.overwrite:
            clear_output(args.output)
        nlp.to_disk(args.output)
    for name in names:
        print(args.output / name / "model.onnx")
    return 0


def _load_pipeline(path: Path, settings: dict[str, Any]) -> tuple[Language, list[str]]:
    import spacy

    blocks = spacy.util.load_config(path / "config.cfg").get("components", {})
    for name in blocks:  # spaCy reads and writes each component's files under its name
        try:
            member_path(path, name)
        except ValueError as err:
            raise CommandError(f"{path}: a component's name cannot be a directory: {err}.") from err
    names = [name for name, block in blocks.items() if block.get("factory") in (SENTIMENT, EMOTION)]
    if not names:
        raise CommandError(f"the pipeline {path} has no {SENTIMENT} or {EMOTION} component.")
    overrides = {
        f"components.{name}.{key}": value for name in names for key, value in settings.items()
    }
    return spacy.load(path, config=overrides), names


def _new_pipeline(model: str, factory: str, settings: dict[str, Any]) -> tuple[Language, list[str]]:
    from ..components.blank import blank_korean

    nlp = blank_korean()
    component = nlp.add_pipe(factory, config={"model": model, **settings})
    cast("KoreanClassifier", component).initialize()
    return nlp, [factory]
