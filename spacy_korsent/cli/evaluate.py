"""``korsent evaluate``: reproduce a model card's figures on a labelled file with one command.

Sentiment reads NSMC and cleans it as the sentiment model card did (see :func:`read_nsmc`);
emotions read a labelled JSON Lines/CSV/TSV file. Both run the same pipeline as ``analyze``, and
only the ``nlp.pipe`` part is timed for documents per second.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..files.readers import InputError, guess_format, read_nsmc, read_rows
from .common import (
    EMOTION,
    SENTIMENT,
    CommandError,
    Warnings,
    add_pipeline_options,
    build_pipeline,
    progress,
)

if TYPE_CHECKING:
    import numpy as np
    from spacy.language import Language
    from spacy.tokens import Doc

DESCRIPTION = """\
Evaluate a model on a labelled file and print the metrics.

sentiment (default): an NSMC-format file (id<TAB>document<TAB>label with a header, label 1 =
positive), cleaned as the model card did: empty documents dropped, then duplicate documents
dropped keeping the first (also when their labels conflict). Reports the counts, accuracy,
precision/recall/F1 of the positive class, the confusion matrix and documents per second.

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
        help="metrics of a model on NSMC or a labelled emotion file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the labelled file")
    parser.add_argument(
        "-m",
        "--model",
        metavar="MODEL",
        help="hub id or directory (default: the component's default model)",
    )
    parser.add_argument("-t", "--task", choices=("sentiment", "emotion"), default="sentiment")
    parser.add_argument(
        "--format", choices=("jsonl", "csv", "tsv"), help="emotion file format (default: suffix)"
    )
    parser.add_argument(
        "--text-column", metavar="NAME", default="text", help="emotion file text column"
    )
    parser.add_argument(
        "--label-column", metavar="NAME", default="label", help="emotion file label column"
    )
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
    """Read, classify, score, report."""
    warn = Warnings("evaluate")
    sentiment = args.task == "sentiment"
    data = _read_nsmc(args.file, warn) if sentiment else _read_emotions(args, warn)
    if not data.texts:
        raise InputError(f"{args.file}: no documents are left to evaluate after cleaning.")
    factory = SENTIMENT if sentiment else EMOTION
    nlp = build_pipeline({factory: args.model}, args)
    score = _score_sentiment if sentiment else _score_emotions
    scores = score(nlp, data, args)
    report = {
        "task": args.task,
        "file": str(args.file),
        "model": str(nlp.get_pipe(factory).model_name),
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
        title = f"{Path(args.file).name}: {scores.heading}\naccuracy {report['accuracy']:.4f}"
        _write(args.plot, lambda path: _plot(scores.matrix, scores.names, title, path))
    return 0


def _json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _read_nsmc(path: str, warn: Warnings) -> Labelled:
    data = read_nsmc(path, warn=warn)
    return Labelled(data.texts, data.labels, data.counts)


def _read_emotions(args: argparse.Namespace, warn: Warnings) -> Labelled:
    from ..taxonomy import EMOTIONS

    index = {
        name: i for i, emotion in enumerate(EMOTIONS) for name in (emotion.label, emotion.gloss)
    }
    index.update({str(i): i for i in range(len(EMOTIONS))})
    fmt = args.format or guess_format(Path(args.file))
    fmt = "tsv" if fmt == "text" else fmt
    text_column, label_column = args.text_column, args.label_column
    columns = (text_column, label_column)
    texts, gold, rows, empty = [], [], 0, 0
    for number, row in enumerate(read_rows(args.file, fmt, required=columns, warn=warn), 1):
        rows += 1
        text = row[text_column]
        if not isinstance(text, str) or not text.strip():
            empty += 1
            continue
        label = row[label_column]
        key = None if isinstance(label, bool) else str(label).strip()  # JSON gives ints or strings
        if key not in index:
            raise InputError(
                f"{args.file}: row {number}: the label {label!r} is neither one of the 60 emotion "
                "names (or their English glosses) nor an index from 0 to 59."
            )
        texts.append(text)
        gold.append(index[key])
    if not rows:
        raise InputError(f"{args.file}: no rows to evaluate.")
    return Labelled(texts, gold, {"rows": rows, "empty": empty, "kept": len(texts)})


def _score_sentiment(nlp: Language, data: Labelled, args: argparse.Namespace) -> Scores:
    from ..metrics import accuracy, confusion_matrix, precision_recall_f1

    labels = list(nlp.get_pipe(SENTIMENT).labels)
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


def _write(path: str, write: Callable[[str], None]) -> None:
    try:
        write(path)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}.") from err


def _plot(matrix: np.ndarray, names: Sequence[str], title: str, path: str) -> None:
    """Draw the confusion matrix with counts in the cells (Agg, no display needed)."""
    import numpy as np

    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise CommandError("--plot needs matplotlib: pip install 'spacy-korsent[plot]'.") from err

    size = 2.0 + 0.9 * len(names)
    figure = Figure(figsize=(size + 1.0, size))
    axes = figure.subplots()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(names))
    axes.set_xticks(ticks, names, rotation=45, ha="right")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title, fontsize="medium")
    threshold = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        color = "white" if count > threshold else "black"
        axes.text(column, row, f"{count:,}", ha="center", va="center", color=color)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
