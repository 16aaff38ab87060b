"""Read the rows of the files the command line works on: plain text, CSV/TSV, JSON Lines, and
Excel workbooks (through :mod:`.excel`).

Everything streams: a file of many gigabytes is read one line (or one record) at a time. Bytes are
decoded by :mod:`.encoding` (UTF-8 with or without a BOM, UTF-16 with a BOM, CP949/EUC-KR, or the
``encoding`` given). A row that cannot be read as it should is reported through ``warn`` with the
line it starts on and handled on its own, so one bad row never costs the rest of the file:

- a JSON Lines line that is not a JSON object (or lacks a required field) is skipped;
- a CSV/TSV row with more or fewer fields than the header is kept with the missing fields empty
  and the extra ones left out (or skipped, for labelled data);
- a quote that opens a field and does not close on its line is taken as a plain character when
  closing it further down would swallow other rows (a quoted field may span lines only if the row
  it makes has the header's number of fields, and at most :data:`MAX_RECORD_LINES` lines);
- a quoted field that does span lines is one row (Excel's multi-line cells), but when lines it
  takes in look like rows of their own (the header's number of fields, and a number where the
  rows around it have a numeric id first), a stray quote is the likelier story: it is reported
  with the line it opens on and the lines it took, or refused with ``strict_rows``;
- a header line ended by a lone carriage return (an old Mac file, or mixed line ends) ends there,
  and lone carriage returns end the lines of the rest of the file too, as pandas reads it; after a
  header ended otherwise, a data line with lone carriage returns is split at them only when every
  piece is a row of the header's number of fields, else the carriage return is kept as part of
  the field (line numbers count line feeds);
- repeated header names get pandas' suffixes (``text``, ``text.1``) and empty ones its
  ``Unnamed: <index>``, with a note, so that no column is lost.

Lone surrogates, which JSON escapes (``"\\ud800"``) and undecodable command-line arguments produce
and which spaCy cannot hold, become U+FFFD.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Literal

from .encoding import EncodingError, decode_lines
from .records import InputError, Record, pandas_names, source_name
from .workbook_limits import SheetLimits

FORMATS = ("text", "csv", "tsv", "jsonl", "xlsx")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")

MAX_RECORD_LINES = 1000
"""Lines a quoted CSV/TSV field may span before its opening quote is taken as a stray one."""

Warn = Callable[[str], None]
"""Receives a one-line message about a line that was read with a repair or skipped."""

csv.field_size_limit(sys.maxsize)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")
"""The places just after a carriage return that is not part of a CRLF line end."""
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NUMBER = re.compile(r"\s*[0-9]+\s*")
_LINE_BREAK = re.compile(r"[\r\n]")
"""A numeric id, such as the first column of most exports."""


@dataclass(frozen=True)
class Layout:
    """How to read a file: its format, and for CSV/TSV its header and quoting.

    ``columns`` names the columns of a file without a header line (its first line is data).
    ``quoting=False`` reads CSV/TSV without quote handling: a ``"`` is a character of the text,
    as in TSV files such as KOTE. ``encoding`` overrides the detection. ``strict_rows`` makes a
    quoted field that takes in lines looking like rows an :class:`InputError` (else a warning).
    ``sheet`` is the sheet of a workbook to read (a name, or a number from 1; default: the
    first); ``columns`` names the columns of a sheet without a header row too. A workbook is
    read only within ``sheet_limits`` (see :mod:`.workbook_limits`).
    """

    fmt: str | None = None
    columns: tuple[str, ...] | None = None
    quoting: bool = True
    encoding: str | None = None
    sheet: str | None = None
    strict_rows: bool = False
    sheet_limits: SheetLimits = SheetLimits()

    def of(self, fmt: str) -> Layout:
        """This layout for a file of ``fmt``."""
        return replace(self, fmt=fmt)

    @classmethod
    def from_options(cls, options: object, fmt: str | None = None) -> Layout:
        """The layout from command-line options of the same names (absent or None: the
        default); ``fmt`` is the format, None to take it from each file's suffix."""
        return cls(
            fmt=fmt,
            columns=getattr(options, "columns", None),
            quoting=getattr(options, "quoting", True),
            encoding=getattr(options, "encoding", None),
            sheet=getattr(options, "sheet", None),
            strict_rows=bool(getattr(options, "strict_rows", False)),
            sheet_limits=SheetLimits.from_options(options),
        )


