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
    LabelledRows,
    LabelSet,
    parse_label_map,
    read_labelled,
    sentiment_labels,
)
from ..files.readers import InputError
from ..files.writers import refuse_input_as_output
from ..interrupts import whole
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
label is one of the model's labels (for the default model also its English gloss) or its class
index. Rows with an empty text are dropped. A single-label model: accuracy, macro-F1 (over the
labels that occur), top-3 accuracy, and for the default 60-label model accuracy over the six
major groups with the 6x6 group confusion matrix. A multi-label model (or gold cells with several
labels, --label-separator): micro and macro F1 of the labels at or above --threshold, per-label
F1, exact match and labels per text.

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
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the confusion matrix (multi-label: the per-label F1)",
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


class Scores(NamedTuple):
    """The metrics for the report, and the confusion matrix to print and draw (None for
    multi-label scores, which print and draw the per-label F1 instead)."""

    metrics: dict[str, Any]
    matrix: np.ndarray | None
    names: list[str]
    heading: str


@dataclass
class Labelled:
    """Texts to classify, their gold labels as read (values, or for sentiment class indices) and
    the counts of reading and cleaning."""

    texts: list[str]
    gold: list[Any]
    counts: dict[str, int]
    rows: LabelledRows


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
        _plot(args.plot, scores, report, f"{Path(args.file).name}, model {_short_model(model)}")
    return 0


def _plot(path: str, scores: Scores, report: dict[str, Any], source: str) -> None:
    if scores.matrix is None:
        title = f"{source}\n{scores.heading}: micro-F1 {report['micro_f1']:.4f}"
        figure = per_label_figure(report["per_label"], title)
        what = "the per-label F1"
    else:
        title = f"{source}\n{scores.heading}: accuracy {report['accuracy']:.4f}"
        figure = confusion_figure(scores.matrix, scores.names, title)
        what = "the confusion matrix"
    _write(path, lambda target: figure.savefig(target, dpi=120))
    print(f"korsent evaluate: wrote {what} to {path}", file=sys.stderr)


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

    sentiment = args.task == "sentiment"
    layout = LabelledLayout.from_options(args, "nsmc" if sentiment else "tsv")
    fmt = layout.format_of(args.file)
    if fmt == "nsmc" and not sentiment:
        raise CommandError("NSMC files hold sentiment labels; -t emotion reads CSV/TSV/JSONL.")
    check_file_options(args.file, fmt, args)
    if args.threshold is not None and sentiment:
        raise CommandError(
            "--threshold applies to multi-label emotion models; sentiment takes the top label."
        )
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise CommandError(f"--threshold must lie between 0 and 1, not {args.threshold}.")
    data = read_labelled(args.file, layout, warn=warn, note=warn.note)
    if not data.texts:
        raise InputError(f"{args.file}: no documents are left to evaluate after cleaning.")
    # Sentiment labels are known before the model loads; emotion labels are the model's own.
    gold = (
        sentiment_labels(parse_label_map(args.label_map)).encode_single(data) if sentiment else []
    )
    return Labelled(data.texts, gold, data.counts, data)


def _emotion_gold(component: KoreanClassifier, data: Labelled, label_map: str | None) -> list:
    """Each row's gold class indices among the component's labels (glosses for the default)."""
    from ..taxonomy import EMOTIONS, LABELS

    glosses = {emotion.gloss: emotion.label for emotion in EMOTIONS}
    aliases = glosses if component.labels == LABELS else {}
    labels = LabelSet(component.labels, aliases=aliases, label_map=parse_label_map(label_map))
    return labels.encode(data.rows)


def _score_sentiment(nlp: Language, data: Labelled, args: argparse.Namespace) -> Scores:
    from ..metrics import accuracy, confusion_matrix, precision_recall_f1

    component = _component(nlp, SENTIMENT)
    labels = list(component.labels)
    if len(labels) != 2:
        raise CommandError(
            f"{component.model_name} has {len(labels)} classes ({', '.join(labels)}); sentiment "
            "evaluation scores negative/positive models. Score other classes with -t emotion "
            "(korean_emotion takes any classes), or give a two-class model."
        )
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
    """Single-label scores (with the six groups for the default model), or multi-label ones."""
    import numpy as np

    from ..metrics import predictions

    component = _component(nlp, EMOTION)
    if args.threshold is not None and not component.multi_label:
        raise CommandError(
            f"--threshold applies to multi-label models; {component.model_name} is single-label "
            "(it predicts its top label)."
        )
    gold = _emotion_gold(component, data, args.label_map)
    labels = list(component.labels)

    def probabilities(doc: Doc) -> list[float]:
        return [doc.cats.get(label, float("nan")) for label in labels]

    rows, timing = _classify(nlp, data, args, probabilities)
    probs = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(labels))
    if component.multi_label or any(len(indices) != 1 for indices in gold):
        threshold = component.cfg["threshold"] if args.threshold is None else args.threshold
        gold_matrix = np.zeros(probs.shape, dtype=bool)
        for row, indices in enumerate(gold):
            gold_matrix[row, indices] = True
        if component.multi_label:
            chosen = np.nan_to_num(probs, nan=0.0) >= threshold
        else:  # a single-label model predicts one label per text
            chosen = np.zeros(probs.shape, dtype=bool)
            best = predictions(probs)
            chosen[np.flatnonzero(best >= 0), best[best >= 0]] = True
        from ..metrics import multilabel_scores

        metrics = {
            **multilabel_scores(gold_matrix, chosen, labels),
            "threshold": threshold if component.multi_label else None,
            **timing,
        }
        return Scores(metrics, None, labels, "emotion labels")
    return _single_label_emotions([indices[0] for indices in gold], probs, labels, timing)


