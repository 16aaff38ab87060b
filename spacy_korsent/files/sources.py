"""The input of ``korsent analyze``: one file, every data file of a directory, or standard input.

Both engines read it through :class:`InputRows`, so a directory of Spark parts or a Parquet file
gives the same rows, warnings and line numbers wherever it is analysed. In a directory, files are
chosen by suffix (.jsonl/.json/.ndjson, .csv, .tsv, .txt, .parquet/.pq, .xlsx/.xlsm), or all of
them with a format given; hidden files and ones starting with ``_`` (such as Spark's
``_SUCCESS``) are left out; all must have one format; they are read in the order of their paths.

:func:`read_file_records` reads one file in any of these formats; ``korsent report`` reads
analysed files with it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .parquet import read_parquet_records
from .readers import (
    EXCEL_SUFFIXES,
    InputError,
    Layout,
    Record,
    Warn,
    guess_format,
    read_records,
    source_name,
)

PARQUET = "parquet"
PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt")
DATA_SUFFIXES = (*TEXT_SUFFIXES, *PARQUET_SUFFIXES, *EXCEL_SUFFIXES)


@dataclass(frozen=True)
class InputFile:
    """A file to read and its format; ``-`` is standard input, whose bytes ``stream`` holds
    (after a look at its first lines)."""

    path: str
    fmt: str
    stream: Optional[Iterable[bytes]] = field(default=None, compare=False, repr=False)


def format_of(path: Path | str) -> str:
    """The format a file's suffix names: Parquet, else as :func:`~.readers.guess_format`."""
    return PARQUET if Path(path).suffix.lower() in PARQUET_SUFFIXES else guess_format(path)


def input_files(source: str, fmt: Optional[str] = None) -> list[InputFile]:
    """The files to read: ``source`` itself, or the data files of a directory (module docstring).

    ``fmt`` overrides the format the suffixes give.
    """
    path = Path(source)
    if not path.is_dir():
        return [InputFile(source, fmt or format_of(path))]  # named as the user named it
    found = [
        InputFile(str(file), fmt or format_of(file))
        for file in sorted(p for p in path.rglob("*") if p.is_file())
        if not file.relative_to(path).as_posix().startswith((".", "_"))
        and "/." not in file.relative_to(path).as_posix()
        and (fmt or file.suffix.lower() in DATA_SUFFIXES)
    ]
    formats = sorted({file.fmt for file in found})
    if not found:
        raise InputError(
            f"{path}: no data files (.jsonl, .csv, .tsv, .parquet, .xlsx, .txt) in the directory."
        )
    if len(formats) > 1:
        raise InputError(
            f"{path}: the directory mixes formats ({', '.join(formats)}); analyze one at a "
            "time, or name the one to read with --input-format."
        )
    return found


def read_file_records(
    path: str,
    fmt: str,
    layout: Layout,
    *,
    text_column: str,
    required: tuple[str, ...] = (),
    warn: Optional[Warn] = None,
    note: Optional[Warn] = None,
    stream: Optional[Iterable[bytes]] = None,
    text_only: bool = False,
    columns: Optional[Sequence[str]] = None,
) -> Iterator[Record]:
    """The rows of one file in any format korsent reads: Parquet through :mod:`.parquet` (only
    ``text_column`` with ``text_only``, only ``columns`` when given), the others through
    :func:`~.readers.read_records` with ``layout`` (``required``, ``warn``, ``note``, ``stream``
    as it takes them)."""
    if fmt == PARQUET:
        return read_parquet_records(
            path, text_column=text_column, text_only=text_only, columns=columns
        )
    return read_records(
        path,
        layout.of(fmt),
        text_column=text_column,
        required=required,
        warn=warn,
        note=note,
        stream=stream,
    )


class InputRows:
    """The rows of the input files in order, as often as they are needed (standard input once).

    ``layout`` gives the columns, quoting and encoding of CSV/TSV and text files (each file
    carries its format); ``text_column`` is required in the header of a CSV/TSV or Parquet file.
    """

    def __init__(self, files: Iterable[InputFile], layout: Layout, text_column: str) -> None:
        self.files = list(files)
        self.layout = layout
        self.column = text_column

    def records(
        self, warn: Optional[Warn] = None, note: Optional[Warn] = None, *, text_only: bool = False
    ) -> Iterator[tuple[str, Record]]:
        """``(where, record)`` for every row; where is "FILE:LINE" (Parquet: FILE:ROW).

        With ``warn`` the rows' problems are reported (a row with the wrong number of fields is
        kept, its missing fields empty) and ``note`` hears a detected encoding; without, the read
        is silent (a second read). ``text_only`` reads only the text column of a Parquet file
        (other formats are parsed whole anyway).
        """
        for file in self.files:
            name = source_name(file.path)
            for record in self._file_records(file, warn, note, text_only):
                if record.problem and warn is not None:
                    warn(f"{record.problem}; kept (missing fields empty, extra fields left out).")
                yield f"{name}:{record.line}", record

    def check_headers(self) -> None:
        """Read each regular file's header (or first row), quietly: a missing column, an encoding
        that cannot be read or a file that is not Parquet fails before anything starts."""
        for file in self.files:
            if Path(file.path).is_file() and file.stream is None:
                next(self._file_records(file, None, None, text_only=True), None)

    def count(self) -> Optional[int]:
        """The number of rows (lines for text formats, less a header), for a progress bar's
        total; None when a file can only be read once (standard input, a pipe)."""
        total = 0
        for file in self.files:
            path = Path(file.path)
            if file.stream is not None or not path.is_file():
                return None
            if file.fmt == PARQUET:
                import pyarrow.parquet as pq

                total += pq.ParquetFile(path).metadata.num_rows
            elif file.fmt == "xlsx":
                from .excel import sheet_rows

                rows = sheet_rows(path, self.layout.sheet, self.layout.sheet_limits)
                total += rows - (not self.layout.columns)
            else:
                header = file.fmt in ("csv", "tsv") and not self.layout.columns
                total += count_lines(path) - header
        return total

    def _file_records(
        self, file: InputFile, warn: Optional[Warn], note: Optional[Warn], text_only: bool
    ) -> Iterator[Record]:
        return read_file_records(
            file.path,
            file.fmt,
            self.layout,
            text_column=self.column,
            required=(self.column,) if file.fmt in ("csv", "tsv", "xlsx") else (),
            warn=warn or _silent,
            note=note,
            stream=file.stream,
            text_only=text_only,
        )


def _silent(message: str) -> None:
    """A second read's warnings: the first read reported them."""


def count_lines(path: Path) -> int:
    """The number of lines in a file, read in large blocks (for a progress bar's total)."""
    count, last = 0, b"\n"
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")