def guess_format(path: Path | str) -> str:
    """The format a file's suffix names: .csv, .tsv, .jsonl/.json/.ndjson, .xlsx/.xlsm, else
    plain text."""
    suffix = Path(path).suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return "xlsx"
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    return "text"


def read_rows(
    path: Path | str,
    fmt: str | None = None,
    *,
    text_column: str = "text",
    required: tuple[str, ...] = (),
    warn: Warn | None = None,
) -> Iterator[dict]:
    """Stream a file's rows as dicts (see :func:`read_records`, which also gives line numbers)."""
    for record in read_records(
        path, Layout(fmt), text_column=text_column, required=required, warn=warn
    ):
        yield record.row


def read_records(
    path: Path | str,
    layout: Layout = Layout(),
    *,
    text_column: str = "text",
    required: tuple[str, ...] = (),
    warn: Warn | None = None,
    note: Warn | None = None,
    stream: Iterable[bytes] | None = None,
) -> Iterator[Record]:
    """Stream a file's rows with their line numbers; ``-`` reads standard input.

    Plain text gives one row per line under ``text_column``. ``required`` columns are checked
    against the header (CSV/TSV) before the first row, or per row (JSON Lines). Repairs are
    reported through ``warn``; rows with the wrong number of fields come with a ``problem``.
    Without ``warn`` a bad JSON line raises :class:`InputError`.
    ``note`` hears which encoding was detected when it is not UTF-8. ``stream`` gives the bytes
    (e.g. standard input after a look at its first lines) instead of opening ``path``.
    """
    fmt = layout.fmt or guess_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    name = source_name(path)
    if fmt == "xlsx":
        from .excel import read_sheet_records

        yield from read_sheet_records(
            path,
            sheet=layout.sheet,
            columns=layout.columns,
            required=required,
            stream=stream,
            limits=layout.sheet_limits,
        )
        return
    try:
        with _open(path) if stream is None else nullcontext(stream) as chunks:
            lines = decode_lines(chunks, name, encoding=layout.encoding, warn=warn, note=note)
            if fmt == "text":
                for number, line in enumerate(lines, start=1):
                    yield Record(number, {text_column: _without_line_end(line)})
            elif fmt == "jsonl":
                yield from _jsonl_records(lines, name, required, warn)
            else:
                delimiter = "," if fmt == "csv" else "\t"
                table = _Delimited(name, delimiter, layout, warn, note)
                yield from table.records(lines, required)
    except EncodingError as err:
        raise InputError(str(err)) from err
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}.") from err


