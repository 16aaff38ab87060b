"""Read the files the command line works on: NSMC, CSV/TSV, JSON Lines and plain text.

NSMC is read with the csv module's default quoting (as pandas reads it: the files carry
doubled-quote artifacts) and cleaned as the sentiment model card did: drop empty documents, then
drop duplicate documents keeping the first.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

FORMATS = ("text", "csv", "tsv", "jsonl")

csv.field_size_limit(sys.maxsize)


class InputError(ValueError):
    """A file that cannot be used as it is: a missing column, a bad label, no rows."""


@dataclass
class NsmcData:
    """Cleaned NSMC documents with the counts of what cleaning dropped."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    rows: int = 0
    empty: int = 0
    duplicates: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "empty": self.empty,
            "duplicates": self.duplicates,
            "kept": len(self.texts),
        }


def guess_format(path: Path) -> str:
    """The format a file's suffix names: .csv, .tsv/.txt with tabs, .jsonl/.json, else text."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    return "text"


def read_nsmc(path: Path) -> NsmcData:
    """Read an NSMC-format file (``id<TAB>document<TAB>label`` with a header) and clean it."""
    data = NsmcData()
    seen: set[str] = set()
    for line, row in enumerate(read_rows(path, "tsv", required=("document", "label")), start=2):
        data.rows += 1
        text = row.get("document") or ""
        if not text:
            data.empty += 1
            continue
        if text in seen:
            data.duplicates += 1
            continue
        label = (row.get("label") or "").strip()
        if label not in ("0", "1"):
            raise InputError(f"{path}:{line}: label must be 0 or 1, not {label!r}.")
        seen.add(text)
        data.ids.append(row.get("id") or str(line - 1))
        data.texts.append(text)
        data.labels.append(int(label))
    if not data.rows:
        raise InputError(f"{path}: no rows below the header.")
    return data


def read_rows(
    path: Path | str,
    fmt: Optional[str] = None,
    *,
    text_column: str = "text",
    required: tuple[str, ...] = (),
) -> Iterator[dict[str, str]]:
    """Stream a file's rows as dicts; ``-`` reads standard input.

    Plain text gives one row per line under ``text_column``. ``required`` columns are checked
    against the header (CSV/TSV) before the first row, or per row (JSON Lines).
    """
    fmt = fmt or guess_format(Path(path))
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    with _open(path) as stream:
        if fmt == "text":
            for line in stream:
                yield {text_column: line.rstrip("\r\n")}
        elif fmt == "jsonl":
            yield from _jsonl_rows(stream, path, required)
        else:
            reader = csv.DictReader(stream, delimiter="," if fmt == "csv" else "\t")
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"{path}: no column {', '.join(map(repr, missing))} in the header "
                    f"{reader.fieldnames}."
                )
            yield from reader


def _jsonl_rows(stream: TextIO, path: Path | str, required: tuple[str, ...]) -> Iterator[dict]:
    for line_no, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{line_no}: not valid JSON ({err.msg}).") from err
        if not isinstance(row, dict):
            raise InputError(f"{path}:{line_no}: each line must be a JSON object.")
        missing = [c for c in required if c not in row]
        if missing:
            raise InputError(f"{path}:{line_no}: no field {', '.join(map(repr, missing))}.")
        yield row


def _open(path: Path | str) -> TextIO:
    """Open a file (or stdin for ``-``) as UTF-8 text, replacing undecodable bytes with U+FFFD."""
    if str(path) == "-":
        return open(sys.stdin.fileno(), encoding="utf-8", errors="replace", newline="", closefd=False)
    return open(path, encoding="utf-8", errors="replace", newline="")
