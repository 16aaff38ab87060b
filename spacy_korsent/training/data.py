"""The labelled data `korsent train` reads: files, label names, class indices, validation split.

Files are read with the shared labelled reader (:mod:`spacy_korsent.files.labelled`), the one
``korsent evaluate`` uses: the same formats, columns, encodings and label mapping.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..files import labelled as files
from ..files.labelled import (
    SENTIMENT_NAMES,
    LabelledLayout,
    LabelledRows,
    LabelMap,
    LabelSet,
    binary_as_sentiment,
    infer_names,
    parse_label_map,
    sentiment_labels,
)
from ..files.readers import InputError

Warn = Callable[[str], None]
NSMC_LABELS = SENTIMENT_NAMES  # the classes of NSMC, as training.loop names them


@dataclass
class Labelled:
    """Texts with class indices into ``names`` (a list of indices for multi-label data)."""

    texts: list[str]
    labels: list[Any]
    names: list[str]

    def cats(self) -> Iterator[dict[str, float]]:
        """Each text's gold ``doc.cats``: 1.0 for its label(s), 0.0 for every other name."""
        for gold in self.labels:
            chosen = set(gold) if isinstance(gold, (list, tuple)) else {gold}
            yield {name: float(i in chosen) for i, name in enumerate(self.names)}


@dataclass
class Source:
    """Where the labelled rows come from and how to read them."""

    train: Path
    val: Path | None = None
    test: Path | None = None
    fmt: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    columns: tuple[str, ...] | None = None
    quoting: bool = True
    encoding: str | None = None
    sheet: str | None = None
    strict_rows: bool | None = False
    max_sheet_cells: int | None = None
    max_sheet_text: int | None = None
    labels: str | None = None
    label_map: str | None = None
    label_separator: str | None = None
    val_fraction: float = 0.1
    limit: int | None = None

    @property
    def layout(self) -> LabelledLayout:
        return LabelledLayout.from_options(self)


def load_data(
    source: Source,
    seed: int,
    *,
    model_classes: Sequence[str] = (),
    warn: Warn | None = None,
    note: Warn | None = None,
) -> tuple[Labelled, Labelled, Labelled | None]:
    """Training, validation and (optional) test sets, every file read and checked up front.

    ``model_classes`` are the classes of the checkpoint to fine-tune (see :func:`label_names`).
    """
    train_data, label_set = _training_set(source, model_classes, warn, note)
    names = train_data.names
    extra = {}
    for role in ("val", "test"):
        path = getattr(source, role)
        if path is not None:
            part = _read(path, source, warn, note)
            extra[role] = Labelled(part.texts, _gold(label_set, part), names)
    if "val" in extra:
        return train_data, extra["val"], extra.get("test")
    train_part, val_part = split_validation(train_data, source.val_fraction, seed)
    return train_part, val_part, extra.get("test")


def read_labelled(
    source: Source, *, warn: Warn | None = None, note: Warn | None = None
) -> Labelled:
    """The training file of ``source``: its texts, and label indices into the label names."""
    return _training_set(source, (), warn, note)[0]


def _training_set(
    source: Source, model_classes: Sequence[str], warn: Warn | None, note: Warn | None
) -> tuple[Labelled, LabelSet]:
    """The training data and the label set that the validation and test files must fit."""
    rows = _read(source.train, source, warn, note)
    if source.limit is not None:
        rows = rows.head(source.limit)
    label_map = parse_label_map(source.label_map)
    values = [value for labels in rows.labels for value in labels]
    nsmc = source.layout.format_of(source.train) == "nsmc"
    names = label_names(
        source.labels,
        values,
        nsmc=nsmc,
        label_map=label_map,
        model_classes=model_classes,
        note=note,
    )
    label_set = _label_set(names, label_map)
    return Labelled(rows.texts, _gold(label_set, rows), names), label_set


