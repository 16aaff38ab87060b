"""Excel workbooks (``.xlsx``, ``.xlsm``): read a sheet's rows, write results as a workbook.

Reading uses python-calamine (Rust's calamine): it reads a 100,000-row sheet several times
faster than openpyxl's read-only mode (``benchmarks/excel.py``), from a path or from a stream
(standard input). Writing uses XlsxWriter in ``constant_memory`` mode: each row goes to disk as
it is written, so a workbook of a million rows takes the memory of one batch. Both come with the
``excel`` extra; without it, reading or writing a workbook is an :class:`~.readers.InputError` that
says what to install.

Cells keep what they hold: text as text, numbers as numbers (whole numbers as ints, since Excel
stores every number as a float), booleans, and dates and times as ``datetime`` values; an empty
cell is None. The header row names the columns as in CSV (``columns`` for a sheet without one:
its first row is data). Rows that are wholly empty are left out; row numbers in messages are the
sheet's (1 is the first row), as Excel shows them.

Excel's limits are kept, never crossed silently: a sheet holds :data:`MAX_ROWS` rows (header
included): writing more is an InputError that ends the run with the rows so far in a complete
workbook; a cell holds :data:`MAX_CELL` characters: a longer value is cut there, with a warning
naming its row and column.
"""

from __future__ import annotations

import datetime
import functools
import io
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Callable

from .records import InputError, Record, pandas_names, source_name
from .workbook_limits import SheetExtent, SheetLimits, Workbook
from .writing import FixedColumns, Writer, text_of

SUFFIXES = (".xlsx", ".xlsm")
MAX_ROWS = 1_048_576
"""Rows in an Excel sheet, the header row included."""
MAX_CELL = 32_767
"""Characters in an Excel cell."""
EXACT_INT = 2**53
"""Whole numbers from here on are not exact as Excel's floats: they are written as text."""

INSTALL = "pip install 'spacy-korsent[excel]'"


def _calamine(path: str) -> Any:
    try:
        import python_calamine
    except ImportError as err:
        raise InputError(
            f"reading {path} needs python-calamine: {INSTALL} (or save the sheet as CSV UTF-8)."
        ) from err
    return python_calamine


def read_sheet_records(
    path: Path | str,
    *,
    sheet: str | int | None = None,
    columns: Sequence[str] | None = None,
    required: Sequence[str] = (),
    stream: Iterable[bytes] | None = None,
    limits: SheetLimits | None = None,
) -> Iterator[Record]:
    """Stream the rows of a workbook's sheet (the first unless ``sheet`` names one, by name or
    by number from 1) as :class:`~.readers.Record` s numbered by sheet row.

    ``required`` columns are checked against the header before the first row; ``stream`` gives
    the workbook's bytes (standard input). A file that is no workbook, a sheet it does not have,
    one past Excel's limits or ``limits`` (:mod:`.workbook_limits`) or a missing column is an
    :class:`InputError` before the first row.
    """
    name = source_name(path)
    calamine = _calamine(name)
    source = b"".join(stream) if stream is not None else path
    try:
        book, index = _open(source, name, sheet, limits or SheetLimits())
        table = book.get_sheet_by_index(index)
        rows = table.iter_rows()
    except calamine.CalamineError as err:
        raise InputError(f"cannot read {name} as an Excel workbook (.xlsx): {err}.") from err
    where = f"{name} (sheet {table.name!r})"
    first = table.start[0] + 1 if table.start else 1  # the sheet row of the range's first row
    numbered = ((first + index, [_cell(value) for value in row]) for index, row in enumerate(rows))
    header = list(columns) if columns else None
    for number, cells in numbered:
        if all(cell is None for cell in cells):
            continue
        if header is None:
            header = pandas_names(["" if cell is None else str(cell).strip() for cell in cells])
            _check(header, required, where, columns)
            continue
        yield _fit(number, cells, header, where)
    if header is None:
        _check([], required, where, columns)


