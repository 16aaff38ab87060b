"""Read ``korsent analyze``'s output with the project's readers, whatever format it was written in.

JSON Lines, CSV, TSV and Excel workbooks (and every format the shared reader learns later) go
through :func:`~spacy_korsent.files.readers.read_records`, so encodings, CSV repairs and their
warnings are those of the other commands; Parquet through :mod:`spacy_korsent.files.parquet`,
only the columns the report reads. Plain text cannot be analysed output, so a suffix the shared
reader reads as plain text is refused with what to give instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

from ..files.readers import FORMATS, InputError, Layout, Record, Warn, source_name
from ..files.sources import PARQUET, format_of, read_file_records

INPUT_FORMATS = (*(fmt for fmt in FORMATS if fmt != "text"), PARQUET)
"""What ``korsent report`` reads: the shared reader's tables, and Parquet."""
OTHER_SPREADSHEETS = (".xls", ".ods")


def report_format(path: str, fmt: str | None) -> str:
    """The format to read ``path`` in: ``fmt``, else the one its suffix names."""
    if fmt:
        return fmt
    guessed = format_of(path)
    if guessed in INPUT_FORMATS:
        return guessed
    suffix = Path(path).suffix.lower()
    if suffix in OTHER_SPREADSHEETS:
        raise InputError(
            f"{path}: {suffix} workbooks cannot be read; save the sheet as .xlsx (Excel: Save As "
            "> Excel Workbook) or give the file korsent analyze wrote."
        )
    raise InputError(
        f"{source_name(path)}: give the output of korsent analyze as .jsonl, .csv, .tsv, .xlsx "
        f"or .parquet, or name its format with --input-format ({', '.join(INPUT_FORMATS)})."
    )


def read_analysed(
    path: str,
    fmt: str,
    layout: Layout,
    *,
    text_column: str,
    warn: Warn | None = None,
    note: Warn | None = None,
    columns: Optional[Sequence[str]] = None,
) -> Iterator[Record]:
    """Stream the rows of an analysed file (``-``: standard input, not for Parquet); of a Parquet
    file only ``columns`` when given."""
    if fmt == PARQUET and path == "-":
        raise InputError("Parquet cannot be read from standard input: give -i FILE.parquet.")
    return read_file_records(
        path, fmt, layout, text_column=text_column, warn=warn, note=note, columns=columns
    )
