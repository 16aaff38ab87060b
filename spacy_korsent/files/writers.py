"""Write result rows as JSON Lines, CSV, TSV, Parquet or an aligned table, a batch at a time.

Each writer's ``write(rows)`` writes (and flushes) one batch, so an interrupted run leaves complete
rows behind (Ctrl-C and SIGTERM wait for the batch); ``close()`` finishes the file (Parquet writes
its footer there). The format comes from the output file's suffix unless one is named.

Text from the input never steers what reads the output: a CSV/TSV cell (or column name) with a
line break is quoted, so the file parses again; the table escapes control characters (ESC, BEL,
...) as JSON does, so that no escape sequence reaches the terminal; and on request
(``escape_formulas``) spreadsheet-bound cells that a spreadsheet would run as a formula are
neutralised as OWASP recommends for CSV injection.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable, TextIO

from ..interrupts import whole
from .readers import InputError

OUTPUT_FORMATS = ("jsonl", "csv", "tsv", "parquet", "table")
SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
SUFFIXES.update({".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"})
SPREADSHEET_FORMATS = ("csv", "tsv")
"""The outputs an analyst opens in Excel or LibreOffice: where formulas are neutralised."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"\s*[\r\n\t\u2028\u2029]\s*")


def output_format(path: str | None, fmt: str | None) -> str:
    """``fmt``, else the format the output file's suffix names, else JSON Lines."""
    if fmt:
        return fmt
    return SUFFIXES.get(Path(path).suffix.lower(), "jsonl") if path and path != "-" else "jsonl"


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name one file, existing or to be written (links and relative paths
    included)."""
    if Path(first).resolve() == Path(second).resolve():
        return True
    return Path(first).exists() and Path(second).exists() and os.path.samefile(first, second)


def refuse_input_as_output(
    output: str | Path | None, inputs: Sequence[str | Path], option: str
) -> None:
    """An InputError when ``output`` is one of the files the run reads (it would be destroyed).

    Checked before anything is read or written; the same file under another name (a link, a
    relative path) counts too.
    """
    if output is None or str(output) == "-" or not Path(output).exists():
        return
    for path in inputs:
        if str(path) != "-" and same_file(output, path):
            raise InputError(
                f"{option} {output} is the input file {path}: writing it would destroy the input. "
                f"Write to another file."
            )


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


def check_output(fmt: str, path: str | None, *, escape_formulas: bool = False) -> None:
    """An InputError for an output :func:`open_writer` could not open, raised before a run
    starts: Parquet without a file or without pyarrow, formulas to escape in no spreadsheet."""
    if escape_formulas and fmt not in SPREADSHEET_FORMATS:
        raise InputError(
            f"--escape-formulas applies to CSV and TSV output (what spreadsheets open), not to "
            f"{fmt}: write -f csv or -f tsv, or leave the option out."
        )
    if fmt != "parquet":
        return
    if path is None or path == "-":
        raise InputError("Parquet output needs a file: give -o FILE.parquet.")
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as err:
        raise InputError(
            "Parquet output needs pyarrow: pip install 'spacy-korsent[parquet]' "
            "(or write .csv or .jsonl)."
        ) from err


def open_writer(
    fmt: str,
    path: str | None,
    *,
    warn: Callable[[str], None],
    text_column: str,
    hidden: set[str],
    float_columns: Callable[[str], bool],
    escape_formulas: bool = False,
) -> Writer:
    """The writer for ``fmt`` on ``path`` (standard output for None or ``-``).

    ``hidden`` columns are left out of the table; ``float_columns`` says which columns Parquet
    stores as numbers (the rest are strings, lists and objects as JSON); ``escape_formulas``
    neutralises formulas in CSV/TSV cells (see :func:`escape_formula`).
    """
    check_output(fmt, path, escape_formulas=escape_formulas)
    if path == "-":
        path = None
    if fmt == "parquet":
        assert path is not None
        return ParquetWriter(path, warn, float_columns)
    stream: TextIO = sys.stdout
    if path is not None:
        try:  # the writer's close() closes the file
            stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as err:
            raise InputError(f"cannot write {path}: {err.strerror or err}.") from err
    if fmt == "jsonl":
        return JsonlWriter(stream)
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        return DelimitedWriter(stream, warn, delimiter, escape_formulas=escape_formulas)
    return TableWriter(stream, text_column, hidden=hidden)


class _StreamWriter(Writer):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def finish(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


class JsonlWriter(_StreamWriter):
    """One JSON object per line, UTF-8 as it is (no \\u escapes)."""

    def write_rows(self, rows: list[dict]) -> None:
        self.stream.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        self.stream.flush()


class _FixedColumns:
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


class DelimitedWriter(_StreamWriter):
    """CSV or TSV with a header of the first batch's columns; lists and objects become JSON.

    With ``escape_formulas`` every cell, the header's too, goes through :func:`escape_formula`.
    """

    def __init__(
        self,
        stream: TextIO,
        warn: Callable[[str], None],
        delimiter: str,
        *,
        escape_formulas: bool = False,
    ) -> None:
        super().__init__(stream)
        self.delimiter = delimiter
        self.fixed = _FixedColumns(warn, "header")
        self.escape_formulas = escape_formulas

    def write_rows(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\n")
        # The csv module quotes a field with \n but not one with a lone \r: quote such rows whole.
        quoted = csv.writer(
            buffer, delimiter=self.delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL
        )
        header = [self.fixed.columns] if self.fixed.fix(rows) else []
        body = [[_text_value(row.get(column), "") for column in self.fixed.columns] for row in rows]
        for cells in header + body:
            if self.escape_formulas:
                cells = [escape_formula(cell) for cell in cells]
            (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
        self.stream.write(buffer.getvalue())
        self.stream.flush()


def escape_formula(cell: str) -> str:
    """``cell`` with a ``'`` in front when a spreadsheet would read it as a formula: it starts
    with one of :data:`FORMULA_STARTS` (OWASP's advice against CSV injection). A plain number
    such as ``-3`` or ``+1.5e3`` is left as it is: it is a value, not a formula."""
    if cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class ParquetWriter(Writer):
    """A Parquet file, one row group per batch (needs pyarrow).

    Result scores are float64; every other column is a string (lists and objects as JSON), so
    that batches of mixed JSON Lines input keep one schema.
    """

    def __init__(
        self, path: str, warn: Callable[[str], None], float_columns: Callable[[str], bool]
    ) -> None:
        self.path = path
        self.is_float = float_columns
        self.fixed = _FixedColumns(warn, "Parquet schema")
        self.writer: Any = None

    def write_rows(self, rows: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.fixed.fix(rows):
            fields = [
                pa.field(c, pa.float64() if self.is_float(c) else pa.string())
                for c in self.fixed.columns
            ]
            try:
                self.writer = pq.ParquetWriter(self.path, pa.schema(fields))
            except OSError as err:
                raise InputError(f"cannot write {self.path}: {err}.") from err
        columns = {
            column: [
                _float(row.get(column)) if self.is_float(column) else _text_value(row.get(column))
                for row in rows
            ]
            for column in self.fixed.columns
        }
        self.writer.write_table(pa.table(columns, schema=self.writer.schema))

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text_value(value: Any, none: Any = None) -> Any:
    """A cell as text: lists and objects as JSON, None as ``none``."""
    if value is None:
        return none
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class TableWriter(_StreamWriter):
    """Aligned columns for reading on a terminal: the input's columns and the main results.

    Columns and their widths come from the first batch (long cells are cut with …; a column empty
    in all of it, such as emotion_group for a model without groups, is left out); sentences, with
    --sentences, follow their document as indented rows.
    """

    TEXT_WIDTH = 48
    CELL_WIDTH = 24

    def __init__(self, stream: TextIO, text_column: str, *, hidden: set[str]) -> None:
        super().__init__(stream)
        self.text_column = text_column
        self.hidden = hidden
        self.widths: dict[str, int] = {}

    def write_rows(self, rows: list[dict]) -> None:
        lines = [self._cells(row) for row in self._with_sentences(rows)]
        out = []
        if not self.widths:
            every = dict.fromkeys(str(c) for row in rows for c in row)
            columns = [c for c in every if c not in self.hidden and any(r.get(c) for r in lines)]
            for column in columns:
                cap = self.TEXT_WIDTH if column == self.text_column else self.CELL_WIDTH
                cells = [_cell(column)] + [line.get(column, "") for line in lines]
                self.widths[column] = min(cap, max(map(display_width, cells)))
            out.append(self._line({c: _cell(c) for c in self.widths}))
            out.append("  ".join("-" * width for width in self.widths.values()))
        out.extend(self._line(line) for line in lines)
        self.stream.write("".join(line.rstrip() + "\n" for line in out))
        self.stream.flush()

    def _with_sentences(self, rows: list[dict]) -> Iterator[dict]:
        for row in rows:
            yield row
            for sentence in row.get("sentences", ()):
                fields = {k: v for k, v in sentence.items() if k not in ("text", "start", "end")}
                yield {self.text_column: "  └ " + sentence["text"], **fields}

    def _cells(self, row: dict) -> dict[str, str]:
        return {str(column): _cell(value) for column, value in row.items()}

    def _line(self, cells: dict[str, str]) -> str:
        return "  ".join(fit(cells.get(c, ""), width) for c, width in self.widths.items())


def _cell(value: Any) -> str:
    """A value as one line of a table cell: line breaks become spaces, and control characters
    are escaped as JSON escapes them (``\\u001b``), so that the terminal shows them, not runs them.
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ", ".join(value)  # a label list reads as labels, not as Python
    one_line = _LINE_BREAK.sub(" ", str(value))
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", one_line)


def _char_width(char: str) -> int:
    """Terminal columns: East Asian wide and full-width characters (Hangul) take two."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (Hangul takes two a character)."""
    return sum(map(_char_width, text))


def fit(text: str, width: int) -> str:
    """``text`` cut (with …) or padded to exactly ``width`` terminal columns."""
    used = display_width(text)
    if used > width:
        kept = []
        used = 1  # the ellipsis
        for char in text:
            if used + _char_width(char) > width:
                break
            kept.append(char)
            used += _char_width(char)
        text = "".join(kept) + "…"
    return text + " " * (width - used)
