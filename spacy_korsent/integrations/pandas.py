"""A DataFrame column in, the same DataFrame with ``korsent analyze``'s result columns out.

    import pandas as pd
    import spacy_korsent

    reviews = pd.read_csv("reviews.csv")
    scored = spacy_korsent.analyze_frame(reviews, text="리뷰", task="both")

The result columns are the command line's and the Ray integration's (:class:`ResultFields`):
``sentiment``, ``sentiment_score``, ``sentiment_<label>``, ``emotion``, ``emotion_score``,
``emotion_labels``, ``emotion_group``, ``emotions_top`` (and ``sentences``), with one dtype per
kind: float64 for probabilities (NaN for an empty result), object holding a string or None for
labels, object holding lists for ``emotion_labels``, ``emotions_top`` and ``sentences``.

A missing cell (None, NaN, ``pd.NA``) is an empty text: empty results, no warning. Any other
value that is not a string (a number, a date) also gets empty results, and one warning counts
them: analyse them as text with ``df[column].astype(str)`` first. The frame's index (duplicate
labels too), its columns and their order are kept; a result column replaces an input column of
the same name in place, as on the command line, with a warning naming it.

Needs pandas: ``pip install "spacy-korsent[pandas]"``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union, cast

try:
    import numpy as np
    import pandas as pd
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'spacy_korsent.analyze_frame needs pandas: pip install "spacy-korsent[pandas]"'
    ) from err

from ..answers import LABEL, LABELS, SCORE, TOP
from ..components.pipeline import PipelineOptions
from ..components.registry import CLASSIFIERS
from ..files.fields import ResultFields
from ..files.readers import replace_lone_surrogates

if TYPE_CHECKING:
    from spacy.language import Language

    from ..components.classifier import KoreanClassifier

_DTYPES = {SCORE: "float64", LABEL: object, LABELS: object, TOP: object}
"""The dtype of each kind of result field (``ResultFields.kinds``); the rest are object."""


def analyze_frame(
    data: Union[pd.DataFrame, pd.Series],
    text: Optional[Hashable] = None,
    *,
    nlp: Optional[Language] = None,
    task: Optional[str] = None,
    sentiment_model: Optional[str] = None,
    emotion_model: Optional[str] = None,
    sentences: bool = False,
    batch_size: int = 1024,
    device: Optional[str] = None,
    backend: Optional[str] = None,
    max_length: Optional[int] = None,
    truncate: bool = False,
    calibration: bool = True,
    progress: Optional[bool] = None,
) -> pd.DataFrame:
    """``data`` with the result columns of ``korsent analyze`` added, row for row.

    ``data`` is a DataFrame whose column ``text`` (default ``"text"``) holds the texts, or a
    Series of texts, which becomes the column of its name (``"text"`` when it has none) of the
    returned frame. A new frame is returned; ``data`` is left as it is.

    The pipeline is ``nlp`` (any pipeline with ``korean_sentiment`` and/or ``korean_emotion``,
    whose settings stay as they are), or else the one ``korsent analyze`` builds: ``task``
    (``"sentiment"``, the default, ``"emotion"`` or ``"both"``) with ``sentiment_model`` and
    ``emotion_model`` (hub ids, model directories or saved pipelines; None: the defaults), and
    ``sentences``, ``device``, ``backend`` (default ``"torch"``; ``"onnx-int8"`` is the fastest
    on CPU), ``max_length``, ``truncate`` as the command's options. A model's saved calibration
    applies (a warning says which), as in ``korsent analyze``; ``calibration=False`` gives the
    model's own probabilities and decisions, as ``--no-calibration`` does.

    Texts go through ``nlp.pipe`` ``batch_size`` at a time, each batch in a spaCy memory zone.
    A progress bar (``tqdm.auto``: a widget in notebooks) is drawn with ``progress=True``, never
    with False, and by default only where someone watches: on a terminal's standard error or in
    a notebook (not into a script's log or a job's captured output).
    """
    frame, column = _text_frame(data, text)
    if nlp is None:
        options = PipelineOptions(
            batch_size=batch_size, device=device, backend="torch" if backend is None else backend,
            max_length=max_length, truncate=truncate, calibration=calibration,
        )  # fmt: skip
        nlp = _build_pipeline(task, sentiment_model, emotion_model, sentences, options)
    else:
        given = {
            "task": task,
            "sentiment_model": sentiment_model,
            "emotion_model": emotion_model,
            "sentences": sentences or None,
            "device": device,
            "backend": backend,
            "max_length": max_length,
            "truncate": truncate or None,
            "calibration": None if calibration else False,
        }
        if any(value is not None for value in given.values()):
            names = ", ".join(name for name, value in given.items() if value is not None)
            raise ValueError(
                f"{names} build a pipeline; with nlp= given, set them on its components instead."
            )
    _load_labels(nlp)
    fields = ResultFields(nlp)
    if not fields.names:
        raise ValueError(
            f"the pipeline {nlp.pipe_names} has neither korean_sentiment nor korean_emotion: "
            "add one with nlp.add_pipe, or leave nlp out and give task=."
        )
    texts = _texts(frame[column], column)
    replaced = [name for name in fields.names if name in frame.columns]
    if replaced:
        warnings.warn(
            f"the result columns {replaced} replace the frame's columns of the same name.",
            stacklevel=2,
        )
    values = _analyse(nlp, fields, texts, batch_size, _watched() if progress is None else progress)
    out = frame.copy()
    for name in fields.names:
        out[name] = _column(values[name], fields.kinds[name], frame.index)
    return out


def _load_labels(nlp: Language) -> None:
    """Load the models of components that have not loaded yet: their labels name columns."""
    for name in nlp.pipe_names:
        if nlp.get_pipe_meta(name).factory in CLASSIFIERS:
            pipe = cast("KoreanClassifier", nlp.get_pipe(name))
            if not pipe.labels:
                pipe.initialize()


def _text_frame(data: Any, text: Optional[Hashable]) -> tuple[pd.DataFrame, Hashable]:
    """The frame to add the results to and its text column's name."""
    if isinstance(data, pd.Series):
        if text is not None:
            raise ValueError(
                "text= names a DataFrame's column; a Series is the texts themselves (its name "
                "becomes the column's: series.rename(...) to choose it)."
            )
        column = data.name if data.name is not None else "text"
        return data.to_frame(name=column), column
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"analyze_frame takes a pandas DataFrame or Series, not {type(data)!r}.")
    column = "text" if text is None else text
    count = int((data.columns == column).sum()) if column in data.columns else 0
    if count == 0:
        raise KeyError(
            f"no column {column!r} in the frame's columns {list(data.columns)}: name the text's "
            "column with text=."
        )
    if count > 1:
        raise ValueError(f"the frame has {count} columns named {column!r}: rename them first.")
    return data, column


