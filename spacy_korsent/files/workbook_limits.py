"""How much of a workbook korsent reads into memory, checked before python-calamine reads it.

calamine cannot stream a sheet: it holds the sheet's whole used range (every cell from the first
filled one to the last, about 32 bytes each, so one cell at XFD5000 makes 82 million of them) and
each cell's own copy of its text (a shared string used by a million cells is held a million
times), and it reserves room for as many shared strings as the workbook declares. A workbook of a
few kilobytes can so ask for gigabytes, or for more than the machine has (the process aborts).

So the XML of the shared strings and of the sheet is read first, streaming, with expat, keeping
nothing but counts: the extent of the cells (as calamine places them, ``r`` attributes or not),
the text they hold, and what the workbook declares. A reference past Excel's own limits
(:data:`EXCEL_ROWS` rows, :data:`EXCEL_COLUMNS` columns) makes no sheet Excel could have
written; a sheet past :class:`SheetLimits` is one that would take more memory than korsent grants
a workbook. Both are an :class:`~.records.InputError` that says which, before calamine starts.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHEET_CELLS = 20_000_000
"""Cells of a sheet's used range read at most by default: a million rows of 19 columns (about
640 MB in calamine's cells)."""
MAX_SHEET_TEXT = 100_000_000
"""Characters of text (shared strings and cell text, a shared string counted for each cell that
uses it) read at most by default: about 300 MB as calamine holds Hangul."""
EXCEL_ROWS = 1_048_576
EXCEL_COLUMNS = 16_384


@dataclass(frozen=True)
class SheetLimits:
    """The most of a workbook that is read: ``cells`` in the sheet's used range (rows x columns,
    from the first filled cell to the last) and ``text`` characters (see the module docstring);
    the command line's ``--max-sheet-cells`` and ``--max-sheet-text``."""

    cells: int = MAX_SHEET_CELLS
    text: int = MAX_SHEET_TEXT

    @classmethod
    def from_options(cls, options: object) -> SheetLimits:
        """The limits from command-line options ``max_sheet_cells``, ``max_sheet_text`` (absent
        or None: the default)."""
        cells = getattr(options, "max_sheet_cells", None) or MAX_SHEET_CELLS
        text = getattr(options, "max_sheet_text", None) or MAX_SHEET_TEXT
        return cls(cells, text)
