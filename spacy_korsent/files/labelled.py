"""Labelled files for ``korsent train`` and ``korsent evaluate``: one reader, one label mapping.

:func:`read_labelled` reads texts and their label values from NSMC, CSV, TSV, JSON Lines or an
Excel sheet (with or without a header, with or without quoting, in any encoding :mod:`.encoding`
reads). A label cell
may hold several labels (``0,6,10`` in KOTE) with ``label_separator``, so every row carries a list
of label values. :class:`LabelSet` turns those values into class indices: names, extra spellings
(English glosses, NSMC's 0/1), ``--label-map`` entries (:func:`parse_label_map`: ``1=negative`` or
ranges of ratings such as ``1-4=negative,5-8=neutral,9-10=positive``), or class indices.

NSMC is cleaned as the sentiment model card did: drop empty documents, then duplicate documents
keeping the first (also when their labels conflict, which is counted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .readers import InputError, Layout, Warn, guess_format, read_records, source_name
from .workbook_limits import SheetLimits

LABELLED_FORMATS = ("nsmc", "csv", "tsv", "jsonl", "xlsx")
NSMC_COLUMNS = ("document", "label")
SENTIMENT_NAMES = ("negative", "positive")
THREE_WAY_NAMES = ("negative", "neutral", "positive")
SENTIMENT_ALIASES = {"0": "negative", "1": "positive", "LABEL_0": "negative", "LABEL_1": "positive"}
"""NSMC's 0/1 (1 = positive), and the same classes as Hugging Face names them without names."""


@dataclass(frozen=True)
class LabelledLayout:
    """Where a labelled file keeps its texts and labels, and how to read it.

    ``fmt`` None takes the format from the suffix (.csv, .tsv, .jsonl), else ``default_fmt``.
    ``columns`` names the columns of a CSV/TSV file without a header line. ``label_separator``
    splits a label cell into several labels (multi-label data); None keeps the cell whole.
    ``strict_rows`` and ``sheet_limits`` are as in :class:`~.readers.Layout`.
    """

    fmt: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    columns: tuple[str, ...] | None = None
    quoting: bool = True
    encoding: str | None = None
    label_separator: str | None = None
    sheet: str | None = None
    default_fmt: str = "nsmc"
    strict_rows: bool = False
    sheet_limits: SheetLimits = SheetLimits()

    @classmethod
    def from_options(cls, options: object, default_fmt: str = "nsmc") -> LabelledLayout:
        """The layout from command-line options of the same names (None: the default)."""
        return cls(
            fmt=getattr(options, "fmt", None),
            text_column=getattr(options, "text_column", None) or "text",
            label_column=getattr(options, "label_column", None) or "label",
            columns=getattr(options, "columns", None),
            quoting=getattr(options, "quoting", True),
            encoding=getattr(options, "encoding", None),
            label_separator=getattr(options, "label_separator", None),
            sheet=getattr(options, "sheet", None),
            default_fmt=default_fmt,
            strict_rows=bool(getattr(options, "strict_rows", False)),
            sheet_limits=SheetLimits.from_options(options),
        )

    def format_of(self, path: Path | str) -> str:
        """The format of ``path``: ``fmt``, else its suffix's, else ``default_fmt``."""
        fmt = self.fmt or guess_format(path)
        fmt = self.default_fmt if fmt == "text" else fmt
        if fmt not in LABELLED_FORMATS:
            raise InputError(f"unknown format {fmt!r}; use one of {', '.join(LABELLED_FORMATS)}.")
        return fmt


@dataclass
class LabelledRows:
    """Texts with their label values (a list per row) and the counts of reading and cleaning.

    ``skipped`` counts rows left out with a warning (wrong number of fields, no label);
    ``duplicates`` and ``conflicting`` are only counted for NSMC.
    """

    source: str
    lines: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rows: int = 0
    empty: int = 0
    skipped: int = 0
    duplicates: int = 0
    conflicting: int = 0
    nsmc: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts = {"rows": self.rows, "empty": self.empty, "skipped": self.skipped}
        if self.nsmc:
            counts.update(duplicates=self.duplicates, conflicting=self.conflicting)
        return {**counts, "kept": len(self.texts)}

    def head(self, limit: int) -> LabelledRows:
        """The first ``limit`` kept rows (the counts stay those of the whole file)."""
        part = LabelledRows(**{**self.__dict__})
        for name in ("lines", "texts", "labels", "ids"):
            setattr(part, name, getattr(self, name)[:limit])
        return part


