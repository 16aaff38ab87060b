"""What every reader hands on: rows with their line numbers, and the error for a file that cannot
be used. The readers of text files (:mod:`.readers`), workbooks (:mod:`.excel`) and Parquet
(:mod:`.parquet`) share these, so they live apart from any one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple


class InputError(ValueError):
    """A file that cannot be used as it is: a missing column, a bad label, no rows."""


class Record(NamedTuple):
    """A row, the line of the file it starts on, and what is wrong with it if anything.

    ``problem`` (e.g. "4 fields where the header has 3") marks a CSV/TSV row whose fields do not
    match the header: the caller reports it and decides whether to keep the row (missing fields
    are None, extra ones left out).
    """

    line: int
    row: dict[str, Any]
    problem: str | None = None


def source_name(path: Path | str) -> str:
    """How messages name a file: its path, or "standard input" for ``-``."""
    return "standard input" if str(path) == "-" else str(path)


def pandas_names(names: list[str]) -> list[str]:
    """Column names as pandas.read_csv makes them: an empty one is ``Unnamed: <index>``, a
    repeated one gets ``.1``, ``.2`` ... (skipping names the header already has)."""
    names = [name or f"Unnamed: {index}" for index, name in enumerate(names)]
    taken = set(names)
    counts: dict[str, int] = {}
    unique = []
    for name in names:
        count = counts.get(name, 0)
        new = name
        while count:
            counts[name] = count + 1
            new = f"{name}.{count}"
            count = count + 1 if new in taken else counts.get(new, 0)
        unique.append(new)
        counts[new] = count + 1
    return unique
