"""The text encoding of ``korsent analyze``'s output: CSV and TSV files open in Excel on Korean
Windows (UTF-8 with a byte order mark by default), CP949 on request with every character it lacks
reported, plain UTF-8 for standard output and JSON Lines. Checked on the bytes written."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from conftest import Analyze

from spacy_korsent.cli import main

REVIEWS = 'id,text\n1,"연출도 좋고, 음악도 좋았다"\n2,돈이 아깝다 😡\n'


@pytest.fixture
def cp949_source(tmp_path: Path) -> Path:
    """What Excel saves as "CSV" on Korean Windows (no emoji: CP949 has none)."""
    source = tmp_path / "엑셀.csv"
    source.write_bytes(REVIEWS.replace(" 😡", "").encode("cp949"))
    return source


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_csv_and_tsv_files_start_with_a_byte_order_mark_by_default(
    analyze: Analyze, cp949_source: Path, tmp_path: Path, fmt: str
) -> None:
    output = tmp_path / f"결과.{fmt}"
    code, _, err = analyze("-i", cp949_source, "-o", output)
    assert code == 0, err
    data = output.read_bytes()
    assert data.startswith(codecs.BOM_UTF8 + b"id")
    assert "연출도 좋고, 음악도 좋았다" in data.decode("utf-8-sig")


def test_standard_output_and_json_lines_are_plain_utf8(
    analyze: Analyze, cp949_source: Path, tmp_path: Path
) -> None:
    code, out, _ = analyze("-i", cp949_source, "-f", "csv")
    assert code == 0 and out.startswith("id,text,sentiment")
    output = tmp_path / "out.jsonl"
    assert analyze("-i", cp949_source, "-o", output)[0] == 0
    assert output.read_bytes().startswith(b'{"id": "1", "text": "\xec\x97\xb0')


def test_utf8_without_a_mark_on_request(analyze: Analyze, tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    assert analyze("좋다", "-o", output, "--output-encoding", "utf-8")[0] == 0
    assert output.read_bytes().startswith(b"text,sentiment")


def test_cp949_output_decodes_and_reports_each_character_it_lacks(
    analyze: Analyze, tmp_path: Path
) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text(REVIEWS, encoding="utf-8")
    output = tmp_path / "out.csv"
    code, _, err = analyze("-i", source, "-o", output, "--output-encoding", "cp949")
    assert code == 0
    text = output.read_bytes().decode("cp949")  # strict: every byte is CP949
    assert "연출도 좋고, 음악도 좋았다" in text and "돈이 아깝다 ?" in text
    assert f"{output}: row 3 (the header is row 1), column 'text': 😡 cannot be written" in err
    assert err.count("warning") == 1


@pytest.mark.parametrize(
    "options, message",
    [
        (["-o", "{tmp}/out.jsonl", "--output-encoding", "cp949"], "JSON Lines is UTF-8"),
        (["-o", "{tmp}/out.parquet", "--output-encoding", "utf-8"], "does not apply to parquet"),
        (["-o", "{tmp}/out.xlsx", "--output-encoding", "utf-8-sig"], "does not apply to xlsx"),
        (["-o", "{tmp}/out.xls"], "'.xls' is no format that korsent writes"),
        (["-o", "{tmp}/out.txt"], "'.txt' is no format that korsent writes"),
        (["-o", "{tmp}/out"], "no suffix that korsent writes"),
        (["-o", "{tmp}/out.xlsx", "--escape-formulas"], "not needed for .xlsx"),
    ],
)
def test_outputs_the_command_cannot_write_exit_2_before_the_model_loads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, options: list[str], message: str
) -> None:
    argv = [option.format(tmp=tmp_path) for option in options]
    code = main(["analyze", "--sentiment-model", str(tmp_path / "no-model"), "좋다", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []
