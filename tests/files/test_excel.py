"""Excel workbooks: read in every command that reads files (sheets, header row or --columns, the
cells' own types), written as real workbooks (Korean text, types, formulas kept as text, Excel's
limits reported), and a clear exit 2 without the ``excel`` extra.

Workbooks are made with XlsxWriter, read back with python-calamine (the libraries) and with the
commands themselves.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import python_calamine
import xlsxwriter
from conftest import TINY_MODEL, Analyze

import spacy_korsent.files.excel as excel
from spacy_korsent.cli import main
from spacy_korsent.files.readers import InputError, Layout, read_records

REVIEWS = [
    ["id", "text", "평점", "작성일", "추천"],
    [101, "연출도 좋고 음악도 좋았다 😀", 5, datetime.date(2024, 3, 5), True],
    [102, "=1+1 돈이 아깝다", 1.5, datetime.datetime(2024, 3, 6, 14, 5), False],
    [103, "그냥 그랬다", None, None, None],  # empty cells
]


def write_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """A workbook with the cells' own types: numbers, dates, booleans, text (never formulas)."""
    book = xlsxwriter.Workbook(str(path))
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif isinstance(value, datetime.date):
                    sheet.write_datetime(r, c, value, day)
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return path


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A cover sheet, the reviews (with an empty row), and a sheet without a header row."""
    reviews = [*REVIEWS[:3], [None] * 5, REVIEWS[3]]
    raw = [[1, "좋았다", 1], [2, "별로", 0]]
    return write_workbook(
        tmp_path / "리뷰.xlsx", {"표지": [["2024년 리뷰"]], "리뷰": reviews, "raw": raw}
    )


def sheet_rows(path: Path, sheet: int = 0) -> list[list[Any]]:
    """What python-calamine reads from a sheet."""
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_index(sheet).to_python()


# --- reading ------------------------------------------------------------------------------------


def test_a_sheet_is_read_by_name_or_number_with_the_cells_types(workbook: Path) -> None:
    by_name = list(read_records(workbook, Layout(sheet="리뷰"), required=("text",)))
    by_number = list(read_records(workbook, Layout(sheet="2")))
    assert by_name == by_number
    assert [record.line for record in by_name] == [2, 3, 5]  # sheet rows; the empty one left out
    assert [record.row for record in by_name] == [dict(zip(REVIEWS[0], row)) for row in REVIEWS[1:]]
    first = by_name[0].row
    assert type(first["id"]) is int and type(first["평점"]) is int  # whole numbers as ints
    assert first["작성일"] == datetime.date(2024, 3, 5) and first["추천"] is True


def test_a_sheet_without_a_header_row_takes_columns(workbook: Path) -> None:
    layout = Layout(columns=("id", "text", "label"), sheet="raw")
    rows = [record.row for record in read_records(workbook, layout, required=("text",))]
    assert rows == [{"id": 1, "text": "좋았다", "label": 1}, {"id": 2, "text": "별로", "label": 0}]


@pytest.mark.parametrize(
    "sheet, message",
    [
        (None, "(sheet '표지'): no column 'text' in the header ['2024년 리뷰']. (For a sheet"),
        ("없음", "has no sheet '없음'; its sheets: '표지', '리뷰', 'raw'"),
        ("4", "has 3 sheet(s) ('표지', '리뷰', 'raw'); --sheet 4 is not one of them"),
    ],
)
def test_a_missing_sheet_or_column_is_an_input_error(
    workbook: Path, sheet: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        list(read_records(workbook, Layout(sheet=sheet), required=("text",)))


def test_analyze_reads_a_sheet_that_used_to_be_refused_as_an_encoding(
    analyze: Analyze, workbook: Path
) -> None:
    code, out, err = analyze("-i", workbook, "--sheet", "리뷰", "-f", "table")
    assert code == 0, err
    assert "연출도 좋고" in out and "2024-03-06 14:05:00" in out
    code, _, err = analyze("-i", workbook)  # the first sheet is the cover
    assert code == 2 and "sheet '표지'" in err and "--sheet" not in err.split("(For")[0]


def test_a_workbook_on_standard_input_is_recognised(
    analyze: Analyze, workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(workbook.read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, err = analyze("--sheet", "리뷰")
    assert code == 0, err
    assert "read as an Excel workbook" in err and out.count('"sentiment":') == 3


@pytest.mark.parametrize(
    "options, message",
    [
        (["--encoding", "cp949"], "--encoding cannot apply to"),
        (["--no-quoting"], "--no-quoting cannot apply to"),
    ],
)
def test_options_a_workbook_cannot_use_exit_2(
    capsys: pytest.CaptureFixture[str], workbook: Path, options: list[str], message: str
) -> None:
    code = main(["analyze", "--sentiment-model", "no-such-model", "-i", str(workbook), *options])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_sheet_on_a_csv_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text("text\n좋다\n", encoding="utf-8")
    code = main(["analyze", "--sentiment-model", "no-model", "-i", str(source), "--sheet", "1"])
    assert code == 2 and "only Excel workbooks (.xlsx) have sheets" in capsys.readouterr().err


def test_convert_and_evaluate_read_labelled_sheets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``korsent train`` reads its files with the same reader and options as these two."""
    labelled = [["문장", "라벨"], ["정말 좋았다", 1], ["최악이다", 0], ["또 보고 싶다", 1]]
    source = write_workbook(tmp_path / "labels.xlsx", {"설명": [["읽지 않음"]], "data": labelled})
    columns = ["--text-column", "문장", "--label-column", "라벨", "--sheet", "data"]
    output = tmp_path / "train.spacy"
    code = main(["convert", str(source), str(output), *columns, "--labels", "sentiment"])
    assert code == 0, capsys.readouterr().err
    assert "3 docs, labels negative, positive" in capsys.readouterr().err
    code = main(["evaluate", str(source), "--model", str(TINY_MODEL), *columns, "--json", "-"])
    out, err = capsys.readouterr()
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["counts"]["kept"] == 3 and metrics["labels"] == ["negative", "positive"]
    assert sum(map(sum, metrics["confusion"])) == 3


# --- writing ------------------------------------------------------------------------------------


def test_analyze_writes_a_workbook_that_reads_back_with_its_types(
    analyze: Analyze, workbook: Path, tmp_path: Path
) -> None:
    output = tmp_path / "결과.xlsx"
    code, out, err = analyze("-i", workbook, "--sheet", "리뷰", "-o", output)
    assert (code, out, err) == (0, "", "")
    header, *rows = sheet_rows(output)
    assert header[:5] == REVIEWS[0] and header[5:7] == ["sentiment", "sentiment_score"]
    assert [row[1] for row in rows] == [review[1] for review in REVIEWS[1:]]  # Korean, emoji
    assert rows[1][1] == "=1+1 돈이 아깝다"  # text, never a formula
    assert rows[0][2:5] == [5.0, datetime.date(2024, 3, 5), True]  # numbers, dates, booleans
    assert rows[1][3] == datetime.datetime(2024, 3, 6, 14, 5)
    assert rows[2][2:5] == ["", "", ""]  # empty cells stay empty
    assert all(row[5] in ("positive", "negative") and 0.5 <= row[6] <= 1 for row in rows)

    again = tmp_path / "again.xlsx"  # the command reads what it wrote
    code, _, err = analyze("-i", output, "-o", again)
    assert code == 0, err
    assert sheet_rows(again) == [header, *rows]


def test_a_cell_longer_than_excel_holds_is_cut_with_a_warning(
    analyze: Analyze, tmp_path: Path
) -> None:
    long = "가" * (excel.MAX_CELL + 10)
    source = tmp_path / "long.jsonl"
    source.write_text(f'{{"text": "{long}"}}\n{{"text": "짧다"}}\n', encoding="utf-8")
    output = tmp_path / "out.xlsx"
    code, _, err = analyze("-i", source, "-o", output)
    assert code == 0
    assert f"row 2, column 'text': {len(long):,} characters, cut to Excel's 32,767" in err
    assert [row[0] for row in sheet_rows(output)[1:]] == ["가" * excel.MAX_CELL, "짧다"]


