"""``korsent evaluate``: reproduce a model card's figures with one command, on any labelled file.

Sentiment reads NSMC (cleaned as the sentiment model card did) or a labelled CSV/TSV/JSON Lines
file; emotions read a labelled CSV/TSV/JSON Lines file. Both read with the shared labelled reader
(:mod:`spacy_korsent.files.labelled`) and run the same pipeline as ``analyze``. This module only
handles the options and renders the report: the scoring is :mod:`spacy_korsent.evaluation`'s
(which Python users call directly), the figure :mod:`spacy_korsent.evaluation.plot`'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

from ..components.pipeline import build_pipeline
from ..components.registry import EMOTION, SENTIMENT
from ..evaluation.reports import MultiLabelReport, Report
from ..files.labelled import (
    LABELLED_FORMATS,
    LabelledRows,
    LabelMap,
    parse_label_map,
    read_labelled,
    sentiment_labels,
)
from ..files.readers import InputError
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
from .products import Products

if TYPE_CHECKING:
    import numpy as np
    from spacy.language import Language

    from ..components.classifier import KoreanClassifier

DESCRIPTION = """\
Evaluate a model on a labelled file and print the metrics.

sentiment (default): an NSMC-format file (.txt: id<TAB>document<TAB>label with a header, label 1 =
positive), cleaned as the model card did: empty documents dropped, then duplicate documents
dropped keeping the first (also when their labels conflict); or a CSV/TSV/JSONL file with
--text-column and --label-column, whose labels are negative/positive (or neutral) or 0/1
(--label-map maps others, e.g. 1=negative,5=positive, or ranges: 1-4=negative,9-10=positive).
Reports the counts, accuracy, precision/recall/F1 of the positive class, the confusion matrix and
documents per second.

emotion: JSON Lines (.jsonl), CSV (.csv) or TSV (otherwise) with a text and a label column; a
label is one of the model's labels (for the default model also its English gloss) or its class
index. Rows with an empty text are dropped. A single-label model: accuracy, macro-F1 (over the
labels that occur), top-3 accuracy, and for the default 60-label model accuracy over the six
major groups with the 6x6 group confusion matrix. A multi-label model (or gold cells with several
labels, --label-separator): micro and macro F1 of the labels at or above --threshold, per-label
F1, exact match and labels per text.

Every report also says how far the probabilities can be trusted: the expected calibration error
(ECE: the gap between confidence and accuracy over 15 bins; 0 is perfect) and the Brier score,
of each text's top class (multi-label: of every (text, label) score); --plot draws the
reliability diagram beside the confusion matrix. Sentiment gold with neutral texts (e.g.
--label-map 1-4=negative,5-8=neutral,9-10=positive on ratings) is scored three ways, with
per-class and macro F1: a negative/positive model that never answers neutral gets 0 for it.

