"""``korsent calibrate``: fit a model's calibration on a labelled file and save it with the model.

The fits are :mod:`spacy_korsent.calibrate`'s, on the model's own probabilities (whatever
calibration the model had is set aside). ``-o`` gets a copy of the model in the form it was given:
a model directory (or hub id) becomes a model directory with ``calibration.json``; a saved pipeline
a saved pipeline whose component's ``model/calibration.json`` and ``config.cfg`` block hold the
values. ``-o`` may be the model directory itself: then only the calibration is written; another
directory that is not empty takes ``--overwrite`` (:mod:`.outputs`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..calibration import Calibration
from ..components.pipeline import build_pipeline
from ..components.registry import EMOTION, SENTIMENT
from ..files.labelled import (
    LABELLED_FORMATS,
    LabelledLayout,
    LabelMap,
    LabelSet,
    parse_label_map,
    read_labelled,
)
from ..files.writers import refuse_input_as_output
from ..interrupts import whole
from .common import (
    CommandError,
    Warnings,
    add_file_options,
    add_pipeline_options,
    gold_layout,
    pipeline_options,
    progress,
)
from .outputs import add_overwrite, check_output_dir, clear_output
from .products import Products

if TYPE_CHECKING:
    from ..calibrate import Fit
    from ..components.classifier import KoreanClassifier

REPORT_FILE = "calibration_report.json"
"""The before/after figures, written beside ``calibration.json``."""

DESCRIPTION = """\
Fit, on a labelled file, what makes a model's answers trustworthy on your data, and save the model
with it (OUT), so that spacy.load, the components, every korsent command and Ray apply it:

- a temperature (by log-loss) that makes the scores probabilities you can read;
- sentiment: for a negative/positive model given texts labelled neutral too, a neutral band on
  p(positive): texts inside it get the label "neutral";
- emotion: for a multi-label model, one threshold per label (labels with under 10 gold texts share
  one fitted on all labels).

Prints the figures before and after (measured on the same file: held-out texts tell more) and
writes them to OUT's calibration_report.json (and --report FILE). OUT is written in the form the
model was given: a model directory (hub ids too) or a saved pipeline; OUT may be the model
directory itself (or, with --overwrite, an earlier model to replace). The same values can be
set by hand: the components' temperature, neutral_band and thresholds settings, which win over a
saved calibration.json.