def read_labelled(
    path: Path | str,
    layout: LabelledLayout = LabelledLayout(),
    *,
    warn: Warn | None = None,
    note: Warn | None = None,
) -> LabelledRows:
    """Read every row with a text and a label; see the module docstring.

    Rows with an empty text are dropped and counted. A row with no label or the wrong number of
    fields is skipped with a warning. A missing column or a file without rows is an InputError.
    """
    fmt = layout.format_of(path)
    nsmc = fmt == "nsmc"
    text_column, label_column = NSMC_COLUMNS if nsmc else (layout.text_column, layout.label_column)
    reading = Layout(
        "tsv" if nsmc else fmt,
        layout.columns,
        layout.quoting,
        layout.encoding,
        layout.sheet,
        layout.strict_rows,
        layout.sheet_limits,
    )
    data = LabelledRows(source_name(path), nsmc=nsmc)
    warn = warn or (lambda message: None)
    first_label: dict[str, list[str]] = {}
    for record in read_records(
        path, reading, required=(text_column, label_column), warn=warn, note=note
    ):
        data.rows += 1
        if record.problem:
            warn(f"{record.problem}; row skipped.")
            data.skipped += 1
            continue
        text, value = record.row.get(text_column), record.row.get(label_column)
        if text is None or not str(text).strip():
            data.empty += 1
            continue
        labels = _label_values(value, layout.label_separator)
        if not labels:
            warn(f"{data.source}:{record.line}: no label in {label_column!r}; row skipped.")
            data.skipped += 1
            continue
        text = str(text)
        if nsmc:
            if text in first_label:
                data.duplicates += 1
                data.conflicting += labels != first_label[text]
                continue
            first_label[text] = labels
        data.lines.append(record.line)
        data.texts.append(text)
        data.labels.append(labels)
        data.ids.append(str(record.row.get("id") or record.line))
    if not data.rows:
        below = "" if layout.columns or fmt == "jsonl" else " below the header"
        raise InputError(f"{data.source}: no rows{below}.")
    return data


@dataclass
class Nsmc:
    """Cleaned NSMC: texts, their labels (1 = positive), ids, and the counts of cleaning."""

    texts: list[str]
    labels: list[int]
    ids: list[str]
    counts: dict[str, int]


def read_nsmc(path: Path | str, *, warn: Warn | None = None) -> Nsmc:
    """Read an NSMC-format file (``id<TAB>document<TAB>label`` with a header) and clean it."""
    data = read_labelled(path, LabelledLayout(fmt="nsmc"), warn=warn)
    return Nsmc(data.texts, sentiment_labels().encode_single(data), data.ids, data.counts)


def sentiment_labels(
    label_map: LabelMap | Mapping[str, str] | None = None, *, neutral: bool = False
) -> LabelSet:
    """negative and positive (with ``neutral``: negative, neutral, positive), also written 0 and 1
    (NSMC's convention) or LABEL_0 and LABEL_1, plus ``label_map``.

    ``korsent evaluate`` and ``korsent train`` read sentiment labels through this one set.
    """
    return LabelSet(
        THREE_WAY_NAMES if neutral else SENTIMENT_NAMES,
        aliases=SENTIMENT_ALIASES,
        label_map=label_map,
        indices=False,
    )


def binary_as_sentiment(values: Iterable[str], classes: Sequence[str]) -> dict[str, str] | None:
    """How 0/1 (or LABEL_0/LABEL_1) labels read on a model whose ``classes`` are negative and
    positive: ``{"0": "negative", "1": "positive"}`` (those of the values given), else None.

    Fine-tuning a negative/positive model on NSMC-style 0/1 labels keeps its trained head: the
    labels mean what ``korsent evaluate`` reads them as (:data:`SENTIMENT_ALIASES`).
    """
    found = set(values)
    if sorted(classes) != list(SENTIMENT_NAMES) or len(found) < 2:
        return None
    for spelling in (("0", "1"), ("LABEL_0", "LABEL_1")):
        if found <= set(spelling):
            return {value: SENTIMENT_ALIASES[value] for value in spelling if value in found}
    return None