--json writes the metrics as JSON (keys: task, file, model, counts, the metrics, confusion or
group_confusion, documents, unscored, seconds, docs_per_second, ece, brier, reliability,
calibration_texts (which texts ece and brier are on); three-way sentiment adds macro_f1 and
per_class, and for a model without a neutral probability calibration_on_model_classes: ECE and
Brier score on its negative/positive texts, as korsent calibrate measures them).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="metrics of a model on NSMC or a labelled CSV/TSV/JSONL file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the labelled file")
    parser.add_argument(
        "-m",
        "--model",
        metavar="MODEL",
        help="hub id, model directory or saved pipeline (default: the component's default model)",
    )
    parser.add_argument("-t", "--task", choices=("sentiment", "emotion"), default="sentiment")
    add_file_options(parser, format_flag="--format", formats=LABELLED_FORMATS, labelled=True)
    parser.add_argument("--json", metavar="FILE", help="write the metrics as JSON ('-': stdout)")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the confusion matrix (multi-label: the per-label F1) and the reliability "
        "diagram of the probabilities",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="P",
        help="multi-label: the score at which a label counts as predicted (default: the "
        "component's threshold, 0.5)",
    )
    add_pipeline_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the options, read, classify and score (:mod:`spacy_korsent.evaluation`), report."""
    warn = Warnings("evaluate")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        refuse_input_as_output(path, [args.file], option)
    if args.plot:
        _matplotlib()
    label_map = parse_label_map(args.label_map)
    data = _read(args, label_map, warn)
    factory = SENTIMENT if args.task == "sentiment" else EMOTION
    nlp = build_pipeline({factory: args.model}, pipeline_options(args), note=warn.note)
    report = _evaluate(nlp, data, label_map, args)
    # The JSON names the file and its counts next to the report's own keys.
    scores = report.to_dict()
    summary = {
        "task": scores.pop("task"),
        "file": str(args.file),
        "model": scores.pop("model"),
        "backend": args.backend,
        "counts": data.counts,
        **scores,
    }
    warn.summarize()
    if args.json == "-":
        print(_json(summary), end="")
    else:
        print("\n".join(_text_report(summary, report)))
    products = Products("evaluate")
    if args.json and args.json != "-":
        json_file = args.json
        products.make(
            "the --json file",
            lambda: _write(
                json_file, lambda path: Path(path).write_text(_json(summary), encoding="utf-8")
            ),
        )
    if args.plot:
        title = f"{Path(args.file).name}, model {_short_model(report.model)}"
        products.make("the --plot figure", lambda: _plot(args.plot, report, title))
    return products.exit_code


def _evaluate(
    nlp: Language, data: LabelledRows, label_map: LabelMap, args: argparse.Namespace
) -> Report:
    """The library's evaluation of the pipeline's component, with a progress bar."""
    from ..evaluation import evaluate_emotions, evaluate_sentiment

    if args.task == "emotion" and args.threshold is not None:
        component = cast("KoreanClassifier", nlp.get_pipe(EMOTION))
        if not component.multi_label:
            raise CommandError(
                f"--threshold applies to multi-label models; {component.model_name} is "
                "single-label (it predicts its top label)."
            )
    with progress(args.quiet, lambda: len(data.texts)) as bar:
        given = {
            "label_map": label_map,
            "batch_size": args.batch_size,
            "progress": bar.update,
            "source": data.source,
            "lines": data.lines,
        }
        try:
            if args.task == "sentiment":
                return evaluate_sentiment(nlp, data.texts, data.labels, **given)
            return evaluate_emotions(
                nlp, data.texts, data.labels, threshold=args.threshold, **given
            )
        except ValueError as err:  # the library's checks of the labels and the model
            raise CommandError(str(err)) from err


def _plot(path: str, report: Report, source: str) -> None:
    from ..evaluation.plot import report_figure

    figure = report_figure(report, source, warn=_print_note)
    what = "the per-label F1" if isinstance(report, MultiLabelReport) else "the confusion matrix"
    if report.calibration_scores is not None:
        what += " and the reliability diagram"
    _write(path, lambda target: figure.savefig(target, dpi=120))
    print(f"korsent evaluate: wrote {what} to {path}", file=sys.stderr)


def _print_note(message: str) -> None:
    print(f"korsent evaluate: {message}", file=sys.stderr)


def _short_model(model: str) -> str:
    """A model's name short enough for a plot title: a directory's name, or the hub id."""
    path = Path(model)
    if not path.exists():
        return model
    return "/".join(path.parts[-3:]) if path.name == "model" else path.name


def _json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _read(args: argparse.Namespace, label_map: LabelMap, warn: Warnings) -> LabelledRows:
    """The gold data, through the shared labelled reader; options that cannot apply are errors."""
    sentiment = args.task == "sentiment"
    layout = gold_layout(args.file, args)
    if args.threshold is not None and sentiment:
        raise CommandError(
            "--threshold applies to multi-label emotion models; sentiment takes the top label."
        )
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise CommandError(f"--threshold must lie between 0 and 1, not {args.threshold}.")
    data = read_labelled(args.file, layout, warn=warn, note=warn.note)
    if not data.texts:
        raise InputError(f"{args.file}: no documents are left to evaluate after cleaning.")
    if sentiment:  # sentiment labels are known before the model loads: fail in seconds
        sentiment_labels(label_map, neutral=True).encode_single(data)
    return data


def _text_report(report: dict[str, Any], scores: Report) -> Iterator[str]:
    """The human-readable report: counts, metrics, the matrix, the speed."""
    yield f"{report['task']} evaluation of {report['file']} with {report['model']}"
    counts = report["counts"]
    yield f"  rows        {counts['rows']:>9,}"
    yield f"  empty       {counts['empty']:>9,}  dropped"
    if counts["skipped"]:
        yield f"  skipped     {counts['skipped']:>9,}  malformed or unlabelled (see the warnings)"
    if "duplicates" in counts:
        yield (
            f"  duplicates  {counts['duplicates']:>9,}  dropped, first kept "
            f"({counts['conflicting']:,} with a conflicting label)"
        )
    yield f"  kept        {counts['kept']:>9,}"
    yield ""
    for key, name in METRIC_NAMES.items():
        if key in report:
            on = f"  {report['calibration_texts']['on']}" if key in ("ece", "brier") else ""
            yield f"  {name:<16}{report[key]:.4f}{on}"
    other = report.get("calibration_on_model_classes")
    if other is not None:  # where the model gives some gold classes no probability
        yield f"  {METRIC_NAMES['ece']:<16}{other['ece']:.4f}  {other['on']}"
        yield f"  {METRIC_NAMES['brier']:<16}{other['brier']:.4f}  {other['on']}"
    if report["unscored"]:
        yield f"  ({report['unscored']:,} texts without tokens got no prediction: counted wrong)"
    yield ""
    if scores.table is None:
        yield from _per_label_lines(report)
    else:
        if "per_class" in report:  # in the matrix's order
            per_class = report["per_class"]
            yield from _per_class_lines(
                {name: per_class[name] for name in report["labels"]}, "class"
            )
            yield ""
        yield f"{scores.heading} (rows: gold, columns: predicted)"
        yield from _matrix_lines(*scores.table)
    yield ""
    yield (
        f"{report['documents']:,} documents in {report['seconds']:.1f} s: "
        f"{report['docs_per_second']:,.1f} docs/s"
    )


METRIC_NAMES = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "micro_f1": "micro-F1",
    "micro_precision": "micro precision",
    "micro_recall": "micro recall",
    "macro_f1": "macro-F1",
    "exact_match": "exact match",
    "top3_accuracy": "top-3 accuracy",
    "group_accuracy": "group accuracy",
    "ece": "ECE",
    "brier": "Brier score",
}


def _per_label_lines(report: dict[str, Any]) -> Iterator[str]:
    """Labels per text, then each label's F1, most frequent gold label first."""
    threshold, own = report.get("threshold"), report.get("thresholds")
    if own:
        at = (
            f", a label counts at its own threshold ({min(own.values()):.2f} to "
            f"{max(own.values()):.2f}, fitted with the model)"
        )
    elif threshold is not None:
        at = f", a label counts at {threshold:.2f}"
    else:
        at = ", top-1 predictions"
    yield (
        f"labels per text: {report['mean_gold_labels']:.2f} gold, "
        f"{report['mean_predicted_labels']:.2f} predicted{at}"
    )
    yield ""
    by_support = sorted(report["per_label"].items(), key=lambda item: -item[1]["support"])
    yield from _per_class_lines(dict(by_support), "label")