def _open(
    source: Path | str | bytes, name: str, sheet: str | int | None, limits: SheetLimits
) -> tuple[Any, int]:
    """The workbook opened by calamine and the index of the sheet asked for, both checked
    within ``limits`` first (:mod:`.workbook_limits`): an InputError for one past them."""
    calamine = _calamine(name)
    index, _ = _checked(source, name, sheet, limits)
    try:
        if isinstance(source, bytes):
            book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(source))
        else:
            book = calamine.CalamineWorkbook.from_path(str(source))
    except OSError as err:
        raise InputError(f"cannot read {name}: {err.strerror or err}.") from err
    return book, index


def _checked(
    source: Path | str | bytes, name: str, sheet: str | int | None, limits: SheetLimits
) -> tuple[int, SheetExtent]:
    """The index of the sheet asked for and its extent, checked within ``limits``. A file's
    answer is kept while the file is unchanged: a run reads its header, counts its rows for the
    progress bar and reads its rows, and one check is enough."""
    if isinstance(source, bytes):
        return _check_sheet(source, name, sheet, limits)
    try:
        stat = os.stat(source)
    except OSError as err:
        raise InputError(f"cannot read {name}: {err.strerror or err}.") from err
    stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return _checked_file(str(source), stamp, name, sheet, limits)


@functools.lru_cache(maxsize=16)
def _checked_file(
    path: str, stamp: tuple[int, int, int], name: str, sheet: str | int | None, limits: SheetLimits
) -> tuple[int, SheetExtent]:
    return _check_sheet(path, name, sheet, limits)


def _check_sheet(
    source: Path | str | bytes, name: str, sheet: str | int | None, limits: SheetLimits
) -> tuple[int, SheetExtent]:
    book = Workbook(source, name, limits)  # the shared strings, before calamine reads them
    index = _sheet(book.sheet_names, sheet, name)
    return index, book.check_sheet(index)


def _sheet(names: list[str], sheet: str | int | None, name: str) -> int:
    """The index of the sheet asked for: by name, by number from 1, else the first."""
    if sheet is None:
        return 0
    if isinstance(sheet, int) or sheet.isdigit():
        chosen = int(sheet) - 1
        if not 0 <= chosen < len(names):
            raise InputError(
                f"{name} has {len(names)} sheet(s) ({', '.join(map(repr, names))}); --sheet "
                f"{sheet} is not one of them (sheets are numbered from 1)."
            )
        return chosen
    if sheet in names:
        return names.index(sheet)
    raise InputError(f"{name} has no sheet {sheet!r}; its sheets: {', '.join(map(repr, names))}.")


def _check(
    header: list[str], required: Sequence[str], where: str, columns: Sequence[str] | None
) -> None:
    if required and not header:
        raise InputError(f"{where}: the sheet is empty; a header row is needed.")
    missing = [column for column in required if column not in header]
    if missing:
        hint = "" if columns else " (For a sheet without a header row, name its columns with "
        hint += "" if columns else "--columns.)"
        raise InputError(
            f"{where}: no column {', '.join(map(repr, missing))} in the header {header}.{hint}"
        )


def _fit(number: int, cells: list[Any], header: list[str], where: str) -> Record:
    """A row of the header's width: cells beyond the header are left out (reported if they
    hold anything), missing ones are None (Excel leaves trailing empty cells out)."""
    extra = [cell for cell in cells[len(header) :] if cell is not None]
    row = dict(zip(header, cells + [None] * (len(header) - len(cells))))
    if not extra:
        return Record(number, row)
    width = len(header) + len(extra)
    problem = f"{where}:{number}: {width} cells where the header has {len(header)}"
    return Record(number, row, problem)


def _cell(value: Any) -> Any:
    """A calamine value as the cell holds it: "" is an empty cell, whole floats are ints."""
    if value == "" and isinstance(value, str):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < EXACT_INT:
        return int(value)
    return value


def sheet_rows(
    path: Path | str, sheet: str | int | None = None, limits: SheetLimits | None = None
) -> int:
    """The number of rows in the sheet's range (for a progress bar's total), found without
    reading its cells into memory."""
    return _checked(path, str(path), sheet, limits or SheetLimits())[1].rows


