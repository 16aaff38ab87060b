"""The transfer set of ``korsent distill``: the texts the student learns on, with their gold labels.

Each distinct non-empty text of the files is used once, whether or not it has a label (the teacher
labels every one); gold labels, where the files give them, are read as ``korsent train`` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files.labelled import LabelSet, describe_unknown, parse_label_map, sentiment_labels
from ..files.readers import InputError, Layout, Warn, read_records


@dataclass
class Corpus:
    """The texts to distil on, in file order without repeats, and their gold label values."""

    texts: list[str] = field(default_factory=list)
    gold: list[list[str]] = field(default_factory=list)
    """Each text's label values (an empty list: none)."""
    rows: int = 0
    empty: int = 0
    duplicates: int = 0


def read_corpus(
    sources: Sequence[tuple[Path | str, Layout]],
    *,
    text_column: str = "text",
    label_column: str | None = None,
    label_separator: str | None = None,
    warn: Warn | None = None,
    note: Warn | None = None,
) -> Corpus:
    """Every distinct non-empty text of the files (each read by the shared reader with its
    layout), with its label values.

    A row without a label is still used (the teacher labels it); a repeated text is used once.
    """
    corpus = Corpus()
    seen: set[str] = set()
    for path, layout in sources:
        table = layout.fmt in ("csv", "tsv")
        required = tuple(c for c in (text_column, label_column) if c) if table else ()
        for record in read_records(
            path, layout, text_column=text_column, required=required, warn=warn, note=note
        ):
            corpus.rows += 1
            text = record.row.get(text_column)
            if not isinstance(text, str) or not text.strip():
                corpus.empty += 1
                continue
            if text in seen:
                corpus.duplicates += 1
                continue
            seen.add(text)
            corpus.texts.append(text)
            labels = record.row.get(label_column) if label_column else None
            corpus.gold.append(_values(labels, label_separator))
    if not corpus.texts:
        names = ", ".join(str(path) for path, _ in sources)
        raise InputError(f"no texts in the field {text_column!r} of {names}.")
    return corpus


def _values(value: object, separator: str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    text = str(value).strip()
    parts = text.split(separator) if separator else [text]
    return [part.strip() for part in parts if part.strip()]


def gold_matrix(
    corpus: Corpus, labels: list[str], label_map: str | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Gold probabilities ``[texts, labels]`` and which texts have gold (None without gold).

    Values are read as ``korsent train`` reads them: names, NSMC's 0/1 for negative/positive,
    class indices, or through ``label_map``; an unknown value is an InputError naming it.
    """
    if not any(corpus.gold):
        return None
    mapping = parse_label_map(label_map)
    label_set = (
        sentiment_labels(mapping)
        if labels == ["negative", "positive"]
        else LabelSet(labels, label_map=mapping)
    )
    truth = np.zeros((len(corpus.texts), len(labels)), dtype=np.float32)
    known = np.zeros(len(corpus.texts), dtype=bool)
    unknown: dict[str, list[int]] = {}
    for row, values in enumerate(corpus.gold):
        for value in values:
            index = label_set.lookup(value)
            if index is None:
                unknown.setdefault(value, []).append(row + 1)
            else:
                truth[row, index], known[row] = 1.0, True
    if unknown:
        raise InputError(f"gold labels: {describe_unknown(unknown, labels)}")
    return truth, known