def _single_label_emotions(
    gold: list[int], probs: np.ndarray, labels: list[str], timing: dict[str, Any]
) -> Scores:
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

    pred = predictions(probs)
    metrics = {
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred),
        "top3_accuracy": top_k_accuracy(gold, probs, 3),
        **timing,
    }
    if tuple(labels) != LABELS:
        matrix = confusion_matrix(gold, pred, len(labels))
        metrics.update(confusion=matrix.tolist(), labels=labels)
        return Scores(metrics, matrix, labels, "emotion confusion matrix")
    gold_groups = [label // GROUP_SIZE for label in gold]
    matrix = confusion_matrix(gold_groups, group_predictions(probs, GROUP_SIZE), len(GROUPS))
    metrics.update(
        group_accuracy=group_accuracy(gold, probs, GROUP_SIZE),
        group_confusion=matrix.tolist(),
        groups=[name for name, _ in GROUPS],
    )
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
    if scores.matrix is None:
        yield from _per_label_lines(report)
    else:
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
    "micro_f1": "micro-F1",
    "micro_precision": "micro precision",
    "micro_recall": "micro recall",
    "macro_f1": "macro-F1",
    "exact_match": "exact match",
    "top3_accuracy": "top-3 accuracy",
    "group_accuracy": "group accuracy",
}


def _per_label_lines(report: dict[str, Any]) -> Iterator[str]:
    """Labels per text, then each label's F1, most frequent gold label first."""
    threshold = report.get("threshold")
    at = f", a label counts at {threshold:.2f}" if threshold is not None else ", top-1 predictions"
    yield (
        f"labels per text: {report['mean_gold_labels']:.2f} gold, "
        f"{report['mean_predicted_labels']:.2f} predicted{at}"
    )
    yield ""
    from ..files.writers import display_width, fit

    per_label = report["per_label"]
    width = max(8, *map(display_width, per_label))
    yield f"  {fit('label', width)}  {'F1':>6}  {'precision':>9}  {'recall':>6}  {'support':>7}"
    for name, scores in sorted(per_label.items(), key=lambda item: -item[1]["support"]):
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


def per_label_figure(per_label: dict[str, dict[str, float]], title: str) -> Figure:
    """Each label's F1 as a bar, most frequent gold label on top, with its support."""
    from matplotlib.figure import Figure

    ordered = sorted(per_label.items(), key=lambda item: item[1]["support"])
    figure = Figure(figsize=(7.0, 1.5 + 0.28 * len(ordered)))
    axes = figure.subplots()
    names = [name for name, _ in ordered]
    axes.barh(range(len(ordered)), [scores["f1"] for _, scores in ordered], color="tab:blue")
    axes.set_yticks(range(len(ordered)), names, fontfamily=_hangul_font(names))
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1")
    for row, (_, scores) in enumerate(ordered):
        axes.text(scores["f1"] + 0.01, row, f"{scores['support']:,}", va="center", fontsize="small")
    axes.set_title(f"{title}\n(bars: F1; numbers: gold texts with the label)", fontsize="medium")
    figure.tight_layout()
    return figure


def _hangul_font(names: Sequence[str]) -> str | None:
    """A font family that has Hangul, for label names that need one (None: matplotlib's own).

    matplotlib lists the fonts it found when its cache was made: fonts installed since (Debian's
    fonts-noto-cjk, say) are looked up among the system's font files. Without any, the names are
    drawn as boxes, and the command says what to install.
    """
    from matplotlib import font_manager

    if all(name.isascii() for name in names):
        return None
    manager = font_manager.fontManager

    def korean() -> list[str]:
        found = sorted({font.name for font in manager.ttflist if "CJK" in font.name})
        return sorted(found, key=lambda name: not name.endswith(" KR"))

    if not korean():
        for path in font_manager.findSystemFonts():
            if "CJK" in Path(path).name:
                manager.addfont(path)
    if korean():
        return korean()[0]
    print(
        "korsent evaluate: no font with Hangul for the plot's labels; install one, e.g. "
        "apt-get install fonts-noto-cjk.",
        file=sys.stderr,
    )
    return None


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
