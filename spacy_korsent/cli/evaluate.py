"""``korsent evaluate``: reproduce a model card's figures with one command, on any labelled file.

Sentiment reads NSMC (cleaned as the sentiment model card did) or a labelled CSV/TSV/JSON Lines
file; emotions read a labelled CSV/TSV/JSON Lines file. Both read with the shared labelled reader
(:mod:`spacy_korsent.files.labelled`), run the same pipeline as ``analyze``, and only the
``nlp.pipe`` part is timed for documents per second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, cast

from ..files.labelled import (
    LABELLED_FORMATS,
    LabelledLayout,
    LabelSet,
    parse_label_map,
    read_labelled,
    sentiment_labels,
)
from ..files.readers import InputError
from ..files.writers import refuse_input_as_output
from .common import (
    EMOTION,
    SENTIMENT,
    CommandError,
    Warnings,
    add_file_options,
    add_pipeline_options,
    build_pipeline,
    check_file_options,
    progress,
)

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure
    from spacy.language import Language
    from spacy.tokens import Doc

    from ..components.classifier import KoreanClassifier

DESCRIPTION = """\
Evaluate a model on a labelled file and print the metrics.

sentiment (default): an NSMC-format file (.txt: id<TAB>document<TAB>label with a header, label 1 =
positive), cleaned as the model card did: empty documents dropped, then duplicate documents
dropped keeping the first (also when their labels conflict); or a CSV/TSV/JSONL file with
--text-column and --label-column, whose labels are negative/positive or 0/1 (--label-map maps
others, e.g. 1=negative,5=positive). Reports the counts, accuracy, precision/recall/F1 of the
positive class, the confusion matrix and documents per second.

emotion: JSON Lines (.jsonl), CSV (.csv) or TSV (otherwise) with a text and a label column; a
label is one of the 60 emotion names, its English gloss, or its index 0-59. Rows with an empty
text are dropped. Reports accuracy, macro-F1 (over the labels that occur), top-3 accuracy and
accuracy over the six major groups, with the 6x6 group confusion matrix.

--json writes the metrics as JSON (keys: task, file, model, counts, the metrics, confusion or
group_confusion, documents, unscored, seconds, docs_per_second).
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
    parser.add_argument("--plot", metavar="FILE.png", help="draw the confusion matrix")
    add_pipeline_options(parser)
    parser.set_defaults(func=run)


class Scores(NamedTuple):
    """The metrics for the report and the confusion matrix to print and draw."""

    metrics: dict[str, Any]
    matrix: np.ndarray
    names: list[str]
    heading: str


@dataclass
class Labelled:
    """Texts to classify, their gold class indices and the counts of reading and cleaning."""

    texts: list[str]
    gold: list[int]
    counts: dict[str, int]


def run(args: argparse.Namespace) -> int:
    """Check the options, read, classify, score, report."""
    warn = Warnings("evaluate")
    sentiment = args.task == "sentiment"
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        refuse_input_as_output(path, [args.file], option)
    if args.plot:
        _matplotlib()
    data = _read(args, warn)
    factory = SENTIMENT if sentiment else EMOTION
    nlp = build_pipeline({factory: args.model}, args)
    score = _score_sentiment if sentiment else _score_emotions
    scores = score(nlp, data, args)
    model = str(_component(nlp, factory).model_name)
    report = {
        "task": args.task,
        "file": str(args.file),
        "model": model,
        "counts": data.counts,
        **scores.metrics,
    }
    warn.summarize()
    if args.json == "-":
        print(_json(report), end="")
    else:
        print("\n".join(_text_report(report, scores)))
    if args.json and args.json != "-":
        _write(args.json, lambda path: Path(path).write_text(_json(report), encoding="utf-8"))
    if args.plot:
        title = (
            f"{Path(args.file).name}, model {_short_model(model)}\n"
            f"{scores.heading}: accuracy {report['accuracy']:.4f}"
        )
        _write(
            args.plot,
            lambda path: confusion_figure(scores.matrix, scores.names, title).savefig(
                path, dpi=120
            ),
        )
        print(f"korsent evaluate: wrote the confusion matrix to {args.plot}", file=sys.stderr)
    return 0


def _short_model(model: str) -> str:
    """A model's name short enough for a plot title: a directory's name, or the hub id."""
    path = Path(model)
    if not path.exists():
        return model
    return "/".join(path.parts[-3:]) if path.name == "model" else path.name


def _component(nlp: Language, name: str) -> KoreanClassifier:
    return cast("KoreanClassifier", nlp.get_pipe(name))


def _json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _read(args: argparse.Namespace, warn: Warnings) -> Labelled:
    """The gold data, through the shared labelled reader; options that cannot apply are errors."""
    from ..taxonomy import EMOTIONS, LABELS

    sentiment = args.task == "sentiment"
    layout = LabelledLayout.from_options(args, "nsmc" if sentiment else "tsv")
    fmt = layout.format_of(args.file)
    if fmt == "nsmc" and not sentiment:
        raise CommandError("NSMC files hold sentiment labels; -t emotion reads CSV/TSV/JSONL.")
    check_file_options(args.file, fmt, args)
    label_map = parse_label_map(args.label_map)
    if sentiment:
        labels = sentiment_labels(label_map)
    else:
        glosses = {emotion.gloss: emotion.label for emotion in EMOTIONS}
        labels = LabelSet(LABELS, aliases=glosses, label_map=label_map)
    data = read_labelled(args.file, layout, warn=warn, note=warn.note)
    if not data.texts:
        raise InputError(f"{args.file}: no documents are left to evaluate after cleaning.")
    return Labelled(data.texts, labels.encode_single(data), data.counts)


