"""One pass over analysed rows: everything the report shows, in memory that does not grow with
the number of rows.

Counts, score histograms and per-group and per-day tallies are fixed-size (groups are capped at
``max_groups``, days by the span of the dates); examples are kept in top-k heaps per label; word
counts in a :class:`~.words.WordTable` of bounded size. Texts are kept only for the examples.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..files.readers import Record
from .columns import (
    ATTRIBUTION,
    SCORE,
    Columns,
    answer_score,
    attribution_pairs,
    json_list,
    label,
)
from .dates import as_date
from .words import WordTable, stem, words

OTHER = "(other)"
EMOTION_GROUP = "emotion group"
NONE = "(none)"
EXAMPLE_CHARS = 300
"""An example's text is cut here (with …): enough to read a review, bounded for a long one."""
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
"""A group value that is a number (as a CSV cell or ``str()`` of an int or float holds it)."""


@dataclass(frozen=True)
class Settings:
    """How much the report keeps: bins, examples per label, words, groups."""

    bins: int = 20
    examples: int = 5
    words: int = 15
    min_count: int = 5
    max_groups: int = 1000
    """Distinct groups counted one by one; later new values are counted together as (other)."""
    word_capacity: int = 20_000
    """Words counted per task (up to twice as many before the rarer half is dropped)."""


@dataclass(frozen=True, order=True)
class Example:
    """A row shown as an example: its id (or line), score and (cut) text."""

    score: float | None
    """None for an answer without a score (the neutral band's neutral)."""
    id: str
    text: str


@dataclass
class Tally:
    """Rows of one group or one day: how many, and how many per (task, label); the task
    ``"emotion group"`` counts emotion groups."""

    rows: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, results: dict[str, tuple[str, float | None]], emotion_group: str | None) -> None:
        self.rows += 1
        counts = self.counts
        for task, (name, _) in results.items():
            counts[task, name] += 1
        if emotion_group:
            counts[EMOTION_GROUP, emotion_group] += 1

    def labels(self, task: str) -> Counter[str]:
        """Rows per label of ``task``."""
        return Counter({name: n for (of, name), n in self.counts.items() if of == task})

    def merge(self, other: Tally) -> None:
        self.rows += other.rows
        self.counts.update(other.counts)


@dataclass
class Label:
    """One label's score histogram and its most and least confident rows (top-k heaps)."""

    histogram: list[int]
    """Rows per score bin: bin i holds [i/bins, (i+1)/bins) (1.0 in the last)."""
    unscored: int = 0
    """Rows of answers without a score (the neutral band's neutral): in no bin."""
    confident: list[tuple[float, int, Example]] = field(default_factory=list)
    uncertain: list[tuple[float, int, Example]] = field(default_factory=list)


class TaskStats:
    """One task's (sentiment, emotion, emotion group) labels, score histograms, examples, words."""

    def __init__(self, task: str, settings: Settings, attributions: bool) -> None:
        self.task = task
        self.settings = settings
        self.labels: Counter[str] = Counter()
        self.per_label: dict[str, Label] = {}
        self.without = 0
        """Rows without a result (no text, or an empty cell)."""
        self.words = WordTable(settings.word_capacity)
        self.attributions = WordTable(settings.word_capacity) if attributions else None

    @property
    def histograms(self) -> dict[str, list[int]]:
        """Per label that has scores, rows per score bin."""
        return {
            name: label.histogram for name, label in self.per_label.items() if any(label.histogram)
        }

    @property
    def unscored(self) -> dict[str, int]:
        """Per label, rows of answers without a score (the neutral band's neutral)."""
        return {name: label.unscored for name, label in self.per_label.items() if label.unscored}

    def add(
        self, name: str, value: float | None, number: int, ident: Any, text: str, tokens: list[str]
    ) -> None:
        """Count a row's result and its words (``tokens``), and keep it if it is among the most
        or least confident (``ident``: the id cell, or None). An answer without a score (None)
        is in no bin, and its label's examples are its first rows."""
        bins, k = self.settings.bins, self.settings.examples
        self.labels[name] += 1
        label = self.per_label.get(name)
        if label is None:
            label = self.per_label[name] = Label([0] * bins)
        if value is None:
            label.unscored += 1
        else:
            label.histogram[min(int(value * bins), bins - 1)] += 1
        _keep(label.confident, value, number, k, ident, text)
        _keep(label.uncertain, None if value is None else -value, number, k, ident, text)
        if tokens:
            self.words.add(name, tokens)

    def add_attributions(self, name: str, pairs: list[tuple[str, float]]) -> None:
        assert self.attributions is not None
        self.attributions.add_weighted(
            name, ((stem(token.lower()), value) for token, value in pairs if token.strip())
        )

    def examples(self, name: str, which: str) -> list[Example]:
        """The most confident (highest score first) or most uncertain (lowest first) rows."""
        label = self.per_label.get(name)
        if label is None:
            return []
        heap = label.confident if which == "confident" else label.uncertain
        return [example for _, _, example in sorted(heap, reverse=True)]


def group_key(name: str) -> tuple[int, float, str]:
    """Numbers by value, then other names as text, then (none) and (other)."""
    if name in (NONE, OTHER):
        return (2, 0.0, name)
    if NUMBER.fullmatch(name):
        return (0, float(name), name)
    return (1, 0.0, name)


