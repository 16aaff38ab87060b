"""The labelled data `korsent train` reads: files, label names, class indices, validation split."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..files.readers import InputError, guess_format, read_nsmc, read_rows

TRAIN_FORMATS = ("nsmc", "csv", "tsv", "jsonl")
NSMC_LABELS = ("negative", "positive")


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
    text_column: str = "text"
    label_column: str = "label"
    labels: str | None = None
    val_fraction: float = 0.1
    limit: int | None = None


def load_data(source: Source, seed: int) -> tuple[Labelled, Labelled, Labelled | None]:
    """Training, validation and (optional) test sets, every file read and checked up front."""
    train_data = read_labelled(source)
    names = train_data.names
    extra = {}
    for role in ("val", "test"):
        path = getattr(source, role)
        if path is not None:
            texts, values = read_raw(path, source.fmt, source.text_column, source.label_column)
            extra[role] = Labelled(texts, encode_labels(path, values, names), names)
    if "val" in extra:
        return train_data, extra["val"], extra.get("test")
    train_part, val_part = split_validation(train_data, source.val_fraction, seed)
    return train_part, val_part, extra.get("test")


def read_labelled(source: Source) -> Labelled:
    """The training file of ``source``: its texts, and label indices into the label names."""
    texts, values = read_raw(source.train, source.fmt, source.text_column, source.label_column)
    if source.limit is not None:
        texts, values = texts[: source.limit], values[: source.limit]
    nsmc = file_format(source.train, source.fmt) == "nsmc"
    names = label_names(source.labels, values, nsmc=nsmc)
    return Labelled(texts, encode_labels(source.train, values, names), names)


def read_raw(
    path: Path, fmt: str | None, text_column: str, label_column: str
) -> tuple[list[str], list[str]]:
    """Texts and their label values as strings; NSMC is cleaned as the model card did.

    Rows with an empty text are dropped; a row without a label is an error.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty.")
    fmt = file_format(path, fmt)
    if fmt == "nsmc":
        nsmc = read_nsmc(path)
        texts, values = nsmc.texts, [str(label) for label in nsmc.labels]
    else:
        texts, values = [], []
        required = (text_column, label_column)
        for row_no, row in enumerate(read_rows(path, fmt, required=required), start=1):
            text = row[text_column]
            if text is None or not str(text).strip():
                continue
            value = row[label_column]
            if value is None or not str(value).strip():
                raise InputError(f"{path}: row {row_no} has no value in {label_column!r}.")
            texts.append(str(text))
            values.append(str(value).strip())
    if not texts:
        raise InputError(f"{path}: no rows with a text to train on.")
    return texts, values


def file_format(path: Path, fmt: str | None) -> str:
    """``fmt``, else the one the suffix names; a ``.txt`` file (or any other) is NSMC."""
    fmt = fmt or guess_format(path)
    fmt = "nsmc" if fmt == "text" else fmt
    if fmt not in TRAIN_FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(TRAIN_FORMATS)}.")
    return fmt


def label_names(spec: str | None, values: list[str], *, nsmc: bool) -> list[str]:
    """The class names in index order.

    ``spec`` is ``sentiment`` (negative,positive), ``emotion`` (the 60-label taxonomy) or a comma
    list. Without it: NSMC is negative,positive; integer values are class indices (named
    ``LABEL_i``, which both components read); other values are sorted.
    """
    if spec:
        if spec == "sentiment":
            names = list(NSMC_LABELS)
        elif spec == "emotion":
            from ..taxonomy import LABELS

            names = list(LABELS)
        else:
            names = [name.strip() for name in spec.split(",")]
        if len(set(names)) != len(names) or "" in names:
            raise InputError(f"--labels {spec!r}: names must be distinct and non-empty.")
    elif nsmc:
        names = list(NSMC_LABELS)
    elif all(_is_index(value) for value in values):
        names = [f"LABEL_{i}" for i in range(max(int(value) for value in values) + 1)]
    else:
        names = sorted(set(values))
    if len(names) < 2:
        raise InputError(f"a classifier needs at least two classes; the labels are {names}.")
    return names


def encode_labels(path: Path, values: list[str], names: list[str]) -> list[int]:
    """Class indices for label values given as names or as integer indices into ``names``."""
    index = {name: i for i, name in enumerate(names)}
    labels = []
    for value in values:
        if value in index:
            labels.append(index[value])
        elif _is_index(value) and int(value) < len(names):
            labels.append(int(value))
        else:
            raise InputError(
                f"{path}: label {value!r} is not one of {names} (nor a class index below "
                f"{len(names)}). Fix the file or pass the full label set with --labels."
            )
    return labels


def _is_index(value: str) -> bool:
    return value.isdigit() and value.isascii()


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