def _score_sentiment(nlp: Language, data: Labelled, args: argparse.Namespace) -> Scores:
    from ..metrics import accuracy, confusion_matrix, precision_recall_f1

    labels = list(_component(nlp, SENTIMENT).labels)
    pred, timing = _classify(nlp, data, args, lambda doc: _nsmc_class(doc, labels))
    precision, recall, f1 = precision_recall_f1(data.gold, pred, positive=1)
    matrix = confusion_matrix(data.gold, pred, 2)
    metrics = {
        "accuracy": accuracy(data.gold, pred),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion": matrix.tolist(),
        "labels": ["negative", "positive"],
        **timing,
    }
    return Scores(metrics, matrix, ["negative", "positive"], "sentiment confusion matrix")


def _nsmc_class(doc: Doc, labels: list[str]) -> int:
    """NSMC's class (1 = positive) of the predicted label; -1 when there is none."""
    from ..metrics import NO_PREDICTION

    label = doc._.sentiment["label"]
    if label is None:
        return NO_PREDICTION
    if {"negative", "positive"} <= set(labels):
        return int(label == "positive")
    return labels.index(label)  # other names: class 1 is positive, as in the model card


def _score_emotions(nlp: Language, data: Labelled, args: argparse.Namespace) -> Scores:
    import numpy as np

    from ..metrics import (
        accuracy,
        confusion_matrix,
        group_accuracy,
        group_predictions,
        macro_f1,
        predictions,
        top_k_accuracy,
    )
    from ..taxonomy import GROUP_SIZE, GROUPS, LABELS

    def probabilities(doc: Doc) -> list[float]:
        return [doc.cats.get(label, float("nan")) for label in LABELS]

    rows, timing = _classify(nlp, data, args, probabilities)
    probs = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(LABELS))
    pred = predictions(probs)
    gold_groups = np.asarray(data.gold) // GROUP_SIZE
    matrix = confusion_matrix(gold_groups, group_predictions(probs, GROUP_SIZE), len(GROUPS))
    metrics = {
        "accuracy": accuracy(data.gold, pred),
        "macro_f1": macro_f1(data.gold, pred),
        "top3_accuracy": top_k_accuracy(data.gold, probs, 3),
        "group_accuracy": group_accuracy(data.gold, probs, GROUP_SIZE),
        "group_confusion": matrix.tolist(),
        "groups": [name for name, _ in GROUPS],
        **timing,
    }
    glosses = [gloss for _, gloss in GROUPS]
    return Scores(metrics, matrix, glosses, "confusion matrix of the six emotion groups")


def _classify(
    nlp: Language, data: Labelled, args: argparse.Namespace, read: Callable[[Doc], Any]
) -> tuple[list[Any], dict[str, Any]]:
    """``read(doc)`` for every text, with the timing of the ``nlp.pipe`` loop.

    A doc without ``cats`` got no prediction (a text without tokens): it counts as unscored.
    """
    out, unscored = [], 0
    with progress(args.quiet, lambda: len(data.texts)) as bar:
        start = time.perf_counter()
        for doc in nlp.pipe(data.texts, batch_size=args.batch_size):
            out.append(read(doc))
            unscored += not doc.cats
            bar.update()
        seconds = time.perf_counter() - start
    return out, {
        "documents": len(out),
        "unscored": unscored,
        "seconds": seconds,
        "docs_per_second": len(out) / seconds if seconds else 0.0,
    }


def _text_report(report: dict[str, Any], scores: Scores) -> Iterator[str]:
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
            yield f"  {name:<16}{report[key]:.4f}"
    if report["unscored"]:
        yield f"  ({report['unscored']:,} texts without tokens got no prediction: counted wrong)"
    yield ""
    yield f"{scores.heading} (rows: gold, columns: predicted)"
    yield from _matrix_lines(scores.matrix, scores.names)
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
    "macro_f1": "macro-F1",
    "top3_accuracy": "top-3 accuracy",
    "group_accuracy": "group accuracy",
}


def _matrix_lines(matrix: np.ndarray, names: Sequence[str]) -> Iterator[str]:
    widths = [max(len(name), len(f"{matrix[:, i].max():,}")) + 2 for i, name in enumerate(names)]
    label_width = max(map(len, names))
    yield " " * (label_width + 2) + "".join(f"{n:>{w}}" for n, w in zip(names, widths))
    for name, row in zip(names, matrix):
        yield f"  {name:<{label_width}}" + "".join(f"{c:>{w},}" for c, w in zip(row, widths))


def _write(path: str, write: Callable[[str], object]) -> None:
    try:
        write(path)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err


def _matplotlib() -> None:
    """Fail before the evaluation, not after it, when --plot cannot draw."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise CommandError("--plot needs matplotlib: pip install 'spacy-korsent[plot]'.") from err


def confusion_figure(matrix: np.ndarray, names: Sequence[str], title: str) -> Figure:
    """The confusion matrix coloured by row share (0 to 100%), each cell's count and share.

    Colouring by the share of the gold row keeps a small class readable next to a large one; the
    scale starts at 0 so that an empty cell is white.
    """
    import numpy as np
    from matplotlib.figure import Figure

    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0) * 100
    size = 2.0 + 0.9 * len(names)
    figure = Figure(figsize=(size + 1.5, size))
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=100)
    figure.colorbar(image, ax=axes, label="% of the gold row")
    ticks = range(len(names))
    axes.set_xticks(ticks, names, rotation=45, ha="right")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title, fontsize="medium")
    for (row, column), count in np.ndenumerate(matrix):
        share = shares[row, column]
        color = "white" if share > 50 else "black"
        label = f"{count:,}\n{share:.1f}%"
        axes.text(column, row, label, ha="center", va="center", color=color, fontsize="small")
    figure.tight_layout()
    return figure