class _Delimited:
    """CSV/TSV records, parsed by the csv module and checked row by row against the header."""

    def __init__(
        self, source: str, delimiter: str, layout: Layout, warn: Warn | None, note: Warn | None
    ) -> None:
        self.source = source
        self.delimiter = delimiter
        self.quoting: Literal[0, 3] = csv.QUOTE_MINIMAL if layout.quoting else csv.QUOTE_NONE
        self.columns = list(layout.columns) if layout.columns else None
        self.strict_rows = layout.strict_rows
        self.warn = warn or (lambda message: None)
        self.note = note or (lambda message: None)

    def records(self, lines: Iterable[str], required: tuple[str, ...]) -> Iterator[Record]:
        header = self.columns
        if header is not None:
            self._check(header, required)
        for number, fields in self._parsed(_Feed(enumerate(lines, start=1)), header):
            if header is None:
                header = self._named([field.strip() for field in fields])
                self._check(header, required)
                continue
            yield self._fit(number, fields, header)
        if header is None:
            self._check([], required)

    def _check(self, header: list[str], required: tuple[str, ...]) -> None:
        if required and not header:
            raise InputError(f"{self.source}: the file is empty; a header line is needed.")
        missing = [column for column in required if column not in header]
        if missing:
            hint = "" if self.columns else " (For a file without a header line, name its columns"
            hint += "" if self.columns else " with --columns.)"
            raise InputError(
                f"{self.source}: no column {', '.join(map(repr, missing))} in the header "
                f"{header}.{hint}"
            )

    def _named(self, names: list[str]) -> list[str]:
        """The header with pandas' names for repeated and empty ones, which are noted."""
        unique = pandas_names(names)
        renamed = [
            f"column {index} {old!r} is {new!r}"
            for index, (old, new) in enumerate(zip(names, unique), start=1)
            if old != new
        ]
        if renamed:
            self.note(
                f"{self.source}: the header repeats or leaves out column names; renamed as pandas "
                f"does, so that no column is lost: {', '.join(renamed)}."
            )
        return unique

    def _fit(self, number: int, fields: list[str], header: list[str]) -> Record:
        row: dict[str, Any] = dict(zip(header, fields))
        if len(fields) == len(header):
            return Record(number, row)
        row.update((column, None) for column in header[len(fields) :])
        problem = f"{self.source}:{number}: {len(fields)} fields where the header has {len(header)}"
        return Record(number, row, problem)

    def _parsed(self, feed: _Feed, header: list[str] | None) -> Iterator[tuple[int, list[str]]]:
        """(first line, fields) of each non-blank record; see the module docstring for repairs."""
        before: list[str] = []  # the fields of the record before, for the ids of neighbours
        while True:
            reader = csv.reader(feed, delimiter=self.delimiter, quoting=self.quoting, strict=False)
            try:
                for fields in reader:
                    cut_short, lines = feed.cut_short, feed.take()
                    heading = header is None
                    if header is None:
                        header = fields  # the header line itself
                    unclosed = cut_short and bool(fields)  # still in a quoted field at the end
                    if unclosed or (len(lines) > 1 and len(fields) != len(header)):
                        feed.push_back(lines[1:])
                        line = self._up_to_a_lone_cr(lines[0], len(header), feed)
                        yield line[0], self._stray_quote(line)
                        before = []
                        break  # a fresh reader: the pushed-back lines are read anew
                    if len(lines) > 1 and not heading:
                        self._check_taken_in(lines, fields, before)
                    if fields:
                        yield lines[0][0], fields
                        before = [] if heading else fields
                else:
                    return
            except csv.Error:  # a carriage return inside an unquoted field
                lines = feed.take()
                pieces = [piece for line in lines for piece in _split_at_lone_cr(line)]
                if len(pieces) == len(lines) or (
                    header is not None and not self._are_rows(pieces, len(header))
                ):
                    yield lines[0][0], self._with_carriage_returns(lines)
                    continue
                feed.split_cr = feed.split_cr or header is None  # the header's line end counts
                feed.push_back(pieces)

    def _check_taken_in(
        self, lines: list[tuple[int, str]], fields: list[str], before: list[str]
    ) -> None:
        """Report (or refuse, with ``strict_rows``) a quoted field over ``lines`` that takes in
        lines which look like rows of their own: one row where the file may have meant several.

        Lines are cut at lone carriage returns too (mixed line ends). A line in the middle looks
        like a row when it is one, read alone; the last only when the quote that closes the field
        is not followed by a delimiter or the line end, as a closing quote is (e.g. it opens a
        field of its own): else any multi-line field in the first column would look like rows.
        In a file of one column every line is a row: only such a malformed close tells there.
        """
        ids = [row[0] for row in (before, fields) if row and not _LINE_BREAK.search(row[0])]
        numeric = bool(ids) and all(_NUMBER.fullmatch(value) for value in ids)
        pieces = [piece for line in lines for piece in _split_at_lone_cr(line)]
        taken = [_without_line_end(text) for _, text in pieces[1:]]
        taken = [text for text in taken if text]  # a blank line would be no row
        unclean = bool(taken) and not self._closes_cleanly(taken[-1])
        if len(fields) == 1 and not unclean:
            return  # every line is a row of one field: only a malformed close tells
        rows = sum(self._looks_like_row(text, len(fields), numeric) for text in taken[:-1])
        rows += unclean and self._looks_like_row(taken[-1], len(fields), numeric)
        if not rows:
            return
        first, last = lines[0][0], lines[-1][0]
        where = f"{self.source}:{first}: a quoted field opens here and closes on line {last}"
        if self.strict_rows:
            raise InputError(
                f"{where}, taking in {rows} line(s) that look like rows of their own (a stray "
                "quote?); fix the quote, or leave out --strict-rows to read them as one row "
                "with a warning."
            )
        self.warn(
            f"{where}: {len(taken) + 1} lines were read as one row, {rows} of which look like "
            "rows of their own (a stray quote?); --strict-rows makes this an error."
        )

    def _looks_like_row(self, text: str, width: int, numeric: bool) -> bool:
        """Whether a line read alone is a whole row of ``width`` fields, with a numeric id first
        where its neighbours have one."""
        try:
            fields = next(
                csv.reader([text + "\n"], delimiter=self.delimiter, quoting=self.quoting), []
            )
        except csv.Error:  # a carriage return in an unquoted field
            return False
        whole = not any("\n" in field for field in fields)  # no quote left open at its end
        return (
            len(fields) == width and whole and (not numeric or bool(_NUMBER.fullmatch(fields[0])))
        )

    def _closes_cleanly(self, text: str) -> bool:
        """Whether the first quote of ``text`` that is not a doubled one (the line starts inside
        a quoted field) is followed by a delimiter or the line end, as a closing quote is."""
        at = 0
        while (at := text.find('"', at)) >= 0 and text.startswith('""', at):
            at += 2
        return at < 0 or text[at + 1 : at + 2] in ("", self.delimiter)

    def _are_rows(self, pieces: list[tuple[int, str]], width: int) -> bool:
        """Whether lines split at lone carriage returns make rows of ``width`` fields each (the
        last may be a quoted field that goes on below: it is checked when it is complete)."""
        feed = _Feed(iter(pieces))
        reader = csv.reader(feed, delimiter=self.delimiter, quoting=self.quoting, strict=False)
        try:
            for fields in reader:
                goes_on = feed.cut_short
                feed.take()
                if fields and len(fields) != width and not goes_on:
                    return False
        except csv.Error:
            return False
        return True

    def _up_to_a_lone_cr(self, line: tuple[int, str], width: int, feed: _Feed) -> tuple[int, str]:
        """A line with a stray quote, cut at its first lone carriage return when every piece is
        a row of ``width`` fields with the quote as a plain character (mixed line ends); the
        rest goes back to ``feed``."""
        first, *rest = _split_at_lone_cr(line)
        pieces = [_without_line_end(text).split(self.delimiter) for _, text in (first, *rest)]
        if rest and all(len(fields) == width for fields in pieces):
            feed.push_back(rest)
            return first
        return line

    def _stray_quote(self, line: tuple[int, str]) -> list[str]:
        number, text = line
        self.warn(
            f"{self.source}:{number}: a quote opens a field and does not close on this line; "
            "the line was read with the quote as a plain character."
        )
        return _without_line_end(text).split(self.delimiter)

    def _with_carriage_returns(self, lines: list[tuple[int, str]]) -> list[str]:
        number = lines[0][0]
        text = "".join(line for _, line in lines)
        body = _without_line_end(text)
        sentinel = next(chr(c) for c in range(0xE000, 0xF900) if chr(c) not in body)
        reader = csv.reader(
            [body.replace("\r", sentinel)], delimiter=self.delimiter, quoting=self.quoting
        )
        fields = [field.replace(sentinel, "\r") for field in next(reader, [])]
        self.warn(
            f"{self.source}:{number}: a carriage return inside an unquoted field was kept as "
            "part of the field."
        )
        return fields


