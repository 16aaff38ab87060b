"""Read the files the command line works on: NSMC, CSV/TSV, JSON Lines and plain text.

NSMC is read with the csv module's default quoting (as pandas reads it: the files carry
doubled-quote artifacts) and cleaned as the sentiment model card did: drop empty documents, then
drop duplicate documents keeping the first.

Files are decoded line by line, so that a line with bytes that are not UTF-8 costs that line's
bytes (replaced with U+FFFD, reported with its line number), not the file. Lone surrogates, which
JSON escapes (``"\ud800"``) and undecodable command-line arguments produce and which spaCy cannot
hold, become U+FFFD too.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

FORMATS = ("text", "csv", "tsv", "jsonl")

Warn = Callable[[str], None]
"""Receives a one-line message about a line that was read with a repair or skipped."""

csv.field_size_limit(sys.maxsize)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class InputError(ValueError):
    """A file that cannot be used as it is: a missing column, a bad label, no rows."""


@dataclass
class NsmcData:
    """Cleaned NSMC documents with the counts of what cleaning dropped.

    ``conflicting`` counts the dropped duplicates whose label differs from the kept first copy.
    """

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    rows: int = 0
    empty: int = 0
    duplicates: int = 0
    conflicting: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "empty": self.empty,
            "duplicates": self.duplicates,
            "conflicting": self.conflicting,
            "kept": len(self.texts),
        }


def guess_format(path: Path) -> str:
    """The format a file's suffix names: .csv, .tsv, .jsonl/.json/.ndjson, else plain text."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    return "text"


def read_nsmc(path: Path | str, *, warn: Warn | None = None) -> NsmcData:
    """Read an NSMC-format file (``id<TAB>document<TAB>label`` with a header) and clean it."""
    data = NsmcData()
    first_label: dict[str, str] = {}
    rows = read_rows(path, "tsv", required=("document", "label"), warn=warn)
    for line, row in enumerate(rows, start=2):
        data.rows += 1
        text = row.get("document") or ""
        label = (row.get("label") or "").strip()
        if not text:
            data.empty += 1
            continue
        if text in first_label:
            data.duplicates += 1
            data.conflicting += int(label != first_label[text])
            continue
        if label not in ("0", "1"):
            raise InputError(f"{path}:{line}: label must be 0 or 1, not {label!r}.")
        first_label[text] = label
        data.ids.append(row.get("id") or str(line - 1))
        data.texts.append(text)
        data.labels.append(int(label))
    if not data.rows:
        raise InputError(f"{path}: no rows below the header.")
    return data


def read_rows(
    path: Path | str,
    fmt: str | None = None,
    *,
    text_column: str = "text",
    required: tuple[str, ...] = (),
    warn: Warn | None = None,
) -> Iterator[dict]:
    """Stream a file's rows as dicts; ``-`` reads standard input.

    Plain text gives one row per line under ``text_column``. ``required`` columns are checked
    against the header (CSV/TSV) before the first row, or per row (JSON Lines).

    Without ``warn``, undecodable bytes are replaced silently and a bad JSON line raises
    :class:`InputError`. With it, both are reported through ``warn`` and reading goes on: the
    bytes are replaced, and a line that is not a JSON object (or lacks a required field) is
    skipped, so that one bad row does not cost the rest.
    """
    fmt = fmt or guess_format(Path(path))
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    name = "standard input" if str(path) == "-" else path
    try:
        with _open(path) as stream:
            lines = _decoded_lines(stream, name, warn)
            if fmt == "text":
                for line in lines:
                    yield {text_column: line.rstrip("\r\n")}
            elif fmt == "jsonl":
                yield from _jsonl_rows(lines, name, required, warn)
            else:
                yield from _delimited_rows(lines, name, "," if fmt == "csv" else "\t", required)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}.") from err


def _delimited_rows(
    lines: Iterable[str], path: Path | str, delimiter: str, required: tuple[str, ...]
) -> Iterator[dict]:
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        if required and reader.fieldnames is None:
            raise InputError(f"{path}: the file is empty; a header line is needed.")
        missing = [c for c in required if c not in reader.fieldnames]
        if missing:
            raise InputError(
                f"{path}: no column {', '.join(map(repr, missing))} in the header "
                f"{reader.fieldnames}."
            )
        yield from reader
    except csv.Error as err:
        raise InputError(f"{path}:{reader.line_num}: {err}.") from err


def _jsonl_rows(
    lines: Iterable[str], path: Path | str, required: tuple[str, ...], warn: Warn | None
) -> Iterator[dict]:
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problem = "" if isinstance(row, dict) else "each line must be a JSON object"
        except json.JSONDecodeError as err:
            row, problem = None, f"not valid JSON ({err.msg})"
        missing = [c for c in required if c not in row] if isinstance(row, dict) else []
        if missing:
            problem = f"no field {', '.join(map(repr, missing))}"
        if not problem:
            # Only a \uD8xx-\uDFxx escape can leave a lone surrogate (pairs are joined).
            yield _replace_surrogates(row) if _SURROGATE_ESCAPE.search(line) else row
        elif warn is None:
            raise InputError(f"{path}:{line_no}: {problem}.")
        else:
            warn(f"{path}:{line_no}: {problem}; line skipped.")


def _decoded_lines(stream: BinaryIO, path: Path | str, warn: Warn | None) -> Iterator[str]:
    """UTF-8 lines without a leading byte order mark; bad bytes become U+FFFD, reported per line."""
    for line_no, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", "replace")
            if warn is not None:
                warn(f"{path}:{line_no}: bytes that are not UTF-8 were replaced with U+FFFD.")
        yield line.lstrip("\ufeff") if line_no == 1 else line


def _open(path: Path | str) -> AbstractContextManager[BinaryIO]:
    """Open a file for reading bytes; ``-`` is standard input, which stays open afterwards."""
    if str(path) == "-":
        return nullcontext(sys.stdin.buffer)
    return open(path, "rb")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (spaCy refuses them)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _replace_surrogates(value: object) -> object:
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, dict):
        return {key: _replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    return value
