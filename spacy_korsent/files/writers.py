"""Write result rows as JSON Lines, CSV, TSV, Parquet or an aligned table, a batch at a time.

Each writer's ``write(rows)`` writes (and flushes) one batch, so an interrupted run leaves complete
rows behind (Ctrl-C and SIGTERM wait for the batch); ``close()`` finishes the file (Parquet writes
its footer there). The format comes from the output file's suffix unless one is named; a suffix
no writer writes is refused before anything runs.

CSV and TSV files are written as UTF-8 with a byte order mark by default (``utf-8-sig``): without
one, Excel on Korean Windows reads them as CP949 and shows garbage; Python, pandas and this
package's readers skip the mark. Standard output and JSON Lines are plain UTF-8. ``cp949`` is for
older tools that read nothing else: a character it cannot encode (an emoji, rare hanja) is written
as ``?`` with a warning naming the line and column.

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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Callable, TextIO

from .records import InputError
from .writing import FixedColumns, Writer, json_default, text_of

OUTPUT_FORMATS = ("jsonl", "csv", "tsv", "parquet", "xlsx", "table")
SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
SUFFIXES.update({".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"})
OUTPUT_ENCODINGS = ("utf-8", "utf-8-sig", "cp949")
SPREADSHEET_ENCODING = "utf-8-sig"
"""The default for CSV and TSV files: Excel reads UTF-8 only with a byte order mark."""
BINARY_FORMATS = ("parquet", "xlsx")
SPREADSHEET_FORMATS = ("csv", "tsv")
"""The outputs an analyst opens in Excel or LibreOffice: where formulas are neutralised."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)."""

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"\s*[\r\n\t\u2028\u2029]\s*")


def output_format(path: str | None, fmt: str | None) -> str:
    """``fmt``, else the format the output file's suffix names (JSON Lines for standard output);
    an InputError for a suffix that names no format written here."""
    if fmt:
        return fmt
    if not path or path == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        known = ", ".join(sorted(SUFFIXES))
        hint = " (.xls and .ods: write .xlsx, which both Excel and LibreOffice open)"
        raise InputError(
            f"-o {path}: {'no suffix' if not suffix else f'{suffix!r} is no format'} that korsent "
            f"writes; give the file one of {known}, or name the format with -f"
            f"{hint if suffix in ('.xls', '.ods') else ''}."
        )
    return SUFFIXES[suffix]


def output_encoding(fmt: str, path: str | None, encoding: str | None) -> str | None:
    """The text encoding to write ``fmt`` in (None for Parquet and .xlsx, which have none):
    ``encoding`` if the format can have it, else the default (module docstring)."""
    to_file = path not in (None, "-")
    if fmt in BINARY_FORMATS:
        if encoding is not None:
            raise InputError(
                f"--output-encoding does not apply to {fmt} output, which has no text encoding "
                "to choose (Excel opens .xlsx as it is)."
            )
        return None
    if encoding is None:
        return SPREADSHEET_ENCODING if fmt in SPREADSHEET_FORMATS and to_file else "utf-8"
    if encoding not in OUTPUT_ENCODINGS:
        raise InputError(
            f"--output-encoding {encoding!r}: use one of {', '.join(OUTPUT_ENCODINGS)}."
        )
    if encoding != "utf-8" and fmt not in SPREADSHEET_FORMATS:
        what = "JSON Lines is UTF-8 (RFC 8259)" if fmt == "jsonl" else "the table is for a terminal"
        raise InputError(
            f"--output-encoding {encoding} applies to CSV and TSV output; {what}: leave it out."
        )
    return encoding


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


def check_output(
    fmt: str, path: str | None, *, escape_formulas: bool = False, encoding: str | None = None
) -> None:
    """An InputError for an output :func:`open_writer` could not open, raised before a run
    starts: Parquet or .xlsx without a file or its library, formulas to escape in no
    spreadsheet text, an encoding the format cannot have."""
    if escape_formulas and fmt == "xlsx":
        raise InputError(
            "--escape-formulas is not needed for .xlsx: its cells are written as text, never as "
            "formulas. Leave the option out."
        )
    if escape_formulas and fmt not in SPREADSHEET_FORMATS:
        raise InputError(
            f"--escape-formulas applies to CSV and TSV output (what spreadsheets open), not to "
            f"{fmt}: write -f csv or -f tsv, or leave the option out."
        )
    output_encoding(fmt, path, encoding)
    if fmt not in BINARY_FORMATS:
        return
    if path is None or path == "-":
        name = "Parquet" if fmt == "parquet" else "Excel"
        raise InputError(f"{name} output needs a file: give -o FILE.{fmt}.")
    if fmt == "parquet":
        from .parquet import check_pyarrow

        check_pyarrow()
    else:
        from .excel import check_writable

        check_writable()