def _keep(
    heap: list[tuple[float, int, Example]],
    score: float | None,
    number: int,
    k: int,
    ident: Any,
    text: str,
) -> None:
    """Keep a row in a heap of the ``k`` largest scores (None: all equal). Rows come in order,
    so a later row with a key equal to the smallest kept does not displace it: ties keep the
    earlier row."""
    key = 0.0 if score is None else score
    if len(heap) >= k and key <= heap[0][0]:
        return
    cut = text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
    name = f"line {number}" if ident is None or ident == "" else str(ident)
    item = (key, -number, Example(None if score is None else abs(key), name, cut))
    if len(heap) < k:
        heapq.heappush(heap, item)
    else:
        heapq.heapreplace(heap, item)


class Corpus:
    """Everything the report shows, added to row by row (:meth:`add`)."""

    def __init__(self, columns: Columns, source: str, settings: Settings = Settings()) -> None:
        self.columns = columns
        self.source = source
        self.settings = settings
        self.rows = 0
        self.with_text = 0
        self.tasks = {
            task: TaskStats(task, settings, task in columns.attributions) for task in columns.tasks
        }
        self.kinds = {task: columns.answer_kind(task) for task in columns.tasks}
        """Each task's answer kind: which scores may be empty."""
        self.sentiment_labels = list(columns.sentiment_labels)
        self.by_emotion_group = (
            TaskStats(EMOTION_GROUP, settings, False) if columns.emotion_groups else None
        )
        """The emotion results counted by group (histogram, examples, words) for a model with
        groups; None for a file without ``emotion_group``."""
        self.predicted: Counter[str] = Counter()
        """How often each emotion is among a row's predicted emotions (``emotion_labels``)."""
        self.predicted_sizes: Counter[int] = Counter()
        """Rows by how many emotions were predicted (0: none reached the threshold)."""
        self.groups: dict[str, Tally] = {}
        self.lumped_rows = 0
        """Rows of groups first seen after ``max_groups`` others, counted together as (other)."""
        self.days: dict[date, Tally] = {}
        self.undated = 0
        self.unparsed = 0
        self.unparsed_values: list[str] = []

    @property
    def emotion_groups(self) -> Counter[str]:
        """Rows per emotion group (empty for a model without groups)."""
        return self.by_emotion_group.labels if self.by_emotion_group else Counter()

    def add_all(self, records: Iterable[Record]) -> Corpus:
        for record in records:
            self.add(record)
        return self

    def add(self, record: Record) -> None:
        """Count one row."""
        row, columns = record.row, self.columns
        self.rows += 1
        text = row.get(columns.text)
        text = text if isinstance(text, str) else ""
        self.with_text += bool(text)
        ident = row.get(columns.id) if columns.id else None
        tokens = words(text)
        emotion_group = label(row.get("emotion_group")) if columns.emotion_groups else None
        results: dict[str, tuple[str, float | None]] = {}
        for task, stats in self.tasks.items():
            name = label(row.get(task))
            if name is None:
                stats.without += 1
                continue
            column = SCORE.format(task=task)
            kind = self.kinds[task]
            value = answer_score(kind, name, row.get(column), column, self.source, record.line)
            results[task] = (name, value)
            # A row with an emotion group has its words counted by group (below) only: the page
            # lists an emotion model's words by group when it has groups, by emotion otherwise.
            counted = [] if task == "emotion" and emotion_group else tokens
            stats.add(name, value, record.line, ident, text, counted)
            if stats.attributions is not None:
                column = ATTRIBUTION.format(task=task)
                pairs = attribution_pairs(row.get(column), column, self.source, record.line)
                stats.add_attributions(name, pairs)
        sentiment = results.get("sentiment")
        if sentiment and sentiment[0] not in self.sentiment_labels:
            self.sentiment_labels.append(sentiment[0])
        if "emotion" not in results:
            emotion_group = None
        else:
            if emotion_group and self.by_emotion_group is not None:
                value = results["emotion"][1]
                self.by_emotion_group.add(emotion_group, value, record.line, ident, text, tokens)
            if columns.emotion_labels:
                predicted = json_list(
                    row.get("emotion_labels"), "emotion_labels", self.source, record.line
                )
                self.predicted.update(map(str, predicted))
                self.predicted_sizes[len(predicted)] += 1
        if columns.group is not None:
            self._group(row.get(columns.group)).add(results, emotion_group)
        if columns.date is not None:
            self._day(row.get(columns.date), results, emotion_group)

    def ranked_groups(self, limit: int) -> tuple[list[tuple[str, Tally]], list[tuple[str, Tally]]]:
        """The ``limit`` groups with the most rows, and the others. The ones kept are listed by
        value when they are all numbers (ratings 1 to 10, not 1, 10, 2; rows without a value
        last), else most rows first; ties go by :func:`group_key`."""
        ranked = sorted(self.groups.items(), key=lambda item: (-item[1].rows, group_key(item[0])))
        kept, rest = ranked[:limit], ranked[limit:]
        values = [name for name, _ in kept if name not in (NONE, OTHER)]
        if values and all(NUMBER.fullmatch(name) for name in values):
            kept.sort(key=lambda item: group_key(item[0]))
        return kept, rest

    def _group(self, value: Any) -> Tally:
        name = NONE if value is None or value == "" else str(value)
        tally = self.groups.get(name)
        if tally is None:
            if len(self.groups) >= self.settings.max_groups:
                self.lumped_rows += 1
                return self.groups.setdefault(OTHER, Tally())
            tally = self.groups[name] = Tally()
        return tally

    def _day(
        self, value: Any, results: dict[str, tuple[str, float | None]], emotion_group: str | None
    ) -> None:
        if value is None or value == "":
            self.undated += 1
            return
        day = as_date(value)
        if day is None:
            self.unparsed += 1
            if len(self.unparsed_values) < 3 and str(value) not in self.unparsed_values:
                self.unparsed_values.append(str(value))
            return
        self.days.setdefault(day, Tally()).add(results, emotion_group)
