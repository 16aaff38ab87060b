"""What an analysed file holds, found from its first row, and its values read back as data.

``korsent analyze`` writes ``sentiment``, ``sentiment_score``, ``sentiment_<label>`` and
``emotion``, ``emotion_score``, ``emotion_labels``, ``emotion_group``, ``emotions_top``; lists
are JSON strings in CSV, TSV and Excel sheets (lists in JSON Lines and Parquet), and every value
is a string in CSV and TSV. A file may hold either task or both, and a single-label emotion model
leaves ``emotion_group`` empty for models without groups. Which cells may be empty is the answer
kinds' rule (:mod:`spacy_korsent.answers`): those of a row without a result, and the neutral
band's score. Attributions are read when a row carries them as ``sentiment_attribution`` /
``emotion_attribution``: a list of ``[token, value]`` pairs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..answers import TASKS, AnswerKind, written_kind
from ..files.readers import InputError

SCORE = "{task}_score"
ATTRIBUTION = "{task}_attribution"


@dataclass(frozen=True)
class Columns:
    """The columns a report reads; what the file lacks is said in ``missing``."""

    text: str
    tasks: tuple[str, ...]
    sentiment_labels: tuple[str, ...] = ()
    """From the ``sentiment_<label>`` columns, in their order (labels seen later are added)."""
    emotion_groups: bool = False
    emotion_labels: bool = False
    attributions: tuple[str, ...] = ()
    """The tasks whose attributions the rows carry."""
    id: str | None = None
    group: str | None = None
    date: str | None = None
    missing: tuple[str, ...] = field(default=())
    """One sentence per thing the report cannot show, and why."""

    def answer_kind(self, task: str) -> AnswerKind:
        """The kind of answer the file's ``task`` columns hold, as far as they say."""
        return written_kind(task, self.sentiment_labels if task == "sentiment" else ())

    @property
    def read(self) -> list[str]:
        """The columns the report reads (a columnar file need not give the others)."""
        names = [self.text, *self.tasks, *(SCORE.format(task=task) for task in self.tasks)]
        names += [f"sentiment_{label}" for label in self.sentiment_labels]
        names += [ATTRIBUTION.format(task=task) for task in self.attributions]
        names += ["emotion_group"] * self.emotion_groups + ["emotion_labels"] * self.emotion_labels
        names += [name for name in (self.id, self.group, self.date) if name is not None]
        return list(dict.fromkeys(names))


def find_columns(
    row: Mapping[str, Any],
    source: str,
    *,
    text: str,
    id_column: str | None = None,
    group: str | None = None,
    date: str | None = None,
) -> Columns:
    """The columns of a file from its first row; an :class:`InputError` for a file that is not
    ``korsent analyze``'s output or lacks a column an option names."""
    names = list(row)
    tasks = tuple(task for task in TASKS if task in row)
    if not tasks:
        raise InputError(
            f"{source}: no 'sentiment' or 'emotion' column in {names}: the report reads the "
            "output of korsent analyze (run it first, with -t sentiment, emotion or both)."
        )
    for option, column in (
        ("--text-column", text),
        ("--id-column", id_column),
        ("--group-by", group),
        ("--date-column", date),
    ):
        if column is not None and column not in row:
            hint = " (the text's column: give --text-column)" if option == "--text-column" else ""
            raise InputError(f"{source}: no column {column!r} ({option}) in {names}{hint}.")
    for task in tasks:
        if SCORE.format(task=task) not in row:
            raise InputError(
                f"{source}: a {task!r} column but no {SCORE.format(task=task)!r} in {names}: "
                "give the file korsent analyze wrote, with its columns."
            )
    missing = [
        f"no {task} results: the file has no '{task}' column (korsent analyze -t both adds "
        "sentiment and emotion)."
        for task in TASKS
        if task not in tasks
    ]
    sentiment_labels = tuple(
        name[len("sentiment_") :]
        for name in names
        if name.startswith("sentiment_")
        and name not in (SCORE.format(task="sentiment"), ATTRIBUTION.format(task="sentiment"))
    )
    emotion = "emotion" in tasks
    attributions = tuple(task for task in tasks if ATTRIBUTION.format(task=task) in row)
    if not attributions:
        missing.append(
            "no attributions in the rows: distinctive words are ranked from word counts."
        )
    if emotion and "emotion_group" not in row:
        missing.append("no 'emotion_group' column: emotions are shown without their groups.")
    if group is None:
        missing.append("no --group-by column: no breakdown by group.")
    if date is None:
        missing.append("no --date-column: no breakdown over time.")
    return Columns(
        text=text,
        tasks=tasks,
        sentiment_labels=sentiment_labels,
        emotion_groups=emotion and "emotion_group" in row,
        emotion_labels=emotion and "emotion_labels" in row,
        attributions=attributions,
        id=id_column if id_column is not None else ("id" if "id" in row else None),
        group=group,
        date=date,
        missing=tuple(missing),
    )


def label(value: Any) -> str | None:
    """A label cell: None when empty (a row without a result)."""
    if value is None:
        return None
    text = str(value)
    return text if text else None


def answer_score(
    kind: AnswerKind, name: str, value: Any, column: str, source: str, line: int
) -> float | None:
    """The score cell of an answer labelled ``name``: None where the answer kind has no score
    (the neutral band's neutral: an empty cell), else a probability (:func:`score`)."""
    if kind.score_is_none(name):
        if value is None or value == "":
            return None
        raise InputError(
            f"{source}:{line}: {column} is {value!r} for the answer {name!r}, which has no score "
            f"({kind.name}): give the file korsent analyze wrote, with its columns."
        )
    return score(value, column, source, line)


def score(value: Any, column: str, source: str, line: int) -> float:
    """A probability cell as a float; an :class:`InputError` (naming ``source:line``) for
    anything else."""
    if type(value) is float and 0.0 <= value <= 1.0:  # JSON Lines and Parquet: no conversion
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise InputError(
            f"{source}:{line}: {column} is {value!r}, not a probability between 0 and 1: give "
            "the file korsent analyze wrote, with its columns."
        )
    return number


def json_list(value: Any, column: str, source: str, line: int) -> list:
    """A list cell (a list, or a JSON string of one, as CSV and .xlsx hold it); empty: []."""
    if type(value) is list:
        return value
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, list):
        raise InputError(f"{source}:{line}: {column} is not a list (or a JSON string of one).")
    return value


def attribution_pairs(value: Any, column: str, source: str, line: int) -> list[tuple[str, float]]:
    """An attribution cell: ``[[token, value], ...]``, as ``[(t.text, t._.<attribution>) for t
    in doc]`` gives it."""
    pairs = []
    for item in json_list(value, column, source, line):
        try:
            token, weight = item
            pairs.append((str(token), float(weight)))
        except (TypeError, ValueError) as err:
            raise InputError(
                f"{source}:{line}: {column} holds {item!r}, not a [token, value] pair."
            ) from err
    return pairs