def check_writable() -> None:
    """An InputError, before a run starts, when XlsxWriter is missing."""
    try:
        import xlsxwriter  # noqa: F401
    except ImportError as err:
        raise InputError(f"writing .xlsx needs XlsxWriter: {INSTALL} (or write .csv).") from err


class SheetWriter(Writer):
    """Rows to a workbook's one sheet, "results", as they come (XlsxWriter, constant memory).

    The first batch fixes the columns (as for CSV); the header row is frozen and filtered.
    Values keep their types: strings are always written as text (a cell starting with ``=`` is
    text, never a formula, so no --escape-formulas is needed), numbers as numbers (ints beyond
    2**53, which Excel cannot hold exactly, as text), booleans, dates and times with a date
    format (timezone-aware ones as ISO text, since Excel has no time zones), lists and objects
    as JSON text.
    """

    SHEET = "results"

    def __init__(self, path: str, warn: Callable[[str], None]) -> None:
        import xlsxwriter

        self.path = path
        self.warn = warn
        try:  # XlsxWriter writes the file when it closes: find out now that it cannot
            open(path, "wb").close()
        except OSError as err:
            raise InputError(f"cannot write {path}: {err.strerror or err}.") from err
        self.book: Any = xlsxwriter.Workbook(
            path, {"constant_memory": True, "strings_to_urls": False, "in_memory": False}
        )
        self.sheet = self.book.add_worksheet(self.SHEET)
        self.formats = {
            datetime.datetime: self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            datetime.date: self.book.add_format({"num_format": "yyyy-mm-dd"}),
            datetime.time: self.book.add_format({"num_format": "hh:mm:ss"}),
        }
        self.fixed = FixedColumns(warn, "header")
        self.row = 0

    def write_rows(self, rows: list[dict]) -> None:
        """Write ``rows`` (the header with the first batch, whose columns it fixes)."""
        if self.fixed.fix(rows):
            columns = self.fixed.columns
            bold = self.book.add_format({"bold": True})
            for index, column in enumerate(columns):
                self.sheet.write_string(0, index, self._text(column, column), bold)
            self.sheet.freeze_panes(1, 0)
            self.row = 1
        if self.row + len(rows) > MAX_ROWS:
            raise InputError(
                f"{self.path}: an Excel sheet holds {MAX_ROWS - 1:,} rows below its header; the "
                f"first {self.row - 1:,} were written. Write .csv or .parquet for more rows."
            )
        for values in rows:
            for index, column in enumerate(self.fixed.columns):
                self._write(self.row, index, column, values.get(column))
            self.row += 1

    def _write(self, row: int, col: int, column: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            self.sheet.write_boolean(row, col, value)
        elif isinstance(value, (int, float)) and _exact_number(value):
            self.sheet.write_number(row, col, value)
        elif isinstance(value, (datetime.datetime, datetime.date, datetime.time)) and (
            getattr(value, "tzinfo", None) is None
        ):
            self.sheet.write_datetime(row, col, value, self._format(value))
        else:
            self.sheet.write_string(row, col, self._text(text_of(value), column))

    def _format(self, value: Any) -> Any:
        for kind in (datetime.datetime, datetime.date, datetime.time):
            if isinstance(value, kind):
                return self.formats[kind]
        raise TypeError(value)

    def _text(self, text: str, column: str) -> str:
        if len(text) <= MAX_CELL:
            return text
        self.warn(
            f"{self.path}: row {self.row + 1}, column {column!r}: {len(text):,} characters, cut "
            f"to Excel's {MAX_CELL:,} per cell (write .csv, .jsonl or .parquet to keep it whole)."
        )
        return text[:MAX_CELL]

    def finish(self) -> None:
        if self.book is None:
            return
        if self.fixed.columns:
            self.sheet.autofilter(0, 0, max(self.row - 1, 0), len(self.fixed.columns) - 1)
        book, self.book = self.book, None
        try:
            book.close()
        except OSError as err:
            raise InputError(f"cannot write {self.path}: {err.strerror or err}.") from err


def _exact_number(value: int | float) -> bool:
    """Whether Excel holds the number as it is (not NaN or infinite; ints below 2**53)."""
    if isinstance(value, int):
        return abs(value) < EXACT_INT
    return math.isfinite(value)