def _per_class_lines(per_label: dict[str, Any], what: str) -> Iterator[str]:
    """Each label's (or class's) F1, precision, recall and support, in the order given."""
    from ..files.writers import display_width, fit

    width = max(8, *map(display_width, per_label))
    yield f"  {fit(what, width)}  {'F1':>6}  {'precision':>9}  {'recall':>6}  {'support':>7}"
    for name, scores in per_label.items():
        yield (
            f"  {fit(name, width)}  {scores['f1']:>6.4f}  {scores['precision']:>9.4f}  "
            f"{scores['recall']:>6.4f}  {scores['support']:>7,}"
        )


def _matrix_lines(matrix: np.ndarray, names: Sequence[str]) -> Iterator[str]:
    widths = [max(len(name), len(f"{matrix[:, i].max():,}")) + 2 for i, name in enumerate(names)]
    label_width = max(map(len, names))
    yield " " * (label_width + 2) + "".join(f"{n:>{w}}" for n, w in zip(names, widths))
    for name, row in zip(names, matrix):
        yield f"  {name:<{label_width}}" + "".join(f"{c:>{w},}" for c, w in zip(row, widths))


def _write(path: str, write: Callable[[str], object]) -> None:
    try:
        with whole():  # Ctrl-C or SIGTERM waits for a whole file
            write(path)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err


def _matplotlib() -> None:
    """Fail before the evaluation, not after it, when --plot cannot draw."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise CommandError("--plot needs matplotlib: pip install 'spacy-korsent[plot]'.") from err