def _texts(column: pd.Series, name: Hashable) -> list[str]:
    """The texts to analyse: missing cells are empty texts; other values that are not strings
    are too, and are counted in one warning before the analysis."""
    texts: list[str] = []
    others: list[str] = []
    for label, value in column.items():
        if isinstance(value, str):
            texts.append(replace_lone_surrogates(value))
            continue
        if not _is_missing(value):
            others.append(f"{label!r}: {type(value).__name__} {value!r}")
        texts.append("")
    if others:
        examples = "; ".join(others[:3]) + ("; ..." if len(others) > 3 else "")
        warnings.warn(
            f"{len(others):,} values of the column {name!r} are not strings and got empty "
            f"results ({examples}); analyse them as text with df[{name!r}].astype(str).",
            stacklevel=3,
        )
    return texts


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a missing scalar
        return False


def _analyse(
    nlp: Language,
    fields: ResultFields,
    texts: list[str],
    batch_size: int,
    progress: bool,
) -> dict[str, list[Any]]:
    """Each result field's values, in row order, one batch at a time."""
    from spacy.util import minibatch
    from tqdm.auto import tqdm  # a widget in notebooks (with ipywidgets), text elsewhere

    values: dict[str, list[Any]] = {name: [] for name in fields.names}
    limit = nlp.max_length
    nlp.max_length = sys.maxsize  # as the command line: texts of any length are windowed
    try:
        with tqdm(total=len(texts), unit="doc", disable=not progress) as bar:
            for batch in minibatch(texts, size=batch_size):
                with nlp.memory_zone():
                    for doc in nlp.pipe(batch, batch_size=batch_size):
                        for name, value in fields.of(doc).items():
                            values[name].append(value)
                bar.update(len(batch))
    finally:
        nlp.max_length = limit
    return values


def _watched() -> bool:
    """Whether a progress bar has someone to watch it: standard error is a terminal, or this
    runs in a notebook's kernel (where ``tqdm.auto`` draws a widget)."""
    if sys.stderr.isatty():
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def _column(values: Sequence[Any], kind: str, index: pd.Index) -> pd.Series:
    """One result column, positionally aligned with the frame (its index may repeat labels)."""
    dtype = _DTYPES.get(kind, object)
    if dtype == "float64":
        array = np.array([np.nan if value is None else value for value in values], dtype=float)
    else:
        array = np.empty(len(values), dtype=object)
        array[:] = list(values) if kind == LABEL else [list(value) for value in values]
    return pd.Series(array, index=index, dtype=dtype, copy=False)


def _build_pipeline(
    task: Optional[str],
    sentiment_model: Optional[str],
    emotion_model: Optional[str],
    sentences: bool,
    options: PipelineOptions,
) -> Language:
    """The pipeline ``korsent analyze -t TASK`` builds, with its models and options."""
    from ..components.pipeline import TASKS, build_pipeline
    from ..components.registry import EMOTION, SENTIMENT

    task = task or "sentiment"
    if task not in TASKS:
        raise ValueError(f"task={task!r}: give one of {', '.join(map(repr, TASKS))}.")
    chosen = {SENTIMENT: sentiment_model, EMOTION: emotion_model}
    unused = [f"{kind}_model" for kind, factory in (("sentiment", SENTIMENT), ("emotion", EMOTION))
              if chosen[factory] is not None and factory not in TASKS[task]]  # fmt: skip
    if unused:
        raise ValueError(f"{', '.join(unused)} given, but task={task!r} does not use it.")
    models = {factory: chosen[factory] for factory in TASKS[task]}
    return build_pipeline(models, options, sentences=sentences, note=warnings.warn)