def _label_values(value: object, separator: str | None) -> list[str]:
    """The label values of a cell: a JSON list, a separated string, or one value."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, list):
        parts = [str(item) for item in value]
    elif separator is None:
        parts = [str(value)]
    else:
        parts = str(value).split(separator)
    return [part.strip() for part in parts if part.strip()]


class LabelSet:
    """Class names in index order and every spelling of them a file may use.

    A value is looked up in ``label_map``, then as a name, then as an alias (``aliases``), then,
    with ``indices``, as an integer class index. With a ``label_map``, integers are only read
    through it (neither integer aliases nor class indices apply).
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        aliases: Mapping[str, str] | None = None,
        label_map: LabelMap | Mapping[str, str] | None = None,
        indices: bool = True,
    ) -> None:
        self.names = list(names)
        if len(set(self.names)) != len(self.names) or "" in self.names:
            raise InputError(f"the class names {self.names} must be distinct and non-empty.")
        self.label_map = label_map if isinstance(label_map, LabelMap) else LabelMap.of(label_map)
        for value, name in self.label_map.entries():
            if name not in self.names:
                raise InputError(
                    f"--label-map {value}={name}: {name!r} is not one of the classes {self.names}."
                )
        self.index = {name: i for i, name in enumerate(self.names)}
        # With a map, numbers are read only through it: NSMC's 1 = positive must not catch a
        # star rating of 1 that the map forgot.
        for value, name in (aliases or {}).items():
            if name in self.index and not (self.label_map and _is_integer(value)):
                self.index.setdefault(value, self.index[name])
        self.indices = indices and not self.label_map

    def lookup(self, value: str) -> int | None:
        """The class index of a label value, or None when it is none of the known spellings."""
        mapped = self.label_map.lookup(value)
        if mapped is not None:
            return self.index[mapped]
        if value in self.index:
            return self.index[value]
        if self.indices and _is_integer(value) and int(value) < len(self.names):
            return int(value)
        return None

    def encode(self, data: LabelledRows) -> list[list[int]]:
        """Class indices of every row's labels; an InputError naming all unknown values."""
        unknown: dict[str, list[int]] = {}
        encoded = []
        for line, values in zip(data.lines, data.labels):
            indices = []
            for value in values:
                index = self.lookup(value)
                if index is None:
                    unknown.setdefault(value, []).append(line)
                else:
                    indices.append(index)
            encoded.append(indices)
        if unknown:
            raise InputError(f"{data.source}: {describe_unknown(unknown, self.names)}")
        return encoded

    def encode_single(self, data: LabelledRows) -> list[int]:
        """One class index per row; an InputError for a row with several labels."""
        for line, values in zip(data.lines, data.labels):
            if len(values) != 1:
                raise InputError(
                    f"{data.source}:{line}: {len(values)} labels ({', '.join(values)}) where one "
                    "is expected."
                )
        return [indices[0] for indices in self.encode(data)]


def describe_unknown(unknown: dict[str, list[int]], names: list[str]) -> str:
    """A message naming the unknown label values (with where they occur) and how to map them."""
    shown = sorted(unknown, key=lambda value: unknown[value][0])[:10]
    values = ", ".join(
        f"{value!r} (line {unknown[value][0]}"
        + (f" and {len(unknown[value]) - 1:,} more)" if len(unknown[value]) > 1 else ")")
        for value in shown
    )
    more = f" and {len(unknown) - len(shown):,} more values" if len(unknown) > len(shown) else ""
    example = f"{shown[0]}={names[0]}"
    return (
        f"labels that are not one of the classes {_short(names)}: {values}{more}. Map them to "
        f"classes with --label-map (e.g. --label-map {example}) or fix the file."
    )


def _is_integer(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _short(names: list[str]) -> str:
    return str(names) if len(names) <= 8 else f"[{', '.join(names[:6])}, ... ({len(names)} in all)]"


_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"\s*({_NUMBER})\s*-\s*({_NUMBER})\s*")


def _number(value: str) -> float | None:
    """``value`` as a number when written as one (``4``, ``4.0``, ``-1``, ``.5``), else None."""
    text = value.strip()
    return float(text) if text.isascii() and re.fullmatch(_NUMBER, text) else None


@dataclass(frozen=True)
class NumberRange:
    """The numbers from ``low`` to ``high``, both included, as the spec wrote them."""

    low: float
    high: float
    spec: str

    def __contains__(self, number: float) -> bool:
        return self.low <= number <= self.high