def _gold(label_set: LabelSet, rows: LabelledRows) -> list[Any]:
    """One class index per row, or for multi-label data (a row with several labels, or labels
    split by ``--label-separator``) a list of indices per row."""
    encoded = label_set.encode(rows)
    if all(len(indices) == 1 for indices in encoded):
        return [indices[0] for indices in encoded]
    return encoded


def _read(path: Path, source: Source, warn: Warn | None, note: Warn | None) -> LabelledRows:
    rows = files.read_labelled(path, source.layout, warn=warn, note=note)
    if not rows.texts:
        raise InputError(f"{path}: no rows with a text and a label to train on.")
    return rows


def _label_set(names: list[str], label_map: LabelMap) -> LabelSet:
    """The classes ``names``, with NSMC's 0/1 for negative/positive and the ``label_map``:
    the label set ``korsent evaluate`` reads sentiment with."""
    if names == list(SENTIMENT_NAMES):
        return sentiment_labels(label_map)
    return LabelSet(names, label_map=label_map)


def label_names(
    spec: str | None,
    values: list[str],
    *,
    nsmc: bool,
    label_map: LabelMap | None = None,
    model_classes: Sequence[str] = (),
    note: Warn | None = None,
) -> list[str]:
    """The class names in index order.

    ``spec`` is ``sentiment`` (negative,positive), ``emotion`` (the 60-label taxonomy), a file
    with one name per line, or a comma list. Without it: NSMC is negative,positive; a
    ``label_map`` gives its classes, sorted; 0/1 on a checkpoint whose ``model_classes`` are
    negative/positive mean negative/positive (as ``korsent evaluate`` reads them; ``note``
    hears so), which keeps the checkpoint's head; other integers 0..N-1 are class indices
    (named ``LABEL_i``, which both components read); other integers are refused (see
    :func:`infer_names`); other values are sorted.
    """
    if spec:
        if spec == "sentiment":
            names = list(SENTIMENT_NAMES)
        elif spec == "emotion":
            from ..taxonomy import LABELS

            names = list(LABELS)
        elif Path(spec).is_file():  # a file of names, one per line (KOTE's labels.txt)
            names = [line.strip() for line in Path(spec).read_text("utf-8").splitlines()]
            names = [name for name in names if name]
        else:
            names = [name.strip() for name in spec.split(",")]
        if len(set(names)) != len(names) or "" in names:
            raise InputError(f"--labels {spec!r}: names must be distinct and non-empty.")
    elif nsmc:
        names = list(SENTIMENT_NAMES)
    elif label_map:
        names = sorted(label_map.classes)
    elif binary_as_sentiment(values, model_classes):
        names = list(SENTIMENT_NAMES)
        if note is not None:
            found = ", ".join(sorted(set(values)))
            note(
                f"the labels {found} are read as negative, positive (1 = positive, as NSMC and "
                "korsent evaluate read them), the classes of the model, whose head is kept; to "
                "train new classes, name them (e.g. --labels spam,ham: 0 is the first)."
            )
    else:
        names = infer_names(values)
    if len(names) < 2:
        raise InputError(f"a classifier needs at least two classes; the labels are {names}.")
    return names


def split_validation(data: Labelled, fraction: float, seed: int) -> tuple[Labelled, Labelled]:
    """A seeded random split into training and validation parts."""
    if not 0 < fraction < 1:
        raise InputError(f"--val-fraction must be between 0 and 1, not {fraction}.")
    n_val = round(len(data.texts) * fraction)
    if n_val < 1 or n_val >= len(data.texts):
        raise InputError(
            f"{len(data.texts)} training rows cannot be split {fraction:g} for validation; "
            "add rows or give a validation file."
        )
    order = np.random.default_rng(seed).permutation(len(data.texts))
    return _subset(data, order[n_val:]), _subset(data, order[:n_val])


def _subset(data: Labelled, indices: np.ndarray) -> Labelled:
    return Labelled(
        [data.texts[i] for i in indices], [data.labels[i] for i in indices], list(data.names)
    )
