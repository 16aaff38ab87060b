"""How much of a workbook korsent reads into memory, checked before python-calamine reads it.

calamine cannot stream a sheet: it holds every filled cell it reads (so a cell written a million
times over is held a million times), then the sheet's whole range from its first cell to its last
(about 32 bytes a cell: one cell at XFD5000 besides A1 makes 82 million of them), each with its
own copy of its text (a shared string that a million cells use is held a million times); and it
reserves room for as many shared strings as the workbook declares. A workbook of a few kilobytes
can so ask for gigabytes, or for more than any machine has (the process aborts).

So the shared strings and the sheet are read first, as a stream through expat, keeping only
counts: the extent of the cells (where calamine puts them, with or without ``r`` attributes), the
cells that hold something, the characters of text (all text in the sheet's XML, a shared string
counted for each cell that uses it, and the shared strings themselves), and what the workbook
declares (``<dimension>``, ``uniqueCount``). A reference past Excel's own limits (row
:data:`EXCEL_ROWS`, column XFD) belongs to no sheet Excel could write: the file is damaged or
made to exhaust memory. A sheet past :class:`SheetLimits` would take more memory than korsent
grants a workbook. Either is an :class:`~.records.InputError` that says which, before calamine
reads anything.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import string
import zipfile
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from .records import InputError

MAX_SHEET_CELLS = 20_000_000
"""Cells of a sheet's range read at most by default: a million rows of 19 columns (about 640 MB
as calamine holds them)."""
MAX_SHEET_TEXT = 100_000_000
"""Characters of text read at most by default (about 300 MB as calamine holds Hangul)."""
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384
HARMLESS_RESERVE = EXCEL_ROWS
"""Shared strings a workbook may declare beyond those it holds (calamine reserves them)."""
CHUNK = 1 << 20
"""Bytes of XML decompressed and parsed at a time."""
SMALL_PART = 16 << 20
"""Bytes a part read whole on opening may have however low the text limit (styles can have MBs)."""
OLE = bytes.fromhex("d0cf11e0a1b11ae1")
"""How an OLE compound file starts: an encrypted .xlsx, or an .xls."""

_LETTERS = string.ascii_letters
_UPPER = string.ascii_uppercase
_COLUMNS = {
    "".join(letters): number
    for number, letters in enumerate(
        itertools.chain(
            string.ascii_uppercase,
            itertools.product(string.ascii_uppercase, repeat=2),
            itertools.product(string.ascii_uppercase, repeat=3),
        )
    )
    if number < EXCEL_COLUMNS
}
"""The 0-based number of each column Excel has, by its letters (A is 0, XFD is 16,383)."""


@dataclass(frozen=True)
class SheetLimits:
    """The most of a workbook that is read: ``cells`` of the sheet's range (rows x columns from
    its first row and column to its last filled cell, and cells written) and ``text`` characters
    (see the module docstring); the command line's ``--max-sheet-cells`` and ``--max-sheet-text``.
    """

    cells: int = MAX_SHEET_CELLS
    text: int = MAX_SHEET_TEXT

    @classmethod
    def from_options(cls, options: object) -> SheetLimits:
        """The limits from command-line options ``max_sheet_cells``, ``max_sheet_text`` (absent
        or None: the default)."""
        cells = getattr(options, "max_sheet_cells", None) or MAX_SHEET_CELLS
        text = getattr(options, "max_sheet_text", None) or MAX_SHEET_TEXT
        return cls(cells, text)


@dataclass(frozen=True)
class SheetExtent:
    """What reading a sheet takes: its range's ``rows`` and ``columns``, the ``cells`` written
    with something in them, and the ``text`` characters held (shared strings included)."""

    rows: int
    columns: int
    cells: int
    text: int


class Workbook:
    """A workbook's parts as calamine finds them, its shared strings checked on opening.

    ``source`` is a path or the workbook's bytes; ``name`` names it in messages.
    """

    def __init__(self, source: Path | str | bytes, name: str, limits: SheetLimits) -> None:
        self.name = name
        self.limits = limits
        file = io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            self.zip = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as err:
            why = _why(file, err)
            raise InputError(f"cannot read {name} as an Excel workbook (.xlsx): {why}") from err
        except OSError as err:
            raise InputError(f"cannot read {name}: {err.strerror or err}.") from err
        self.parts = {part.replace("\\", "/").lower(): part for part in self.zip.namelist()}
        self.base = self._base()
        self.sheets = self._sheets()
        self._read_small(f"{self.base}styles.xml")
        self.shared_sizes = array("I")
        self.shared_text = 0
        self._check_shared_strings()

    @property
    def sheet_names(self) -> list[str]:
        """The sheets' names, in the workbook's order."""
        return [name for name, _ in self.sheets]

    def check_sheet(self, index: int) -> SheetExtent:
        """The extent of sheet ``index`` (from 0); an InputError past Excel's limits or
        :attr:`limits`, or when the workbook names the sheet but does not hold it."""
        name, path = self.sheets[index]
        where = f"{self.name} (sheet {name!r})"
        part = self.parts.get(path.lower())
        if part is None:
            raise InputError(
                f"{where}: the workbook lists the sheet, but its data ({path}) is not in the "
                "file: the workbook is damaged; open it in Excel and save it again."
            )
        scan = _SheetScan(where, self.limits, self.shared_sizes, self.shared_text)
        _parse(self.zip, part, where, scan.handlers(), scan.check, self.limits.text)
        return scan.extent()

    def _base(self) -> str:
        """The folder of the workbook's main part (``xl/``), as the package's relationships
        name it."""
        relations = self._relationships("_rels/.rels")
        targets = [t for t, kind in relations.values() if kind.endswith("/officeDocument")]
        if not targets:
            return "xl/"  # calamine refuses the workbook
        folder, slash, _ = targets[-1].rpartition("/")
        return (folder + slash).removeprefix("/")

    def _sheets(self) -> list[tuple[str, str]]:
        """(name, part) of each sheet in the workbook's order, where calamine looks for it."""
        relations = self._relationships(f"{self.base}_rels/workbook.xml.rels")
        sheets: list[tuple[str, str]] = []

        def start(element: str, attributes: dict[str, str]) -> None:
            if _local(element) == "sheet":
                ids = [value for key, value in attributes.items() if _local(key) == "id"]
                target = relations.get(ids[-1] if ids else "", ("", ""))[0]
                path = target[1:] if target.startswith("/") else self.base + target
                sheets.append((attributes.get("name", ""), path.replace("\\", "/")))

        self._read_small(f"{self.base}workbook.xml", start)
        return sheets

    def _relationships(self, path: str) -> dict[str, tuple[str, str]]:
        """Id -> (target, type) of a relationships part (none when it is missing)."""
        found: dict[str, tuple[str, str]] = {}

        def start(element: str, attributes: dict[str, str]) -> None:
            if _local(element) == "Relationship":
                target, kind = attributes.get("Target", ""), attributes.get("Type", "")
                found[attributes.get("Id", "")] = (target, kind)

        self._read_small(path, start)
        return found

    def _read_small(
        self, path: str, start: Callable[[str, dict[str, str]], None] | None = None
    ) -> None:
        """Parse a part calamine reads whole on opening (relationships, the workbook's sheets
        and names, its styles), which is never large: one past the text limit (or
        :data:`SMALL_PART`, if more) is refused."""
        part = self.parts.get(path.lower())
        if part is not None:  # a missing part is calamine's error to report
            handlers: dict[str, Callable[..., None]] = {}
            if start is not None:
                handlers["StartElementHandler"] = start
            limit = max(self.limits.text, SMALL_PART)
            _parse(self.zip, part, self.name, handlers, lambda: None, limit, whole=limit)

    def _check_shared_strings(self) -> None:
        """Count the shared strings and their characters; refuse a table past the limits, or
        one that declares far more strings than it holds (calamine reserves room for them)."""
        part = self.parts.get(f"{self.base}sharedStrings.xml".lower())
        if part is None:
            return
        where = f"{self.name} (its shared strings)"
        declared: list[int] = []
        depth = [0, 0]  # open <si> elements, characters in the current one

        def start(element: str, attributes: dict[str, str]) -> None:
            local = _local(element)
            if local == "sst" and _DIGITS.fullmatch(attributes.get("uniqueCount", "")):
                declared.append(int(attributes["uniqueCount"]))
            elif local == "si":
                depth[0] += 1
                if depth[0] == 1:
                    depth[1] = 0

        def end(element: str) -> None:
            if _local(element) == "si" and depth[0]:
                depth[0] -= 1
                if not depth[0]:
                    self.shared_sizes.append(min(depth[1], 2**32 - 1))

        def text(data: str) -> None:
            self.shared_text += len(data)
            if depth[0]:
                depth[1] += len(data)

        def check() -> None:
            _check_count(where, len(self.shared_sizes), "shared strings", self.limits)
            _check_text(where, self.shared_text, self.limits.text)

        handlers: dict[str, Callable[..., None]] = {"StartElementHandler": start}
        handlers.update(EndElementHandler=end, CharacterDataHandler=text)
        _parse(self.zip, part, where, handlers, check, self.limits.text)
        held = len(self.shared_sizes)
        if declared and declared[0] > max(held, HARMLESS_RESERVE):
            raise InputError(
                f"{where}: the workbook declares {declared[0]:,} shared strings but holds "
                f"{held:,}: the file is damaged (or made to exhaust memory) and is not read."
            )


