"""What every writer shares: the :class:`Writer` protocol, the columns fixed by the first batch, and
cells as text. The writers of text formats (:mod:`.writers`), workbooks (:mod:`.excel`) and
Parquet (:mod:`.parquet`) build on these, so they live apart from any one of them.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from ..interrupts import whole


class Writer:
    """What every writer does: write a batch of rows, then close; neither is cut in two by
    Ctrl-C or SIGTERM in the command line (the signal takes effect after it)."""

    def write(self, rows: list[dict]) -> None:
        with whole():
            self.write_rows(rows)

    def close(self) -> None:
        """Finish the output; closing twice does nothing more."""
        with whole():
            self.finish()

    def write_rows(self, rows: list[dict]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Nothing to do for line-based formats: each batch is flushed."""


class FixedColumns:
    """The columns of the first batch (every column any of its rows has, in order of first
    appearance); later rows with other columns are reported once."""

    def __init__(self, warn: Callable[[str], None], what: str) -> None:
        self.warn = warn
        self.what = what
        self.columns: list[str] = []
        self.warned = False

    def fix(self, rows: list[dict]) -> bool:
        """Take the columns from the first batch; True the first time."""
        first = not self.columns
        if first:
            self.columns = list(dict.fromkeys(str(column) for row in rows for column in row))
        for row in rows:
            if not self.warned and not set(map(str, row)) <= set(self.columns):
                self.warned = True
                extra = sorted(map(str, set(map(str, row)) - set(self.columns)))
                self.warn(
                    f"columns {extra} are not in the {self.what} (from the first batch); left out."
                )
        return first


def text_of(value: Any, none: Any = None) -> Any:
    """A cell as text: lists and objects as JSON, dates and times in ISO format, None as
    ``none``."""
    if value is None:
        return none
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return json.dumps(value, ensure_ascii=False, default=json_default)


def json_default(value: Any) -> Any:
    """What JSON has no type for: dates and times in ISO format, anything else as text."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