def test_more_rows_than_a_sheet_holds_end_the_run_with_a_complete_workbook(
    analyze: Analyze, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(excel, "MAX_ROWS", 3)  # a header and two rows
    source = tmp_path / "many.jsonl"
    source.write_text("".join(f'{{"text": "리뷰 {n}"}}\n' for n in range(5)), encoding="utf-8")
    output = tmp_path / "out.xlsx"
    code, _, err = analyze("-i", source, "-o", output, "--batch-size", "2")
    assert code == 2
    assert "an Excel sheet holds 2 rows below its header; the first 2 were written" in err
    assert [row[0] for row in sheet_rows(output)] == ["text", "리뷰 0", "리뷰 1"]


@pytest.mark.parametrize(
    "module, options, message",
    [
        ("python_calamine", ["-i", "{workbook}"], "reading {workbook} needs python-calamine"),
        ("xlsxwriter", ["좋다", "-o", "{output}"], "writing .xlsx needs XlsxWriter"),
    ],
)
def test_without_the_excel_extra_workbooks_exit_2_saying_what_to_install(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    workbook: Path,
    tmp_path: Path,
    module: str,
    options: list[str],
    message: str,
) -> None:
    """One line, before the model loads (it does not exist)."""
    monkeypatch.setitem(sys.modules, module, None)
    output = tmp_path / "out.xlsx"
    names = {"workbook": workbook, "output": output}
    argv = [option.format(**names) for option in options]
    code = main(["analyze", "--sentiment-model", str(tmp_path / "no-model"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert message.format(**names) in err and "pip install 'spacy-korsent[excel]'" in err
    assert not output.exists()


def test_report_reads_the_workbook_analyze_wrote(
    analyze: Analyze, workbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out.xlsx"
    assert analyze("-i", workbook, "--sheet", "리뷰", "-o", output)[0] == 0
    page = tmp_path / "report.html"
    code = main(["report", "-q", "-i", str(output), "-o", str(page), "--date-column", "작성일"])
    assert code == 0, capsys.readouterr().err
    html = page.read_text(encoding="utf-8")
    assert "연출도 좋고" in html and "2024-03" in html


def test_pandas_reads_the_workbook_analyze_wrote_with_the_excel_extra_alone(
    analyze: Analyze, workbook: Path, tmp_path: Path
) -> None:
    """``pd.read_excel(path)`` with no engine reads .xlsx with openpyxl: the extra brings it.
    The values and types are the ones the command wrote (JSON Lines of the same run)."""
    import configparser

    import pandas as pd

    setup = configparser.ConfigParser()
    setup.read(Path(__file__).parents[2] / "setup.cfg", encoding="utf-8")
    extra = setup["options.extras_require"]["excel"].split()
    assert any(requirement.startswith("openpyxl") for requirement in extra), extra

    output, lines = tmp_path / "out.xlsx", tmp_path / "out.jsonl"
    for target in (output, lines):
        assert analyze("-i", workbook, "--sheet", "리뷰", "-o", target)[0] == 0
    frame = pd.read_excel(output)
    rows = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    assert list(frame.columns) == list(rows[0])
    assert frame["id"].tolist() == [101, 102, 103] and frame["id"].dtype == "int64"
    assert frame["text"].tolist() == [review[1] for review in REVIEWS[1:]]
    assert frame["평점"].dtype == "float64" and frame["평점"].tolist()[:2] == [5.0, 1.5]
    dates = [pd.Timestamp(2024, 3, 5), pd.Timestamp(2024, 3, 6, 14, 5)]
    assert frame["작성일"].tolist()[:2] == dates
    assert frame["추천"].tolist()[:2] == [True, False]
    assert frame["sentiment"].tolist() == [row["sentiment"] for row in rows]
    assert frame["sentiment_score"].dtype == "float64"
    assert frame["sentiment_score"].tolist() == pytest.approx([r["sentiment_score"] for r in rows])