class _Feed:
    """Lines for csv.reader, remembering those of the record being read; lines can be put back.

    It stops a record after :data:`MAX_RECORD_LINES` lines, so that a stray quote cannot make the
    reader swallow the rest of the file; ``cut_short`` says that a record was ended this way or by
    the end of the file. With ``split_cr`` a lone carriage return ends a line, as a line feed does.
    """

    def __init__(self, numbered: Iterator[tuple[int, str]]) -> None:
        self.numbered = numbered
        self.returned: deque[tuple[int, str]] = deque()
        self.current: list[tuple[int, str]] = []
        self.cut_short = False
        self.split_cr = False

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if len(self.current) >= MAX_RECORD_LINES:
            self.cut_short = True
            raise StopIteration
        try:
            item = self.returned.popleft() if self.returned else next(self.numbered)
        except StopIteration:
            self.cut_short = True
            raise
        if self.split_cr and "\r" in item[1]:
            item, *rest = _split_at_lone_cr(item)
            self.push_back(rest)
        self.current.append(item)
        return item[1]

    def take(self) -> list[tuple[int, str]]:
        """The lines of the record just read; the next record starts afresh."""
        lines, self.current = self.current, []
        self.cut_short = False
        return lines

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self.returned.extendleft(reversed(lines))


def _split_at_lone_cr(line: tuple[int, str]) -> list[tuple[int, str]]:
    """A line cut after each lone carriage return; the pieces keep the line's number."""
    number, text = line
    return [(number, piece) for piece in _LONE_CR.split(text) if piece]