_DIGITS = re.compile(r"[0-9]+")


class _SheetScan:
    """The expat handlers that follow a sheet as calamine reads it (see :meth:`handlers`).

    calamine places a cell at its ``r`` attribute, else after the cell before it (its row: the
    row's ``r``, else the one after the row before; every row's end moves to the next row and
    its first column), empty elements (``<c/>``, ``<row/>``) as if written in full, as expat
    reports them. A cell with any element in it counts as filled (calamine reads its value from
    such an element), which can only make the extent larger than calamine's, never smaller.
    """

    def __init__(
        self, where: str, limits: SheetLimits, shared_sizes: array[int], shared_text: int
    ) -> None:
        self.where = where
        self.limits = limits
        self.shared_sizes = shared_sizes
        self.text = shared_text
        self.row = self.column = 0  # where calamine's next cell without r goes (0-based)
        self.top = self.left = EXCEL_ROWS  # the range's first row and column
        self.bottom = self.right = -1  # its last
        self.filled = 0
        self.cell: tuple[int, int, bool] | None = None  # row, column, shared string
        self.has_child = False  # whether an element is in the cell
        self.depth = 0  # elements open inside the cell
        self.index: list[str] | None = None  # the text of a shared string cell's <v>

    def handlers(self) -> dict[str, Callable[..., None]]:
        return {
            "StartElementHandler": self.start,
            "EndElementHandler": self.end,
            "CharacterDataHandler": self.characters,
        }

    def start(self, element: str, attributes: dict[str, str]) -> None:
        if self.cell is not None:  # calamine reads the cell's value from any element in it
            self.has_child = True
            self.depth += 1
            if self.depth == 1 and self.cell[2] and _local(element) == "v":
                self.index = []
            return
        local = _local(element)
        if local == "c":
            reference = attributes.get("r")
            if reference is None:
                row, column = self.row, self.column
            else:  # A1 to XFD1048576 as Excel writes them at once, anything else in _position
                digits = reference.lstrip(_UPPER)
                column = _COLUMNS.get(reference[: len(reference) - len(digits)], -1)
                row = int(digits) - 1 if digits.isdigit() and len(digits) < 8 else -1
                if not (column >= 0 and 0 <= row < EXCEL_ROWS):
                    row, column = self._position(reference)
            self.cell = (row, column, attributes.get("t") == "s")
            self.has_child = False
            self.column = column
        elif local == "row":
            reference = attributes.get("r")
            if reference is not None and reference.isdigit() and len(reference) < 8:
                given: int | None = int(reference) - 1
            else:
                given = None if reference is None else self._position(reference, row_only=True)[0]
            if given is not None and not 0 <= given < EXCEL_ROWS:
                given = self._position(reference or "", row_only=True)[0]
            if given is not None:
                self.row = given
        elif local == "dimension":
            for corner in attributes.get("ref", "").split(":"):
                self._position(corner)

    def end(self, element: str) -> None:
        if self.depth:
            self.depth -= 1
            if self.index is not None and not self.depth:
                self._add_shared_string()
        elif self.cell is not None:
            row, column, _ = self.cell
            self.cell = None
            self.column = column + 1
            if self.has_child:
                self.filled += 1
                self._place(row, column)
        elif _local(element) == "row":
            self.row, self.column = self.row + 1, 0

    def _place(self, row: int, column: int) -> None:
        if row >= EXCEL_ROWS or column >= EXCEL_COLUMNS:  # a cell without r, after the last
            self._refuse_position(f"a cell at row {row + 1:,}, column {column + 1:,}")
        if row > self.bottom:
            self.bottom = row
        if row < self.top:
            self.top = row
        if column > self.right:
            self.right = column
        if column < self.left:
            self.left = column

    def _add_shared_string(self) -> None:
        digits = "".join(self.index or ())
        self.index = None
        if _DIGITS.fullmatch(digits) and int(digits) < len(self.shared_sizes):
            self.text += self.shared_sizes[int(digits)]

    def characters(self, data: str) -> None:
        self.text += len(data)
        if self.index is not None:
            self.index.append(data)

    def _position(self, reference: str, *, row_only: bool = False) -> tuple[int, int]:
        """The 0-based (row, column) of a reference as calamine reads it (letters, then the row's
        digits); an InputError for one it could not read or that is past Excel's limits."""
        digits = reference.lstrip(_LETTERS)
        letters = reference[: len(reference) - len(digits)]
        if not (digits.isascii() and digits.isdigit() and digits.strip("0")) or not (
            letters or row_only
        ):
            raise InputError(
                f"{self.where}: {reference[:40]!r} is no cell reference: the workbook is "
                "damaged; open it in Excel and save it again."
            )
        if len(digits) > 7 or len(letters) > 3:  # past Excel, and too long to be a number
            self._refuse_position(f"{'row' if row_only else 'cell'} {reference[:40]}")
        row, column = int(digits) - 1, _column(letters) - 1
        if row >= EXCEL_ROWS or (column >= EXCEL_COLUMNS and not row_only):
            self._refuse_position(f"{'row' if row_only else 'cell'} {reference}")
        return row, column

    def _refuse_position(self, what: str) -> None:
        raise InputError(
            f"{self.where}: {what} is past Excel's last cell XFD1048576 ({EXCEL_ROWS:,} rows, "
            f"{EXCEL_COLUMNS:,} columns), which no sheet Excel writes has: the workbook is damaged "
            "(or made to exhaust memory) and is not read."
        )

    def check(self) -> None:
        """Called after each piece of XML: refuse as soon as a limit is passed."""
        _check_text(self.where, self.text, self.limits.text)
        _check_count(self.where, self.filled, "cells written", self.limits)
        rows, columns = self._size()
        if rows * columns > self.limits.cells:
            first = f"{_letters(self.left + 1)}{self.top + 1}"
            last = f"{_letters(self.right + 1)}{self.bottom + 1}"
            raise InputError(
                f"{self.where}: the sheet's range {first}:{last} is {rows:,} rows x {columns:,} "
                f"columns = {rows * columns:,} cells, past the limit of {self.limits.cells:,} "
                "cells read into memory; raise it with --max-sheet-cells, or save the sheet as "
                "CSV (read as a stream)."
            )

    def _size(self) -> tuple[int, int]:
        if self.bottom < 0:
            return 0, 0
        return self.bottom - self.top + 1, self.right - self.left + 1

    def extent(self) -> SheetExtent:
        rows, columns = self._size()
        return SheetExtent(rows, columns, self.filled, self.text)