@dataclass(frozen=True)
class LabelMap:
    """``--label-map``: label values to class names, one by one or by ranges of numbers.

    A key written as a number (``4``) or a range (``1-4``, ``0.5-2.5``; both ends included)
    catches every value that reads as a number in it: ``4.0`` and ``04`` are ``4``. Other keys
    match their value exactly. Empty when no map was given (``bool(label_map)`` is False).
    """

    exact: dict[str, str] = field(default_factory=dict)
    ranges: tuple[tuple[NumberRange, str], ...] = ()

    @classmethod
    def of(cls, pairs: LabelMap | Mapping[str, str] | None, spec: str | None = None) -> LabelMap:
        """A map from ``{key: class}`` (a key may be a number or a range), checked: a value that
        two entries send to different classes (overlapping ranges) is an InputError."""
        if isinstance(pairs, LabelMap):
            return pairs
        exact: dict[str, str] = {}
        ranges: list[tuple[NumberRange, str]] = []
        for key, name in (pairs or {}).items():
            key, name = str(key).strip(), str(name).strip()
            span = _range(key)
            if span is None:
                exact[key] = name
                continue
            for other, other_name in ranges:
                if other_name != name and span.low <= other.high and other.low <= span.high:
                    raise InputError(
                        f"--label-map {spec or key}: {span.spec}={name} and "
                        f"{other.spec}={other_name} overlap (ranges include both ends); a value "
                        "must map to one class."
                    )
            ranges.append((span, name))
        return cls(exact, tuple(ranges))

    def __bool__(self) -> bool:
        return bool(self.exact or self.ranges)

    def entries(self) -> Iterator[tuple[str, str]]:
        """Every ``(key, class)`` as written."""
        yield from self.exact.items()
        for span, name in self.ranges:
            yield span.spec, name

    @property
    def classes(self) -> list[str]:
        """The classes the map names, in the order it first names them."""
        return list(dict.fromkeys(name for _, name in self.entries()))

    def lookup(self, value: str) -> str | None:
        """The class of ``value``, or None when no entry catches it."""
        if value in self.exact:
            return self.exact[value]
        number = _number(value)
        if number is not None:
            for span, name in self.ranges:
                if number in span:
                    return name
        return None


def _range(key: str) -> NumberRange | None:
    """A numeric key as a range (``4`` is ``4-4``); None for a key that is no number."""
    number = _number(key)
    if number is not None:
        return NumberRange(number, number, key)
    match = _RANGE.fullmatch(key)
    if match is None:
        return None
    low, high = float(match[1]), float(match[2])
    if low > high:
        raise InputError(
            f"--label-map {key}: the range runs from high to low; write {match[2]}-{match[1]}."
        )
    return NumberRange(low, high, key)


def parse_label_map(spec: str | None) -> LabelMap:
    """``--label-map`` of every command: ``1=negative,2=negative,4=positive`` or ranges such as
    ``1-4=negative,5-8=neutral,9-10=positive`` (see :class:`LabelMap`); an InputError for a
    malformed entry, a value given two classes, or overlapping ranges."""
    if not spec:
        return LabelMap()
    pairs: dict[str, str] = {}
    for entry in spec.split(","):
        value, sep, name = (part.strip() for part in entry.partition("="))
        if not sep or not value or not name:
            raise InputError(
                f"--label-map {spec!r}: write VALUE=CLASS pairs separated by commas, e.g. "
                "1=negative,5=positive, or ranges of numbers, e.g. 1-4=negative,5-8=neutral,"
                "9-10=positive."
            )
        if pairs.get(value, name) != name:
            raise InputError(
                f"--label-map {spec!r}: {value} is mapped to both {pairs[value]} and {name}."
            )
        pairs[value] = name
    return LabelMap.of(pairs, spec)


def infer_names(values: Iterable[str]) -> list[str]:
    """Class names for labels given without ``--labels``: indices 0..N-1 or sorted names.

    Integers that are not 0..N-1 (star ratings 1, 2, 4, 5) are refused: treating them as indices
    would make classes that no row has.
    """
    found = set(values)
    if found and all(map(_is_integer, found)):
        numbers = sorted(int(value) for value in found)
        if numbers == list(range(len(numbers))):
            return [f"LABEL_{i}" for i in numbers]
        listed = ",".join(map(str, numbers))
        low = [str(n) for n in numbers[: len(numbers) // 2]]
        high = [str(n) for n in numbers[len(numbers) // 2 :]]
        example = ",".join([f"{n}=negative" for n in low] + [f"{n}=positive" for n in high])
        raise InputError(
            f"the labels are the integers {listed}, not class indices 0 to {len(numbers) - 1}. "
            f"Name the classes: --labels {listed} keeps each value as a class; or group them, "
            f"e.g. --labels negative,positive --label-map {example}."
        )
    return sorted(found)