def _jsonl_records(
    lines: Iterable[str], source: str, required: tuple[str, ...], warn: Warn | None
) -> Iterator[Record]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problem = "" if isinstance(row, dict) else "each line must be a JSON object"
        except json.JSONDecodeError as err:
            row, problem = None, f"not valid JSON ({err.msg})"
        missing = [c for c in required if c not in row] if isinstance(row, dict) else []
        if missing:
            problem = f"no field {', '.join(map(repr, missing))}"
        if not problem:
            # Only a \uD8xx-\uDFxx escape can leave a lone surrogate (pairs are joined).
            yield Record(
                number, _replace_surrogates(row) if _SURROGATE_ESCAPE.search(line) else row
            )
        elif warn is None:
            raise InputError(f"{source}:{number}: {problem}.")
        else:
            warn(f"{source}:{number}: {problem}; line skipped.")


def _without_line_end(line: str) -> str:
    """A line without its line end: CRLF, LF, or a lone CR (which ends a line here only where
    the line was cut after it)."""
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(("\n", "\r")) else line


def _open(path: Path | str) -> AbstractContextManager[BinaryIO]:
    """Open a file for reading bytes; ``-`` is standard input, which stays open afterwards."""
    if str(path) == "-":
        return nullcontext(sys.stdin.buffer)
    return open(path, "rb")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (spaCy refuses them)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return replace_lone_surrogates(value)
    if isinstance(value, dict):
        return _with_keys_replaced({key: _replace_surrogates(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    return value


def _with_keys_replaced(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with lone surrogates in its keys replaced, as in values (no writer can encode
    them); keys that become one name get pandas' suffixes (``.1``), so that no value is lost."""
    keys = [replace_lone_surrogates(key) for key in row]
    if keys == list(row):
        return row
    renamed = [key if key == old else None for key, old in zip(keys, row)]
    taken = {key for key in renamed if key is not None}
    for index, key in enumerate(keys):
        if renamed[index] is None:
            new, count = key, 0
            while new in taken:
                count += 1
                new = f"{key}.{count}"
            renamed[index] = new
            taken.add(new)
    return dict(zip(map(str, renamed), row.values()))
