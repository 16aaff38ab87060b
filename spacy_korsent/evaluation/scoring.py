"""Score a pipeline's sentiment or emotion component on labelled texts: the library behind
``korsent evaluate``, callable from Python.

    from spacy_korsent.evaluation import evaluate_sentiment

    report = evaluate_sentiment(nlp, texts, ["positive", "negative", ...])
    print(report.accuracy, report.f1, report.to_dict())

Labels are values as files hold them: a class name, an alias (sentiment: 0/1 as in NSMC; the
default emotion model: its English glosses), a ``label_map`` entry, or for emotions a class index;
a text may have a list of labels (multi-label scores). Bad input (a label that is none of these,
texts and labels of different lengths, no texts, a threshold outside 0..1, a pipeline without the
component) is a :class:`ValueError` before anything is classified. Only the ``nlp.pipe`` loop is
timed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional, Union, cast

import numpy as np

from ..files.labelled import LabelledRows, LabelSet, sentiment_labels
from ..metrics import (
    NO_PREDICTION,
    accuracy,
    confusion_matrix,
    group_accuracy,
    group_predictions,
    macro_f1,
    multilabel_scores,
    precision_recall_f1,
    predictions,
    top_k_accuracy,
)
from ..taxonomy import EMOTIONS, GROUP_SIZE, GROUPS, LABELS
from .reports import EmotionReport, LabelScores, MultiLabelReport, SentimentReport, Speed

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from ..components.classifier import KoreanClassifier

SENTIMENT = "korean_sentiment"
EMOTION = "korean_emotion"
SENTIMENT_CLASSES = ["negative", "positive"]

Label = Union[str, int]
Gold = Union[Label, Sequence[Label]]
"""A text's gold label, or its labels (a list) for multi-label data."""
Progress = Callable[[int], object]
"""Hears how many more documents were classified (e.g. a tqdm bar's ``update``)."""


def evaluate_sentiment(
    nlp: Language,
    texts: Sequence[str],
    labels: Sequence[Gold],
    *,
    label_map: Optional[Mapping[str, str]] = None,
    pipe: Optional[str] = None,
    batch_size: Optional[int] = None,
    progress: Optional[Progress] = None,
    source: str = "labels",
    lines: Optional[Sequence[int]] = None,
) -> SentimentReport:
    """Accuracy, precision/recall/F1 of the positive class and the confusion matrix.

    ``labels``: negative/positive (or 0/1, or values that ``label_map`` maps to them), one per
    text. ``pipe`` names the component (default: the pipeline's ``korean_sentiment``); it must
    have two classes. ``source`` and ``lines`` name the texts in error messages (a file and its
    line numbers; default: "labels" and positions from 1).
    """
    rows = _rows(texts, labels, source, lines)
    gold = sentiment_labels(dict(label_map or {})).encode_single(rows)
    component = _component(nlp, pipe, SENTIMENT)
    names = list(component.labels)
    if len(names) != 2:
        raise ValueError(
            f"{component.model_name} has {len(names)} classes ({', '.join(names)}); sentiment "
            "evaluation scores negative/positive models. Score other classes with -t emotion "
            "(korean_emotion takes any classes), or give a two-class model."
        )

    def predicted_class(doc: Doc) -> int:
        return _sentiment_class(doc, names)

    pred, speed = _classify(nlp, rows.texts, predicted_class, batch_size, progress)
    precision, recall, f1 = precision_recall_f1(gold, pred, positive=1)
    return SentimentReport(
        model=str(component.model_name),
        accuracy=accuracy(gold, pred),
        precision=precision,
        recall=recall,
        f1=f1,
        confusion=confusion_matrix(gold, pred, 2).tolist(),
        labels=list(SENTIMENT_CLASSES),
        speed=speed,
    )


def evaluate_emotions(
    nlp: Language,
    texts: Sequence[str],
    labels: Sequence[Gold],
    *,
    threshold: Optional[float] = None,
    label_map: Optional[Mapping[str, str]] = None,
    pipe: Optional[str] = None,
    batch_size: Optional[int] = None,
    progress: Optional[Progress] = None,
    source: str = "labels",
    lines: Optional[Sequence[int]] = None,
) -> Union[EmotionReport, MultiLabelReport]:
    """Single-label scores (:class:`EmotionReport`), or label-set scores for a multi-label model
    or gold texts with several labels (:class:`MultiLabelReport`).

    ``labels``: the component's labels (the default model's also as English glosses), class
    indices or ``label_map`` values; a list per text for several. ``threshold`` (multi-label
    models only) is the score at which a label counts (default: the component's).
    """
    rows = _rows(texts, labels, source, lines)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie between 0 and 1, not {threshold}.")
    component = _component(nlp, pipe, EMOTION)
    if threshold is not None and not component.multi_label:
        raise ValueError(
            f"a threshold applies to multi-label models; {component.model_name} is single-label "
            "(it predicts its top label)."
        )
    names = list(component.labels)
    glosses = {emotion.gloss: emotion.label for emotion in EMOTIONS}
    label_set = LabelSet(
        names,
        aliases=glosses if tuple(names) == LABELS else {},
        label_map=dict(label_map or {}),
    )
    gold = label_set.encode(rows)

    def probabilities(doc: Doc) -> list[float]:
        return [doc.cats.get(label, float("nan")) for label in names]

    out, speed = _classify(nlp, rows.texts, probabilities, batch_size, progress)
    probs = np.asarray(out, dtype=np.float32).reshape(len(out), len(names))
    model = str(component.model_name)
    if component.multi_label or any(len(indices) != 1 for indices in gold):
        at = None  # a single-label model predicts its top label
        if component.multi_label:
            at = component.cfg["threshold"] if threshold is None else threshold
        return _label_sets(model, gold, probs, names, at, speed)
    return _single_label(model, [indices[0] for indices in gold], probs, names, speed)


