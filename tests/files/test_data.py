"""Reading NSMC and CSV/TSV/JSONL/text files: cleaning counts, columns, bad bytes and lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from spacy_korsent.files.labelled import read_nsmc
from spacy_korsent.files.readers import InputError, read_rows

SYNTHETIC_NSMC = (
    "id\tdocument\tlabel\n"
    "1\t좋아요\t1\n"
    "2\t\t0\n"  # empty: dropped
    "3\t별로예요\t0\n"
    "4\t좋아요\t1\n"  # duplicate, same label: dropped
    "5\t별로예요\t1\n"  # duplicate, conflicting label: dropped, the first (0) is kept
    "6\t\t1\n"  # empty
    "7\t최고\t1\n"
    "8\t좋아요\t0\n"  # duplicate, conflicting
)


def test_nsmc_cleaning_counts(tmp_path: Path) -> None:
    path = tmp_path / "nsmc.txt"
    path.write_text(SYNTHETIC_NSMC, encoding="utf-8")
    data = read_nsmc(path)
    assert data.counts == {
        "rows": 8,
        "empty": 2,
        "skipped": 0,
        "duplicates": 3,
        "conflicting": 2,
        "kept": 3,
    }
    assert data.texts == ["좋아요", "별로예요", "최고"]
    assert data.labels == [1, 0, 1]
    assert data.ids == ["1", "3", "7"]


def test_nsmc_fixture_counts() -> None:
    data = read_nsmc(FIXTURES / "nsmc_test_2000.txt")
    assert data.counts == {
        "rows": 2000,
        "empty": 0,
        "skipped": 0,
        "duplicates": 7,
        "conflicting": 0,
        "kept": 1993,
    }
    assert len(set(data.texts)) == 1993


@pytest.mark.parametrize(
    "content, message",
    [
        ("id\ttext\tlabel\n1\t좋다\t1\n", r"no column 'document' in the header"),
        ("id\tdocument\tlabel\n1\t좋다\t5\n", r"not one of the classes .*: '5' \(line 2\)"),
        ("id\tdocument\tlabel\n", r"no rows below the header"),
        ("", r"the file is empty; a header line is needed"),
    ],
)
def test_nsmc_refuses_unusable_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "nsmc.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_nsmc(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*nope.txt: No such file"):
        list(read_rows(tmp_path / "nope.txt"))


def test_formats_from_the_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('id,text\n1,"좋다, 정말"\n2,싫다\n', encoding="utf-8")
    (tmp_path / "a.tsv").write_text("id\ttext\n1\t좋다, 정말\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text('{"id": 1, "text": "좋다"}\n\n{"id": 2}\n', encoding="utf-8")
    (tmp_path / "a.txt").write_text("첫 줄\r\n둘째 줄\n\n", encoding="utf-8")
    assert list(read_rows(tmp_path / "a.csv")) == [
        {"id": "1", "text": "좋다, 정말"},
        {"id": "2", "text": "싫다"},
    ]
    assert list(read_rows(tmp_path / "a.tsv")) == [{"id": "1", "text": "좋다, 정말"}]
    assert list(read_rows(tmp_path / "a.jsonl")) == [{"id": 1, "text": "좋다"}, {"id": 2}]
    assert list(read_rows(tmp_path / "a.txt", text_column="t")) == [
        {"t": "첫 줄"},
        {"t": "둘째 줄"},
        {"t": ""},
    ]


def test_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftext,id\n좋다,1\n".encode())
    assert list(read_rows(path, required=("text",))) == [{"text": "좋다", "id": "1"}]


def test_bad_json_lines_raise_or_are_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"text": "a"}\n{"text": \n[1, 2]\n{"id": 3}\n{"text": "b"}\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"rows.jsonl:2: not valid JSON"):
        list(read_rows(path))
    warnings: list[str] = []
    rows = list(read_rows(path, required=("text",), warn=warnings.append))
    assert rows == [{"text": "a"}, {"text": "b"}]
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "not valid JSON (Expecting value); line skipped.",
        "each line must be a JSON object; line skipped.",
        "no field 'text'; line skipped.",
    ]
    assert [w.split(": ", 1)[0] for w in warnings] == [f"{path}:{n}" for n in (2, 3, 4)]


def test_missing_csv_column_names_the_header(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,body\n1,좋다\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no column 'text' in the header \['id', 'body'\]"):
        next(read_rows(path, required=("text",)))