def open_writer(
    fmt: str,
    path: str | None,
    *,
    warn: Callable[[str], None],
    text_column: str,
    hidden: set[str],
    result_types: Callable[[], Mapping[str, Any]] = dict,
    escape_formulas: bool = False,
    encoding: str | None = None,
) -> Writer:
    """The writer for ``fmt`` on ``path`` (standard output for None or ``-``).

    ``hidden`` columns are left out of the table; ``result_types`` gives the Arrow types of the
    result fields for Parquet (:meth:`~.fields.ResultFields.arrow_types`); ``escape_formulas``
    neutralises formulas in CSV/TSV cells (see :func:`escape_formula`); ``encoding`` is the
    text encoding (default: see the module docstring).
    """
    check_output(fmt, path, escape_formulas=escape_formulas, encoding=encoding)
    if path == "-":
        path = None
    if fmt == "parquet":
        from .parquet import ParquetWriter

        assert path is not None
        return ParquetWriter(path, warn, result_types)
    if fmt == "xlsx":
        from .excel import SheetWriter

        assert path is not None
        return SheetWriter(path, warn)
    codec = output_encoding(fmt, path, encoding) or "utf-8"
    stream = _text_stream(path, codec)
    if fmt == "jsonl":
        return JsonlWriter(stream)
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        return DelimitedWriter(
            stream,
            warn,
            delimiter,
            escape_formulas=escape_formulas,
            encoding=codec,
            name=path or "standard output",
        )
    return TableWriter(stream, text_column, hidden=hidden)


def _text_stream(path: str | None, encoding: str) -> TextIO:
    """The file to write (standard output for None) in ``encoding``; the writer closes it."""
    if path is None:
        if encoding == "utf-8" or encoding == (sys.stdout.encoding or "").lower():
            return sys.stdout
        sys.stdout.flush()  # what was written before goes first
        return io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="")
    try:
        return open(path, "w", encoding=encoding, newline="")  # noqa: SIM115
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror or err}.") from err


class _StreamWriter(Writer):
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def finish(self) -> None:
        if self.stream is sys.stdout:
            return
        if isinstance(self.stream, io.TextIOWrapper) and self.stream.buffer is sys.stdout.buffer:
            self.stream.flush()
            self.stream.detach()  # standard output stays open
            return
        self.stream.close()


class JsonlWriter(_StreamWriter):
    """One JSON object per line, UTF-8 as it is (no \\u escapes; dates in ISO format)."""

    def write_rows(self, rows: list[dict]) -> None:
        lines = (json.dumps(row, ensure_ascii=False, default=json_default) for row in rows)
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()


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
        encoding: str = SPREADSHEET_ENCODING,
        name: str = "standard output",
    ) -> None:
        super().__init__(stream)
        self.warn = warn
        self.delimiter = delimiter
        self.fixed = FixedColumns(warn, "header")
        self.escape_formulas = escape_formulas
        self.encoding = encoding
        self.name = name
        self.row = 0

    def write_rows(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\n")
        # The csv module quotes a field with \n but not one with a lone \r: quote such rows whole.
        quoted = csv.writer(
            buffer, delimiter=self.delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL
        )
        header = [self.fixed.columns] if self.fixed.fix(rows) else []
        body = [[text_of(row.get(column), "") for column in self.fixed.columns] for row in rows]
        for cells in header + body:
            self.row += 1
            if self.escape_formulas:
                cells = [escape_formula(cell) for cell in cells]
            if self.encoding == "cp949":
                cells = [self._encodable(*pair) for pair in zip(cells, self.fixed.columns)]
            (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)
        self.stream.write(buffer.getvalue())
        self.stream.flush()

    def _encodable(self, cell: str, column: str) -> str:
        """``cell`` with each character CP949 lacks as ``?``, reported (never dropped unsaid)."""
        try:
            cell.encode(self.encoding)
            return cell
        except UnicodeEncodeError:
            lacking = sorted({char for char in cell if not _encodes(char, self.encoding)})
            self.warn(
                f"{self.name}: row {self.row:,} (the header is row 1), column {column!r}: "
                f"{' '.join(lacking)} cannot be written in CP949; written as '?' "
                "(--output-encoding utf-8-sig keeps every character)."
            )
            return cell.encode(self.encoding, "replace").decode(self.encoding)


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def escape_formula(cell: str) -> str:
    """``cell`` with a ``'`` in front when a spreadsheet would read it as a formula: it starts
    with one of :data:`FORMULA_STARTS` (OWASP's advice against CSV injection). A plain number
    such as ``-3`` or ``+1.5e3`` is left as it is: it is a value, not a formula."""
    if cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


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