sentiment (default): an NSMC-format file (.txt, labels 0/1) or a CSV/TSV/JSONL file with
--text-column and --label-column whose labels are negative/neutral/positive (0/1 for
negative/positive); --label-map maps others, e.g. 1=negative,...,5=neutral,...,10=positive.
emotion: CSV/TSV/JSONL with the model's labels (or class indices); --label-separator for several
labels per text.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    parser = subparsers.add_parser(
        "calibrate",
        help="fit a temperature, neutral band or per-label thresholds on labelled data",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-m",
        "--model",
        metavar="MODEL",
        help="hub id, model directory or saved pipeline (default: the component's default model)",
    )
    parser.add_argument("-i", "--input", required=True, metavar="FILE", help="the labelled file")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="where to write the calibrated model"
    )
    parser.add_argument("-t", "--task", choices=("sentiment", "emotion"), default="sentiment")
    parser.add_argument("--report", metavar="FILE", help="also write the figures as JSON here")
    add_overwrite(parser)
    add_file_options(parser, format_flag="--format", formats=LABELLED_FORMATS, labelled=True)
    add_pipeline_options(parser, calibration=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read, predict, fit, print, write."""
    warn = Warnings("calibrate")
    source = Path(args.model) if args.model else None
    out = Path(args.output)
    in_place = source is not None and source.is_dir() and _same(source, out)
    if not in_place:
        check_output_dir(out, "-o", args.overwrite, [("the model", source)])
    refuse_input_as_output(args.report, [args.input], "--report")
    refuse_input_as_output(str(out), [args.input], "-o")
    data, layout = _read(args, warn)
    factory = SENTIMENT if args.task == "sentiment" else EMOTION
    nlp = build_pipeline({factory: args.model}, pipeline_options(args))
    component = cast("KoreanClassifier", nlp.get_pipe(factory))
    fit = _fit(component, data, parse_label_map(args.label_map), args.quiet)
    warn.summarize()
    report = {
        "model": component.model_name,
        "backend": args.backend,  # the probabilities fitted come from it
        "file": str(args.input),
        **fit.to_dict(),
    }
    print("\n".join(_table(report, fit)))
    _write(component, source, out, in_place, fit.calibration, report, args.overwrite)
    products = Products("calibrate")
    if args.report:
        products.make("the --report file", lambda: _save(Path(args.report), report))
    print(f"korsent calibrate: wrote {out}", file=sys.stderr)
    return products.exit_code


def _read(args: argparse.Namespace, warn: Warnings) -> tuple[Any, LabelledLayout]:
    layout = gold_layout(args.input, args)
    data = read_labelled(args.input, layout, warn=warn, note=warn.note)
    if not data.texts:
        raise CommandError(f"{args.input}: no labelled texts to fit on.")
    return data, layout


def _fit(component: KoreanClassifier, data: Any, label_map: LabelMap, quiet: bool) -> Fit:
    """The model's own probabilities for every text, and the fit for its kind."""
    import numpy as np

    from ..calibrate import decision_labels, fit_multi_label, fit_single_label, multi_hot

    labels = list(component.labels)
    names = decision_labels(labels) if component.spec.extension == "sentiment" else None
    aliases = {"0": "negative", "1": "positive"} if names else None
    label_set = LabelSet(names or labels, aliases=aliases, label_map=label_map)
    if component.multi_label:
        gold_rows = label_set.encode(data)
    else:
        gold_rows = [[index] for index in label_set.encode_single(data)]
    engine = component.engine
    found: list[Any] = []
    with progress(quiet, lambda: len(data.texts)) as bar:
        for start in range(0, len(data.texts), 256):
            chunk = data.texts[start : start + 256]
            found.extend(engine.predict(chunk))  # uncalibrated: the fit starts from the model
            bar.update(len(chunk))
    kept = [i for i, p in enumerate(found) if p is not None]
    if not kept:
        raise CommandError(f"{data.source}: no text has a token the model reads.")
    probs = np.stack([found[i] for i in kept])
    try:
        if component.multi_label:
            truth = multi_hot([gold_rows[i] for i in kept], len(labels))
            threshold = float(component.cfg.get("threshold", 0.5))
            return fit_multi_label(probs, truth, labels, threshold=threshold)
        gold = np.array([gold_rows[i][0] for i in kept])
        return fit_single_label(probs, gold, labels)
    except ValueError as err:
        raise CommandError(f"{data.source}: {err}") from err


def _table(report: dict[str, Any], fit: Fit) -> Iterator[str]:
    yield f"calibration of {report['model']} on {report['file']} ({fit.texts:,} texts)"
    for name, value in fit.calibration.to_dict().items():
        if name == "thresholds":
            shown = sorted(value.values())
            yield f"  thresholds    {len(value)} labels, {shown[0]:.3f} to {shown[-1]:.3f}"
        else:
            yield f"  {name:<13} {value}"
    yield ""
    yield f"  {'on the fitting data':<22}{'before':>9}{'after':>9}"
    for measure in fit.measures:
        yield f"  {measure.name:<22}{measure.before:>9.4f}{measure.after:>9.4f}  {measure.scope}"
    for note in fit.notes:
        yield f"  note: {note}"


def _write(
    component: KoreanClassifier,
    source: Path | None,
    out: Path,
    in_place: bool,
    calibration: Calibration,
    report: dict[str, Any],
    overwrite: bool,
) -> None:
    """OUT in the form of the source, carrying ``calibration`` (an earlier model in OUT goes
    first, with ``overwrite``)."""
    from ..components.registry import saved_model_dir

    with whole():  # Ctrl-C or SIGTERM waits for a whole directory
        try:
            if overwrite and not in_place:
                clear_output(out)
            if source is not None and source.is_dir():
                inner = saved_model_dir(source).relative_to(source)
                if not in_place:
                    shutil.copytree(source, out, dirs_exist_ok=True)
            else:  # a hub id: saved as a model directory
                inner = Path()
                component.save_model(out)
            model_dir = out / inner
            calibration.write(model_dir)
            _save(model_dir / REPORT_FILE, report)
            if (out / "config.cfg").is_file() and len(inner.parts) == 2:
                _set_in_config(out / "config.cfg", inner.parts[0], calibration)
        except OSError as err:
            raise CommandError(f"cannot write {out}: {err.strerror or err}.") from err


def _set_in_config(path: Path, component: str, calibration: Calibration) -> None:
    """The pipeline's config.cfg with the fitted values as the component's settings."""
    from spacy.util import load_config

    config = load_config(path, interpolate=False)
    config["components"][component].update(calibration.to_dict())
    config.to_disk(path)


def _save(path: Path, report: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err


def _same(a: Path, b: Path) -> bool:
    return b.exists() and a.resolve() == b.resolve()
