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

from ..files.labelled import THREE_WAY_NAMES, LabelledRows, LabelMap, LabelSet, sentiment_labels
from ..metrics import (
    NO_PREDICTION,
    TextScope,
    accuracy,
    confidence_scores,
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
from .reports import (
    Calibration,
    EmotionReport,
    LabelScores,
    MultiLabelReport,
    SentimentReport,
    Speed,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from ..components.classifier import KoreanClassifier

SENTIMENT = "korean_sentiment"
EMOTION = "korean_emotion"
SENTIMENT_CLASSES = ["negative", "positive"]
THREE_WAY = list(THREE_WAY_NAMES)
NEUTRAL_NAME = "neutral"
NEUTRAL = THREE_WAY.index(NEUTRAL_NAME)

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
    label_map: Union[LabelMap, Mapping[str, str], None] = None,
    pipe: Optional[str] = None,
    batch_size: Optional[int] = None,
    progress: Optional[Progress] = None,
    source: str = "labels",
    lines: Optional[Sequence[int]] = None,
) -> SentimentReport:
    """Accuracy, precision/recall/F1 of the positive class, the confusion matrix, and how well
    the probabilities are calibrated (expected calibration error, Brier score, reliability bins).

    ``labels``: negative/positive (or 0/1, or values that ``label_map`` maps to them; its keys
    may be ranges of ratings such as ``"1-4"``), one per text; with neutral gold texts, the
    scores are three-way (negative/neutral/positive: per-class and macro F1), as they are for a
    model that answers neutral (a three-class model, or a neutral band). A two-class model that
    never says neutral is scored three-way too: its neutral F1 is 0. ``pipe`` names the
    component (default: the pipeline's ``korean_sentiment``). ``source`` and ``lines`` name the
    texts in error messages (a file and its line numbers; default: "labels" and positions
    from 1).

    Predictions are the component's answers (``doc._.sentiment["label"]``, each checked against
    its answer kind, :mod:`spacy_korsent.answers`); calibration is that of its probabilities
    (``doc._.sentiment["scores"]``, neutral 0 when the model gives none): each text's top
    probability against whether that class is gold, on every text; where some gold classes have
    no probability from the model (neutral texts for a negative/positive model), also on the
    texts of the model's own classes (``calibration_on_model_classes``, the texts
    ``korsent calibrate`` measures on).
    """
    rows = _rows(texts, labels, source, lines)
    gold = np.asarray(sentiment_labels(label_map, neutral=True).encode_single(rows))
    component = _component(nlp, pipe, SENTIMENT)
    classes = _sentiment_classes(component)
    kind = component.answer_kind

    def answer(doc: Doc) -> tuple[int, list[float]]:
        result = doc._.sentiment
        kind.check(result)
        if result["label"] is None:
            return NO_PREDICTION, [float("nan")] * len(THREE_WAY)
        row = [0.0] * len(THREE_WAY)
        for label, p in result["scores"].items():
            row[THREE_WAY.index(classes[label])] = p
        return THREE_WAY.index(classes.get(result["label"], result["label"])), row

    out, speed = _classify(nlp, rows.texts, answer, batch_size, progress)
    pred = np.array([label for label, _ in out], dtype=np.int64)
    probs = np.array([row for _, row in out], dtype=np.float64).reshape(len(out), len(THREE_WAY))
    answers = {classes.get(label, label) for label in kind.decision_labels}
    three_way = NEUTRAL in gold or NEUTRAL_NAME in answers
    if not three_way:  # negative/positive: class 1 is positive, as in NSMC
        binary = np.array([0, NO_PREDICTION, 1])
        gold, pred = binary[gold], np.where(pred >= 0, binary[np.maximum(pred, 0)], pred)
        probs = probs[:, [0, 2]]
    names = list(THREE_WAY if three_way else SENTIMENT_CLASSES)
    truth = _one_hot(gold, len(names))
    own = tuple(classes[label] for label in component.labels)
    covered = np.isin(gold, [names.index(name) for name in own if name in names])
    on_own_classes = None
    if covered.any() and not covered.all():
        on_own_classes = _calibration(
            probs[covered], truth[covered], multi_label=False, classes=own
        )
    positive = len(names) - 1
    precision, recall, f1 = precision_recall_f1(gold, pred, positive=positive)
    per_class = {
        name: LabelScores(
            *precision_recall_f1(gold, pred, positive=c), support=int((gold == c).sum())
        )
        for c, name in enumerate(names)
    }
    return SentimentReport(
        model=str(component.model_name),
        accuracy=accuracy(gold, pred),
        precision=precision,
        recall=recall,
        f1=f1,
        confusion=confusion_matrix(gold, pred, len(names)).tolist(),
        labels=names,
        speed=speed,
        macro_f1=macro_f1(gold, pred, labels=range(len(names))) if three_way else None,
        per_class=per_class if three_way else None,
        calibration=_calibration(probs, truth, multi_label=False),
        calibration_on_model_classes=on_own_classes,
    )


def _sentiment_classes(component: KoreanClassifier) -> dict[str, str]:
    """The three-way class (negative, neutral, positive) of each of the component's labels.

    Labels with those names are themselves; the two labels of another two-class model are
    negative and positive by index (class 1 is positive, as in the model card).
    """
    names = list(component.labels)
    if set(names) <= set(THREE_WAY):
        return {name: name for name in names}
    if len(names) == 2:
        return dict(zip(names, SENTIMENT_CLASSES))
    raise ValueError(
        f"{component.model_name} has {len(names)} classes ({', '.join(names)}); sentiment "
        "evaluation scores negative/positive and negative/neutral/positive models. Score other "
        "classes with -t emotion (korean_emotion takes any classes), or name them (the "
        "component's labels option)."
    )


def _one_hot(gold: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[gold]


def _calibration(
    probs: np.ndarray,
    truth: np.ndarray,
    *,
    multi_label: bool,
    classes: Optional[tuple[str, ...]] = None,
) -> Calibration:
    """:func:`~spacy_korsent.metrics.confidence_scores` of ``probs`` against the 0/1 ``truth``
    over the texts that got a prediction; ``classes`` names the gold classes they were chosen
    by (None: all texts)."""
    scored = ~np.isnan(probs).any(axis=1)
    scope = TextScope(int(scored.sum()), classes)
    return confidence_scores(probs[scored], truth[scored], scope, multi_label=multi_label)


def evaluate_emotions(
    nlp: Language,
    texts: Sequence[str],
    labels: Sequence[Gold],
    *,
    threshold: Optional[float] = None,
    label_map: Union[LabelMap, Mapping[str, str], None] = None,
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
    models only) is the score at which every label counts; by default each label counts where
    the component predicts it: at its own threshold where the model has fitted ones, else at the
    component's ``threshold``.
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
        label_map=label_map,
    )
    gold = label_set.encode(rows)

    kind = component.answer_kind

    def probabilities(doc: Doc) -> list[float]:
        kind.check(doc._.emotions)
        return [doc.cats.get(label, float("nan")) for label in names]

    out, speed = _classify(nlp, rows.texts, probabilities, batch_size, progress)
    probs = np.asarray(out, dtype=np.float32).reshape(len(out), len(names))
    model = str(component.model_name)
    if component.multi_label or any(len(indices) != 1 for indices in gold):
        at = None  # a single-label model predicts its top label
        own: Optional[dict[str, float]] = None
        if component.multi_label:
            at = component.cfg["threshold"] if threshold is None else threshold
            if threshold is None and component.calibration.thresholds:
                own = component.label_thresholds
        return _label_sets(model, gold, probs, names, at, speed, own)
    return _single_label(model, [indices[0] for indices in gold], probs, names, speed)


def _label_sets(
    model: str,
    gold: list[list[int]],
    probs: np.ndarray,
    names: list[str],
    threshold: Optional[float],
    speed: Speed,
    thresholds: Optional[dict[str, float]] = None,
) -> MultiLabelReport:
    """Scores of label sets: a multi-label model's labels at or above their own ``thresholds``
    (where given) or ``threshold``, a single-label model's top label (``threshold`` None)."""
    gold_matrix = np.zeros(probs.shape, dtype=bool)
    for row, indices in enumerate(gold):
        gold_matrix[row, indices] = True
    if thresholds is not None:
        cuts = np.asarray([thresholds[name] for name in names], dtype=np.float32)
        chosen = np.nan_to_num(probs, nan=0.0) >= cuts
    elif threshold is not None:
        chosen = np.nan_to_num(probs, nan=0.0) >= threshold
    else:
        chosen = np.zeros(probs.shape, dtype=bool)
        best = predictions(probs)
        chosen[np.flatnonzero(best >= 0), best[best >= 0]] = True
    scores = multilabel_scores(gold_matrix, chosen, names)
    per_label = {name: LabelScores(**values) for name, values in scores.pop("per_label").items()}
    return MultiLabelReport(
        model=model,
        **scores,
        per_label=per_label,
        threshold=threshold,
        thresholds=thresholds,
        speed=speed,
        calibration=_calibration(probs, gold_matrix, multi_label=threshold is not None),
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
        "calibration": _calibration(
            probs.astype(np.float64), _one_hot(np.asarray(gold), len(names)), multi_label=False
        ),
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
