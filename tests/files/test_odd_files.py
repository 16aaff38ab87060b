"""``korsent analyze`` on odd files: lone carriage returns, line breaks and repeats in column
names, control characters for the terminal, formulas for spreadsheets; and a seeded fuzz run over
a few hundred malformed files.

Everything runs the real command in-process (``spacy_korsent.cli.main``) with one pipeline of the
committed tiny model, loaded once: only the model loading is shared, every file goes through the
command's own reading, checking and writing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY_MODEL, Analyze

from spacy_korsent.cli import main
from spacy_korsent.files.readers import pandas_names

RESULTS = ["sentiment", "sentiment_score", "sentiment_negative", "sentiment_positive"]


def read_table(path: Path, delimiter: str = ",") -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as stream:  # CSV files have a BOM
        return list(csv.reader(stream, delimiter=delimiter))


def read_dicts(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as stream:  # CSV files have a BOM
        return list(csv.DictReader(stream, delimiter=delimiter))


# --- a header line ended by a lone carriage return --------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "text,id\r좋아요,1\n싫어요,2\n",  # the header alone ends in CR: it swallowed row 1
        'id,text\r1,좋아요\r2,"여러\r줄"\r3,별로\r',  # old Mac: CR line ends throughout
        "id,text\r\n1,좋아요\r2,싫어요\n3,그냥\r\n",  # mixed line ends after a CRLF header
        "id\ttext\r1\t좋아요\n2\t싫어요\r",  # TSV
    ],
)
def test_lone_carriage_returns_end_lines_as_pandas_reads_them(
    analyze: Analyze, tmp_path: Path, content: str
) -> None:
    pandas = pytest.importorskip("pandas")
    suffix = ".tsv" if "\t" in content else ".csv"
    source = tmp_path / f"mac{suffix}"
    source.write_bytes(content.encode())
    code, _, err = analyze("-i", source, "-o", tmp_path / "out.csv")
    assert code == 0 and err == ""
    rows = read_dicts(tmp_path / "out.csv")
    frame = pandas.read_csv(source, sep="\t" if suffix == ".tsv" else ",", dtype=str)
    assert [{key: row[key] for key in ("id", "text")} for row in rows] == frame[
        ["id", "text"]
    ].to_dict("records")
    assert all(row["sentiment"] in ("negative", "positive") for row in rows)


def test_a_stray_carriage_return_in_a_data_line_is_still_kept_in_its_field(
    analyze: Analyze, tmp_path: Path
) -> None:
    """After a line-feed header, a lone CR ends a line only where both sides are whole rows."""
    source = tmp_path / "stray.csv"
    source.write_bytes("id,text\n1,줄\r바꿈\n2,좋다\r3,싫다\n".encode())
    code, _, err = analyze("-i", source, "-o", tmp_path / "out.csv")
    assert code == 0
    rows = read_dicts(tmp_path / "out.csv")
    assert [(row["id"], row["text"]) for row in rows] == [
        ("1", "줄\r바꿈"),
        ("2", "좋다"),
        ("3", "싫다"),
    ]
    assert f"{source}:2: a carriage return inside an unquoted field was kept" in err


@pytest.mark.parametrize(
    "content",
    [
        'id,text\r1,"안 닫힌 따옴표\r2,좋다\r',  # old Mac line ends
        'id,text\n1,"안 닫힌 따옴표\n2,좋다',  # no line end at the end of the file
        'id,text\n1,"안 닫힌 따옴표\r2,좋다\n',  # mixed line ends
    ],
)
def test_a_quote_that_never_closes_does_not_swallow_the_rows_after_it(
    analyze: Analyze, tmp_path: Path, content: str
) -> None:
    source = tmp_path / "stray.csv"
    source.write_bytes(content.encode())
    code, _, err = analyze("-i", source, "-o", tmp_path / "out.csv")
    assert code == 0 and "a quote opens a field and does not close" in err
    rows = read_dicts(tmp_path / "out.csv")
    assert [(row["id"], row["text"]) for row in rows] == [("1", '"안 닫힌 따옴표'), ("2", "좋다")]


STRAY = (
    'id,text,label\n1,"첫 리뷰 정말 좋았다,positive\n2,괜찮다,positive\n3,"별로",negative\n'
    "4,최고,positive\n"
)
"""A quote that opens a field and closes two lines below, taking in two rows: 4 rows, 2 read."""


def test_a_quoted_field_that_takes_in_rows_is_reported_with_its_lines(
    analyze: Analyze, tmp_path: Path
) -> None:
    source = tmp_path / "stray.csv"
    source.write_text(STRAY, encoding="utf-8")
    code, _, err = analyze("-i", source, "-o", tmp_path / "out.csv")
    assert code == 0
    assert err == (
        f"korsent analyze: warning: {source}:2: a quoted field opens here and closes on line 4: "
        "3 lines were read as one row, 2 of which look like rows of their own (a stray quote?); "
        "--strict-rows makes this an error.\n"
    )
    assert [row["id"] for row in read_dicts(tmp_path / "out.csv")] == ["1", "4"]


@pytest.mark.parametrize(
    "content, rows",
    [
        ('id,text,stars\n1,"첫 줄\n둘째 줄",5\n2,좋다,4\n', 2),  # Excel's multi-line cell
        ('text,id,stars\n"첫 줄\n둘째, 줄",1,5\n"좋다",2,4\n', 2),  # in the first column
        ('id,text,stars\n1,"첫 줄\n둘째, 줄, 셋\n끝",5\n2,좋다,4\n', 2),  # commas, not ids
        ('id\ttext\n1\t"여러\r\n줄의 ""인용""\r\n끝"\n', 1),  # TSV, CRLF, doubled quotes
        ('text\n"한 열\n여러 줄\n끝"\n다음\n', 2),  # one column
    ],
)
def test_multi_line_fields_are_read_as_one_row_without_a_word(
    analyze: Analyze, tmp_path: Path, content: str, rows: int
) -> None:
    source = tmp_path / ("multi.tsv" if "\t" in content else "multi.csv")
    source.write_text(content, encoding="utf-8")
    code, _, err = analyze("-i", source, "-o", tmp_path / "out.jsonl", "--strict-rows")
    assert (code, err) == (0, "")
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == rows


@pytest.mark.parametrize(
    "command",
    [
        ["analyze", "--sentiment-model", TINY_MODEL, "-o", "{out}.csv", "-i", "{source}"],
        ["report", "-o", "{out}.html", "-i", "{source}"],
        ["evaluate", "-m", TINY_MODEL, "--format", "csv", "{source}"],
        ["calibrate", "-m", TINY_MODEL, "-o", "{out}.json", "--format", "csv", "-i", "{source}"],
        ["convert", "--format", "csv", "--labels", "negative,positive", "{source}", "{out}"],
        ["train", "--model", TINY_MODEL, "-o", "{out}", "--format", "csv", "{source}"],
        ["distill", "--teacher", TINY_MODEL, "--layers", "1", "-o", "{out}", "--texts", "{source}"],
    ],
    ids=lambda command: command[0],
)
def test_strict_rows_makes_a_quoted_field_that_takes_in_rows_an_error_everywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[Any]
) -> None:
    """Every command that reads CSV/TSV: exit 2 and one line, whatever it reads the file for
    (analysed rows for report, labelled rows for evaluate, calibrate, convert and train)."""
    source = tmp_path / "stray.csv"
    source.write_text(STRAY.replace("label", "sentiment" if command[0] == "report" else "label"))
    argv = [str(arg).format(out=tmp_path / "out", source=source) for arg in command]
    code = main([argv[0], "--strict-rows", *argv[1:]])
    _, err = capsys.readouterr()
    assert code == 2, err
    assert err == (
        f"korsent {command[0]}: error: {source}:2: a quoted field opens here and closes on line "
        "4, taking in 2 line(s) that look like rows of their own (a stray quote?); fix the quote, "
        "or leave out --strict-rows to read them as one row with a warning.\n"
    )


def test_strict_rows_is_refused_for_files_without_quoted_fields(
    analyze: Analyze, tmp_path: Path
) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text('{"text": "좋다"}\n', encoding="utf-8")
    code, _, err = analyze("-i", source, "--strict-rows")
    assert code == 2
    assert err == (
        f"korsent analyze: error: --strict-rows cannot apply to {source}: only CSV and TSV files "
        "have quoted fields that can take in rows; leave it out.\n"
    )


def test_a_carriage_return_header_on_standard_input_is_recognized(
    analyze: Analyze, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.TextIOWrapper(io.BytesIO("id,text\r1,좋다\r2,싫다\r".encode()))
    )
    code, out, err = analyze("-f", "csv")
    assert code == 0 and "read as CSV" in err
    assert [row["text"] for row in csv.DictReader(io.StringIO(out, newline=""))] == ["좋다", "싫다"]


# --- column names with line breaks -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_column_names_with_line_breaks_are_quoted_so_the_output_parses(
    analyze: Analyze, tmp_path: Path, fmt: str
) -> None:
    source = tmp_path / "keys.jsonl"
    rows = [{"a\rb": 1, "c\nd": "x", "e\r\nf": "y", "text": "좋다"}, {"text": "싫다\r끝"}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / f"out.{fmt}"
    code, _, _ = analyze("-i", source, "-o", output)
    assert code == 0
    header, *cells = read_table(output, "," if fmt == "csv" else "\t")
    assert header == ["a\rb", "c\nd", "e\r\nf", "text", *RESULTS]
    assert [row[:4] for row in cells] == [["1", "x", "y", "좋다"], ["", "", "", "싫다\r끝"]]


def output_keys_and_texts(fmt: str, path: Path, out: str) -> tuple[list[str], list[str]]:
    """The column names (field names) and the texts that an output holds, in any format."""
    if fmt in ("csv", "tsv"):
        header, *rows = read_table(path, "," if fmt == "csv" else "\t")
        return header, [row[header.index("text")] for row in rows]
    if fmt == "jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return list(rows[0]), [row["text"] for row in rows]
    if fmt == "parquet":
        table = pytest.importorskip("pyarrow.parquet").read_table(path)
        return table.column_names, table.column("text").to_pylist()
    if fmt == "xlsx":
        header, *rows = (
            pytest.importorskip("python_calamine")
            .CalamineWorkbook.from_path(str(path))
            .get_sheet_by_index(0)
            .to_python()
        )
        return header, [row[header.index("text")] for row in rows]
    header, _, *lines = out.splitlines()
    return header.split(), lines


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "parquet", "xlsx", "table"])
def test_a_lone_surrogate_in_a_json_key_becomes_a_replacement_character(
    analyze: Analyze, tmp_path: Path, fmt: str
) -> None:
    """As in a value: U+FFFD, in every output format, with every row written (nested keys too;
    two keys that become one name keep both values)."""
    source = tmp_path / "keys.jsonl"
    source.write_text(
        '{"id":1,"text":"좋다","\\ud800key":"v","\\udc00key":"w","m":{"\\udfff":2}}\n'
        '{"id":2,"text":"싫다","\\ud800key":"x"}\n',
        encoding="utf-8",
    )
    output = tmp_path / f"out.{fmt}"
    code, out, err = analyze("-i", source, "-f", fmt, *([] if fmt == "table" else ["-o", output]))
    assert code == 0, err
    keys, texts = output_keys_and_texts(fmt, output, out)
    assert keys[:5] == ["id", "text", "\ufffdkey", "\ufffdkey.1", "m"]
    assert len(texts) == 2 and (fmt == "table" or texts == ["좋다", "싫다"])
    if fmt == "jsonl":
        first = json.loads(output.read_text(encoding="utf-8").splitlines()[0])
        assert first["\ufffdkey"] == "v" and first["\ufffdkey.1"] == "w"
        assert first["m"] == {"\ufffd": 2}


# --- repeated and empty column names -----------------------------------------------------------


def test_repeated_column_names_keep_every_column_with_pandas_names_and_a_note(
    analyze: Analyze, tmp_path: Path
) -> None:
    source = tmp_path / "dup.csv"
    source.write_text("text,text,note,\n좋아요,별로,메모,끝\n", encoding="utf-8")
    code, _, err = analyze("-i", source, "-o", tmp_path / "out.csv")
    assert code == 0
    header, row = read_table(tmp_path / "out.csv")
    assert header == ["text", "text.1", "note", "Unnamed: 3", *RESULTS]
    assert row[:4] == ["좋아요", "별로", "메모", "끝"]
    assert "column 2 'text' is 'text.1'" in err and "column 4 '' is 'Unnamed: 3'" in err
    # The text analyzed is the first 'text'; --text-column picks the other by its new name.
    code, _, _ = analyze("-i", source, "-o", tmp_path / "other.csv", "--text-column", "text.1")
    first, second = read_table(tmp_path / "out.csv")[1], read_table(tmp_path / "other.csv")[1]
    assert code == 0 and first[4:] != second[4:]


@pytest.mark.parametrize(
    "header",
    ["a,a,a", "a,a,a.1", "a,a.1,a", ",,x", "text,text.1,text,text.1", "b,,b, "],
)
def test_names_are_made_unique_as_pandas_makes_them(header: str) -> None:
    pandas = pytest.importorskip("pandas")
    names = header.split(",")
    frame = pandas.read_csv(io.StringIO(header + "\n" + ",".join("1" * len(names)) + "\n"))
    assert pandas_names(names) == list(frame.columns)


def test_names_are_unique_where_pandas_would_repeat_one() -> None:
    """pandas names empty columns after making names unique, so 'Unnamed: 1' can come twice."""
    assert pandas_names(["b", "", "Unnamed: 1"]) == ["b", "Unnamed: 1", "Unnamed: 1.1"]


# --- control characters in -f table ------------------------------------------------------------


def test_table_output_escapes_control_characters_as_json_does(
    analyze: Analyze, tmp_path: Path
) -> None:
    source = tmp_path / "esc.jsonl"
    rows = [
        {"\x1b[31mcol": "\x1b[2J지움", "text": "제목\x1b]0;pwned\x07 바꿈"},
        {"\x1b[31mcol": "\x9b31m빨강\x7f", "text": "벨\x07소리\x00널"},
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, out, _ = analyze("-i", source, "-f", "table")
    assert code == 0
    assert not [char for char in out if unicodedata.category(char) == "Cc" and char != "\n"]
    assert "\\u001b[31mcol" in out.splitlines()[0]
    assert "제목\\u001b]0;pwned\\u0007 바꿈" in out and "\\u009b31m빨강\\u007f" in out
    assert len(out.splitlines()) == 2 + len(rows)


# --- formulas in spreadsheet output ------------------------------------------------------------

FORMULAS = [
    {"=cmd": "@SUM(A1)", "text": '=HYPERLINK("http://evil.example","클릭")'},
    {"=cmd": "-3", "text": "+1+1"},
    {"=cmd": "\t탭", "text": "-2+3+cmd|' /C calc'!A0"},
    {"=cmd": "\r캐리지", "text": "평범한 리뷰 = 좋다"},
    {"=cmd": "+1.5e3", "text": "@멘션"},
]


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_escape_formulas_neutralises_every_cell_a_spreadsheet_would_run(
    analyze: Analyze, tmp_path: Path, fmt: str
) -> None:
    source = tmp_path / "formulas.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in FORMULAS), encoding="utf-8")
    delimiter = "," if fmt == "csv" else "\t"
    code, _, _ = analyze("-i", source, "-o", tmp_path / f"plain.{fmt}")
    assert code == 0  # without the option, cells are written as they are
    header, *plain = read_table(tmp_path / f"plain.{fmt}", delimiter)
    assert header[:2] == ["=cmd", "text"] and [row[1] for row in plain] == [
        row["text"] for row in FORMULAS
    ]
    code, _, _ = analyze("-i", source, "-o", tmp_path / f"safe.{fmt}", "--escape-formulas")
    assert code == 0
    header, *safe = read_table(tmp_path / f"safe.{fmt}", delimiter)
    assert header == ["'=cmd", "text", *RESULTS]
    assert [row[:2] for row in safe] == [
        ["'@SUM(A1)", '\'=HYPERLINK("http://evil.example","클릭")'],
        ["-3", "'+1+1"],  # a number is a value, not a formula
        ["'\t탭", "'-2+3+cmd|' /C calc'!A0"],
        ["'\r캐리지", "평범한 리뷰 = 좋다"],
        ["+1.5e3", "'@멘션"],
    ]
    assert [row[2:] for row in safe] == [row[2:] for row in plain]  # the results are unchanged


@pytest.mark.parametrize("fmt", ["jsonl", "table", "parquet"])
def test_escape_formulas_outside_spreadsheet_output_is_refused(
    analyze: Analyze, tmp_path: Path, fmt: str
) -> None:
    output = tmp_path / f"out.{fmt}"
    code, out, err = analyze("좋다", "-f", fmt, "-o", output, "--escape-formulas")
    assert code == 2 and out == "" and not output.exists()
    assert "--escape-formulas applies to CSV and TSV output" in err


# --- seeded fuzz: a few hundred malformed files ------------------------------------------------

FUZZ_SEED = 17
FUZZ_FILES = 240
WORDS = ["좋아요", "별로", "최고의 영화", "돈이 아깝다", "ok", "a b", " ", "=1+1", "@x", "-2", "é"]
ODD = ["😀", "\x1b[2J", "\x07", "\x00", "\u2028", "\ud7a3", "\x9b"]
DAMAGE = "\ue000"
"""Stands for bytes that are no UTF-8 (or CP949 bytes in a UTF-8 file) in the encoded file."""


class FuzzFile:
    """A generated file: its bytes, its format, and what reading it must give.

    ``rows`` is the number of data rows known by construction; ``texts`` their text values where
    they must come out unchanged (None where a repair may change them); ``skipped`` the lines the
    command must report as skipped; ``must_succeed`` whether exit code 2 would be wrong;
    ``stray`` the index of the row with a stray quote (after which rows may be merged).
    """

    def __init__(self, fmt: str, options: list[str]) -> None:
        self.fmt = fmt
        self.options = options
        self.content = ""
        self.data = b""
        self.rows = 0
        self.texts: list[str | None] = []
        self.skipped = 0
        self.must_succeed = True
        self.header: list[str] | None = None
        self.stray: int | None = None

    def encode(self, rng: random.Random) -> None:
        """Encode the content, in an encoding Korean offices use, and damage it where marked."""
        encoding = rng.choice(["utf-8", "utf-8", "utf-8-sig", "cp949", "utf-16"])
        if DAMAGE in self.content:
            encoding = rng.choice(["utf-8", "utf-8-sig"])
        try:
            self.data = self.content.encode(encoding)
        except UnicodeEncodeError:
            self.data = self.content.encode("utf-8")
        bad = [b"\xff", b"\xed\x95", b"\xc3", b"\x80\x80", "가나다".encode("cp949")]
        for _ in range(self.content.count(DAMAGE)):
            self.data = self.data.replace(DAMAGE.encode(), rng.choice(bad), 1)
        if DAMAGE in self.content or "\x00" in self.content:
            self.must_succeed = False  # the encoding may be refused (exit 2, a message)
        if encoding == "cp949" and "\ud7a3" in self.content:
            self.must_succeed = False  # a rare syllable may not pass for CP949 (Shift-JIS?)


def fuzz_value(rng: random.Random, *, breaks: bool, damage: bool, odd: bool) -> str:
    parts = rng.choices(WORDS, k=rng.randint(0, 3))
    if odd and rng.random() < 0.3:
        parts.insert(rng.randint(0, len(parts)), rng.choice(ODD))
    if breaks and rng.random() < 0.3:
        parts.insert(rng.randint(0, len(parts)), rng.choice(["\n", "\r", "\r\n"]))
    if damage:
        parts[rng.randint(0, len(parts)) : 0] = ["좋", DAMAGE, "아"]
    return "".join(parts)


def fuzz_table(rng: random.Random, fmt: str) -> FuzzFile:
    """CSV/TSV with quotes everywhere (one left open, which a quote in a later row may close:
    the lines between are one quoted field), repeated and empty names, ragged rows, CR, LF, CRLF
    and mixed line ends, blank lines."""
    delimiter = "," if fmt == "csv" else "\t"
    quoting = rng.random() < 0.8
    file = FuzzFile(fmt, [] if quoting else ["--no-quoting"])
    names = rng.choices(["text", "id", "note", "", "별점", "a,b", 'say "hi"'], k=rng.randint(1, 4))
    if rng.random() < 0.9 and "text" not in names:
        names.insert(rng.randint(0, len(names)), "text")
    if not quoting:
        names = [name.replace(delimiter, "") for name in names]
    if names == [""]:
        names.append("note")  # a header line, not a blank line
    ends = rng.choice(["\n", "\r\n", "\r", "mixed"])
    ragged = ends != "mixed"  # after a LF header, a lone CR splits only rows of the right width

    def field(value: str) -> str:
        special = delimiter in value or "\n" in value or "\r" in value or value.startswith('"')
        if quoting and (special or rng.random() < 0.2):
            return '"' + value.replace('"', '""') + '"'
        return value

    def end() -> str:
        return rng.choice(["\n", "\r\n", "\r"]) if ends == "mixed" else ends

    lines = [delimiter.join(map(field, names)) + ("\r\n" if ends == "mixed" else ends)]
    text_index = names.index("text") if "text" in names else None
    count = rng.randint(0, 7)
    # A quote that opens a field and never closes, in any row: the rows after it hold no quote.
    stray_at = rng.randrange(count) if quoting and count and rng.random() < 0.3 else count
    with_text = False
    stray_column = 0
    for number in range(count):
        # After a stray quote rows have the header's width: a field that takes in ragged rows
        # is a multi-line field as far as anyone can tell.
        odd_width = ragged and number <= stray_at and rng.random() < 0.15
        width = len(names) + (rng.choice([-1, 1]) if odd_width else 0)
        damage = rng.random() < 0.05
        breaks = quoting and width == len(names) and number < stray_at
        values = [
            fuzz_value(rng, breaks=breaks, damage=damage, odd=True) for _ in range(max(width, 1))
        ]
        if number < stray_at and quoting:  # quotes inside fields are text
            values = [v if '"' in v else v[:1] + '"' * (rng.random() < 0.2) + v[1:] for v in values]
            line = delimiter.join(map(field, values)) or '""'  # a blank line is no row
        else:
            values = [v.replace(delimiter, " ").replace('"', "") or "x" for v in values]
            if not quoting:
                values = [value + '"' * rng.randint(0, 2) for value in values]  # quotes are text
            fields = list(values)
            if number == stray_at:
                stray_column = at = rng.randrange(len(values))
                fields[at] = values[at] = '"' + values[at]
            elif number > stray_at and rng.random() < 0.4:  # a quote that closes the stray one
                # In the stray's column the rows between are one field with the header's width.
                at = stray_column if rng.random() < 0.6 else rng.randrange(len(values))
                if rng.random() < 0.5:
                    fields[at] = '"' + values[at] + '"'  # a quoted field: read as the value
                else:  # a quote inside a field, as a character (not where a field could close)
                    fields[at] = values[at] = values[at][:1] + '"' + (values[at][1:] or "x")
            line = delimiter.join(fields)
        lines.append(line + (end() if number < count - 1 or rng.random() < 0.7 else ""))
        if ragged and rng.random() < 0.1:
            lines.append(ends)  # a blank line: no row
        file.rows += 1
        with_text = with_text or (text_index is not None and text_index < len(values))
        exact = width == len(names) and number != stray_at and not damage
        file.texts.append(values[text_index] if exact and text_index is not None else None)
    file.content = "".join(lines)
    file.stray = stray_at if stray_at < count else None
    file.must_succeed = with_text  # else: no row has a text (exit 2)
    file.header = pandas_names([name.strip() for name in names])
    file.encode(rng)
    return file


def fuzz_jsonl(rng: random.Random) -> FuzzFile:
    """JSON Lines with lines that are no JSON object, odd keys, texts of every type."""
    file = FuzzFile("jsonl", [])
    lines = []
    with_text = False
    for _ in range(rng.randint(0, 10)):
        kind = rng.random()
        if kind < 0.2:
            lines.append(rng.choice(["{not json", "[1, 2]", '"text"', "null", "{", "}{", "좋아요"]))
            file.skipped += 1
            continue
        if kind < 0.3:
            lines.append(rng.choice(["", "  "]))  # blank: no row, no warning
            continue
        row: dict[str, Any] = {"id": rng.randint(0, 9)}
        text = rng.choice(["value", "value", "value", None, 5, ["a"], "missing"])
        value = fuzz_value(rng, breaks=True, damage=rng.random() < 0.05, odd=True)
        if text != "missing":
            row["text"] = value if text == "value" else text
        if rng.random() < 0.3:
            row[rng.choice(["a\rb", "c\nd", "=HYPERLINK(1)", "\x1b[31m", "", "text "])] = value
        line = json.dumps(row, ensure_ascii=rng.random() < 0.3)
        if rng.random() < 0.1:
            line = line.replace("}", ', "u": "\\ud800"}', 1)  # a lone surrogate
        lines.append(line)
        file.rows += 1
        with_text = with_text or isinstance(row.get("text"), str)
        damaged = DAMAGE in line or "\\ue000" in line
        file.texts.append(row["text"] if text == "value" and not damaged else None)
    file.content = "".join(line + rng.choice(["\n", "\r\n"]) for line in lines)
    file.must_succeed = with_text
    file.encode(rng)
    return file


def fuzz_text(rng: random.Random) -> FuzzFile:
    """Plain text, one document per line (a line ends at a line feed; a lone CR is text)."""
    file = FuzzFile("text", [])
    lines = [
        fuzz_value(rng, breaks=False, damage=rng.random() < 0.05, odd=True)
        + rng.choice(["", "\r끝"])
        for _ in range(rng.randint(0, 8))
    ]
    file.content = "".join(line + rng.choice(["\n", "\r\n"]) for line in lines)
    if lines and lines[-1] and rng.random() < 0.3:
        file.content = file.content.rstrip("\r\n")  # no line end at the end
    file.rows = len(lines)
    file.texts = [None if DAMAGE in line else line for line in lines]
    file.must_succeed = bool(lines)
    file.encode(rng)
    return file


def fuzz_bytes(rng: random.Random) -> FuzzFile:
    """Random bytes, mostly ASCII punctuation and line ends, with some that are no text."""
    file = FuzzFile(rng.choice(["csv", "tsv", "jsonl", "text"]), [])
    alphabet = b'ab,\t"\r\n {}:' + bytes([0, 0x80, 0xC3, 0xEA, 0xFF])
    file.data = bytes(rng.choices(alphabet, k=rng.randint(0, 120)))
    file.must_succeed = False
    file.rows = -1  # unknown: only the invariants are checked
    return file


def fuzz_files() -> list[FuzzFile]:
    rng = random.Random(FUZZ_SEED)
    makers = [
        lambda: fuzz_table(rng, "csv"),
        lambda: fuzz_table(rng, "tsv"),
        lambda: fuzz_jsonl(rng),
        lambda: fuzz_text(rng),
        lambda: fuzz_bytes(rng),
    ]
    return [rng.choice(makers)() for _ in range(FUZZ_FILES)]


def output_rows(fmt: str, path: Path, out: str) -> tuple[list[str] | None, list[Any]]:
    """The header (CSV/TSV) and the rows of an output, each checked to be well formed."""
    if fmt in ("csv", "tsv"):
        header, *rows = read_table(path, "," if fmt == "csv" else "\t")
        assert all(len(row) == len(header) for row in rows)
        return header, rows
    if fmt == "jsonl":
        text = path.read_text(encoding="utf-8")
        return None, [json.loads(line) for line in text.split("\n")[:-1]]
    assert not [char for char in out if unicodedata.category(char) == "Cc" and char != "\n"]
    return None, out.split("\n")[2:-1]


def test_malformed_files_exit_0_or_2_with_one_output_row_per_data_row(
    analyze: Analyze, tmp_path: Path
) -> None:
    """The command never ends in a traceback, never changes its input, and on exit 0 writes one
    output row per data row, or says why not (skipped JSON lines, lines read as one row after a
    stray quote), in output that parses again."""
    rng = random.Random(FUZZ_SEED)
    exits = []
    merges = 0
    for index, file in enumerate(fuzz_files()):
        suffix = {"text": "txt"}.get(file.fmt, file.fmt)
        source = tmp_path / f"{index}.{suffix}"
        source.write_bytes(file.data)
        digest = hashlib.sha256(file.data).hexdigest()
        fmt = rng.choice(["csv", "tsv", "jsonl", "table"])
        output = tmp_path / f"{index}.out.{fmt}"
        options = ["--escape-formulas"] if fmt in ("csv", "tsv") and rng.random() < 0.3 else []
        argv = ["-i", source, "-f", fmt, *options, *file.options]
        argv += [] if fmt == "table" else ["-o", output]
        case = f"file {index} ({file.fmt}, {file.data[:80]!r}...) to {fmt}"
        try:
            code, out, err = analyze(*argv)
        except Exception as err:  # the command let an exception through: a traceback for users
            raise AssertionError(f"{case}: {type(err).__name__}: {err}") from err
        exits.append(code)
        assert hashlib.sha256(source.read_bytes()).hexdigest() == digest, case
        assert "Traceback" not in err, case
        if code == 2:
            assert not file.must_succeed and "korsent analyze: error: " in err, (case, err)
            continue
        assert code == 0, (case, code, err)
        header, rows = output_rows(fmt, output, out)
        merged = sum(int(lines) - 1 for lines in re.findall(MERGED, err))
        merges += bool(merged)
        if file.rows >= 0:
            assert len(rows) + merged == file.rows, (case, err)
        texts = file.texts[: file.stray] if merged else file.texts
        if file.fmt == "jsonl":
            assert err.count("; line skipped.") == file.skipped, (case, err)
        if header is not None and file.header is not None:
            assert header == [escape(name, options) for name in file.header + RESULTS], case
        if fmt != "table" and texts:
            column = header.index(escape("text", options)) if header else "text"
            for row, text in zip(rows, texts):
                if text is not None:
                    assert row[column] == escape(text, options), (case, err)
        if options:
            assert not [cell for row in rows for cell in row if formula(cell)], case
    assert exits.count(0) > FUZZ_FILES // 2  # most files are read, not refused
    assert merges >= 5  # the fuzz has stray quotes that another quote closes


MERGED = r"a quoted field opens here and closes on line \d+: (\d+) lines were read as one row"
"""The warning of a quoted field that took in lines looking like rows, with how many it took."""


def escape(cell: str, options: list[str]) -> str:
    """A cell as --escape-formulas writes it (when given): a ' before a formula's first char."""
    return "'" + cell if options and formula(cell) else cell


def formula(cell: str) -> bool:
    """Whether a spreadsheet would take a cell for a formula: a first character of OWASP's list,
    unless it is a plain number."""
    number = re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", cell)
    return cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not number