def _label_sets(
    model: str,
    gold: list[list[int]],
    probs: np.ndarray,
    names: list[str],
    threshold: Optional[float],
    speed: Speed,
) -> MultiLabelReport:
    """Scores of label sets: a multi-label model's labels at or above ``threshold``, a
    single-label model's top label (``threshold`` None)."""
    gold_matrix = np.zeros(probs.shape, dtype=bool)
    for row, indices in enumerate(gold):
        gold_matrix[row, indices] = True
    if threshold is not None:
        chosen = np.nan_to_num(probs, nan=0.0) >= threshold
    else:
        chosen = np.zeros(probs.shape, dtype=bool)
        best = predictions(probs)
        chosen[np.flatnonzero(best >= 0), best[best >= 0]] = True
    scores = multilabel_scores(gold_matrix, chosen, names)
    per_label = {name: LabelScores(**values) for name, values in scores.pop("per_label").items()}
    return MultiLabelReport(
        model=model, **scores, per_label=per_label, threshold=threshold, speed=speed
    )


def _single_label(
    model: str, gold: list[int], probs: np.ndarray, names: list[str], speed: Speed
) -> EmotionReport:
    """Accuracy, macro-F1, top-3; the six groups of the default model, else every label."""
    pred = predictions(probs)
    scores: dict[str, Any] = {
        "accuracy": accuracy(gold, pred),
        "macro_f1": macro_f1(gold, pred),
        "top3_accuracy": top_k_accuracy(gold, probs, 3),
    }
    if tuple(names) != LABELS:
        confusion = confusion_matrix(gold, pred, len(names)).tolist()
        return EmotionReport(model=model, **scores, speed=speed, confusion=confusion, labels=names)
    gold_groups = [label // GROUP_SIZE for label in gold]
    groups = confusion_matrix(gold_groups, group_predictions(probs, GROUP_SIZE), len(GROUPS))
    return EmotionReport(
        model=model,
        **scores,
        speed=speed,
        group_accuracy=group_accuracy(gold, probs, GROUP_SIZE),
        group_confusion=groups.tolist(),
        groups=[name for name, _ in GROUPS],
    )


def _sentiment_class(doc: Doc, labels: list[str]) -> int:
    """NSMC's class (1 = positive) of the predicted label; -1 when there is none."""
    label = doc._.sentiment["label"]
    if label is None:
        return NO_PREDICTION
    if set(SENTIMENT_CLASSES) <= set(labels):
        return int(label == "positive")
    return labels.index(label)  # other names: class 1 is positive, as in the model card


def _classify(
    nlp: Language,
    texts: list[str],
    read: Callable[[Doc], Any],
    batch_size: Optional[int],
    progress: Optional[Progress],
) -> tuple[list[Any], Speed]:
    """``read(doc)`` for every text, and the speed of the ``nlp.pipe`` loop.

    A doc without ``cats`` got no prediction (a text without tokens): it counts as unscored.
    """
    out, unscored = [], 0
    start = time.perf_counter()
    for doc in nlp.pipe(texts, batch_size=batch_size):
        out.append(read(doc))
        unscored += not doc.cats
        if progress is not None:
            progress(1)
    return out, Speed.of(len(out), unscored, time.perf_counter() - start)


def _component(nlp: Language, name: Optional[str], factory: str) -> KoreanClassifier:
    """The component ``name``, else the pipeline's first one made by ``factory``; loaded."""
    if name is None:
        found = [pipe for pipe in nlp.pipe_names if nlp.get_pipe_meta(pipe).factory == factory]
        if not found:
            raise ValueError(
                f"the pipeline has no {factory} component (its pipes: {nlp.pipe_names}); add "
                f"one with nlp.add_pipe({factory!r})."
            )
        name = found[0]
    elif name not in nlp.pipe_names:
        raise ValueError(f"the pipeline has no pipe {name!r} (its pipes: {nlp.pipe_names}).")
    component = cast("KoreanClassifier", nlp.get_pipe(name))
    if not component.labels:  # a component loads its model on first use: its labels are needed
        component.initialize()
    return component


def _rows(
    texts: Sequence[str], labels: Sequence[Gold], source: str, lines: Optional[Sequence[int]]
) -> LabelledRows:
    """The texts and their label values (strings, a list per text) for :class:`LabelSet`."""
    if isinstance(texts, str) or isinstance(labels, str):
        raise ValueError("give the texts and the labels as sequences, not single strings.")
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts):,} texts but {len(labels):,} labels: give one per text.")
    if not texts:
        raise ValueError("no texts to evaluate.")
    bad = next((text for text in texts if not isinstance(text, str)), None)
    if bad is not None:
        raise ValueError(f"the texts must be strings, not {type(bad).__name__} ({bad!r}).")
    numbers = list(lines) if lines is not None else list(range(1, len(texts) + 1))
    values = [_values(label) for label in labels]
    return LabelledRows(source, lines=numbers, texts=list(texts), labels=values, rows=len(texts))


def _values(label: Gold) -> list[str]:
    if isinstance(label, (str, int)) and not isinstance(label, bool):
        return [str(label).strip()]
    if isinstance(label, Sequence) and not isinstance(label, str):
        return [str(item).strip() for item in label]
    raise ValueError(f"a label must be a string, an integer or a list of them, not {label!r}.")