@functools.lru_cache(maxsize=4096)
def _column(letters: str) -> int:
    """A column's number from 1 (A is 1; no letters is 0)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _letters(number: int) -> str:
    """A column's letters from its number from 1."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _check_count(where: str, count: int, what: str, limits: SheetLimits) -> None:
    if count > limits.cells:
        raise InputError(
            f"{where}: more than {limits.cells:,} {what}, the limit of cells read into memory; "
            "raise it with --max-sheet-cells, or save the sheet as CSV (read as a stream)."
        )


def _check_text(where: str, text: int, limit: int) -> None:
    if text > limit:
        raise InputError(
            f"{where}: more than {limit:,} characters of text (a shared string counted for "
            "each cell that uses it), the limit read into memory; raise it with --max-sheet-text, "
            "or save the sheet as CSV (read as a stream)."
        )


def _parse(
    archive: zipfile.ZipFile,
    part: str,
    where: str,
    handlers: dict[str, Callable[..., None]],
    check: Callable[[], None],
    text_limit: int,
    *,
    whole: int | None = None,
) -> None:
    """Parse a part of the workbook with expat, a chunk at a time, calling ``check`` after each.

    A document type declaration (which could define entities) and XML that is not well formed
    are refused as damage; so is a run of more than ``text_limit`` bytes without a tag (one
    token, text or a tag, that expat and calamine would hold whole), and a part of more than
    ``whole`` bytes when given.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True
    for event, handler in handlers.items():
        setattr(parser, event, handler)

    def no_doctype(*_: Any) -> None:
        raise InputError(f"{where}: {part} declares a document type, which no workbook does.")

    parser.StartDoctypeDeclHandler = no_doctype
    run = read = 0  # bytes since the last "<", and in all
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(CHUNK):
                read += len(chunk)
                if whole is not None and read > whole:
                    raise InputError(
                        f"{where}: {part} is more than {whole:,} bytes long, far more than a "
                        "workbook needs: the file is damaged (or made to exhaust memory) and is "
                        "not read."
                    )
                tag = chunk.rfind(b"<")
                run = run + len(chunk) if tag < 0 else len(chunk) - tag
                _check_text(where, run, text_limit)
                parser.Parse(chunk, False)
                check()
            parser.Parse(b"", True)
    except expat.ExpatError as err:
        raise InputError(
            f"{where}: {part} is not well-formed XML ({expat.errors.messages[err.code]}, line "
            f"{err.lineno}): the workbook is damaged; open it in Excel and save it again."
        ) from err
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error) as err:
        raise InputError(f"cannot read {where} as an Excel workbook (.xlsx): {err}.") from err


def _why(file: Path | str | IO[bytes], error: Exception) -> str:
    """Why a file is no ZIP archive, as a sentence: a password or an old .xls, when it is an
    OLE compound file (which both are), else ``error``."""
    if isinstance(file, (str, Path)):
        with open(file, "rb") as stream:
            start = stream.read(len(OLE))
    else:
        start = file.getvalue()[: len(OLE)] if isinstance(file, io.BytesIO) else b""
    if start == OLE:
        return (
            "it is protected with a password, or an Excel 97-2003 workbook (.xls); save it as "
            ".xlsx without a password."
        )
    return f"{error}."


@functools.lru_cache(maxsize=1024)
def _local(name: str) -> str:
    """An element's or attribute's name without its namespace prefix."""
    return name.rpartition(":")[2]
