"""The shared reader on real-world files: encodings, malformed CSV/TSV, headerless, labels."""

from __future__ import annotations

import codecs
from itertools import islice
from pathlib import Path

import pytest

from spacy_korsent.files.encoding import SAMPLE_BYTES, decode_lines
from spacy_korsent.files.labelled import (
    LabelledLayout,
    LabelSet,
    infer_names,
    parse_label_map,
    read_labelled,
)
from spacy_korsent.files.readers import InputError, Layout, read_records

ROWS = 'id,text,stars\n1,"연출도 좋고, 음악도 좋았다",5\n2,돈이 아깝다,1\n'
EXPECTED = [
    {"id": "1", "text": "연출도 좋고, 음악도 좋았다", "stars": "5"},
    {"id": "2", "text": "돈이 아깝다", "stars": "1"},
]


def read(path: Path, layout: Layout | None = None) -> tuple[list[dict], list[str]]:
    messages: list[str] = []
    records = read_records(path, layout or Layout(), warn=messages.append, note=messages.append)
    return [record.row for record in records], messages


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded, note",
    [
        (ROWS.encode("utf-8"), None),
        (codecs.BOM_UTF8 + ROWS.encode("utf-8"), None),  # Excel's "CSV UTF-8"
        (ROWS.encode("utf-16"), None),  # Excel's "Unicode text" (with a byte order mark)
        (ROWS.encode("utf-16-be").join([codecs.BOM_UTF16_BE, b""]), None),
        (ROWS.encode("cp949"), "read as CP949"),  # Excel's "CSV" on Korean Windows
        (ROWS.encode("euc-kr"), "read as CP949"),
    ],
)
def test_korean_office_encodings_are_detected(tmp_path: Path, encoded: bytes, note) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(encoded)
    rows, messages = read(path)
    assert rows == EXPECTED
    assert messages == (
        [f"{path}: read as CP949 (EUC-KR); --encoding overrides this."] if note else []
    )


def test_cp949_is_found_after_a_long_ascii_start(tmp_path: Path) -> None:
    ascii_rows = "".join(f"{i},plain ascii text number {i},3\n" for i in range(SAMPLE_BYTES // 20))
    path = tmp_path / "late.csv"
    path.write_bytes(("id,text,stars\n" + ascii_rows + "9999,한국어 리뷰,5\n").encode("cp949"))
    rows, _ = read(path)
    assert rows[-1]["text"] == "한국어 리뷰"


def test_encoding_option_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(ROWS.encode("cp949"))
    rows, messages = read(path, Layout(encoding="cp949"))
    assert rows == EXPECTED and messages == []
    with pytest.raises(InputError, match="--encoding 'klingon' is not an encoding"):
        read(path, Layout(encoding="klingon"))
    with pytest.raises(InputError, match=r"a.csv:2: the file is not UTF-8; name its encoding"):
        read(path, Layout(encoding="utf-8"))  # a wrong encoding is no run over U+FFFD either


@pytest.mark.parametrize(
    "encoded, message",
    [
        ("id,text\n1,café au lait déjà vu\n".encode("latin-1"), "neither UTF-8"),
        ("id,text\n1,좋다\n".encode("utf-16-le"), "UTF-16 without a byte order mark"),
    ],
)
def test_other_encodings_are_refused_not_read_as_garbage(
    tmp_path: Path, encoded: bytes, message: str
) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(encoded)
    with pytest.raises(InputError, match=message) as err:
        read(path)
    assert "--encoding" in str(err.value) and f"{path}:" in str(err.value)


def test_a_few_broken_lines_in_a_utf8_file_are_replaced_and_reported(tmp_path: Path) -> None:
    lines = [f"좋은 리뷰 {i}\n".encode() for i in range(30)]
    lines[11] = "깨진 ".encode() + b"\xff\xfe\n"
    path = tmp_path / "mostly.txt"
    path.write_bytes(b"".join(lines))
    rows, messages = read(path)
    assert len(rows) == 30 and rows[11]["text"] == "깨진 \ufffd\ufffd"
    assert messages == [f"{path}:12: bytes that are not UTF-8 were replaced with U+FFFD."]


def test_decoding_streams_without_reading_the_whole_file() -> None:
    def endless() -> object:
        number = 0
        while True:
            number += 1
            yield f"{number},리뷰 {number}\n".encode("cp949")

    first = list(islice(decode_lines(endless(), "stream"), 3))
    assert first == ["1,리뷰 1\n", "2,리뷰 2\n", "3,리뷰 3\n"]


def test_a_pipe_is_not_held_back_for_a_sample() -> None:
    def slow_pipe() -> object:
        yield "첫 줄 좋다\n".encode()
        raise TimeoutError("the next line has not arrived yet")

    assert next(decode_lines(slow_pipe(), "standard input")) == "첫 줄 좋다\n"


# --- malformed CSV/TSV -----------------------------------------------------------------------


def test_unbalanced_quote_does_not_swallow_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(
        'id,text,stars\n1,"좋네요, 정말",5\n2,"안 닫힌 따옴표,1\n3,정상,4\n4,"여러\n줄 리뷰",2\n'
        '5,"끝까지 안 닫힘,3\n',
        encoding="utf-8",
    )
    rows, messages = read(path)
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert rows[1] == {"id": "2", "text": '"안 닫힌 따옴표', "stars": "1"}
    assert rows[3]["text"] == "여러\n줄 리뷰"  # a real multi-line field stays one field
    assert [message.split(": ")[0] for message in messages] == [f"{path}:3", f"{path}:7"]
    assert all("quote opens a field" in message for message in messages)


def test_stray_carriage_return_and_wrong_field_counts(tmp_path: Path) -> None:
    path = tmp_path / "ragged.tsv"
    path.write_bytes(
        "id\ttext\tstars\n1\t줄\r바꿈\t5\n2\t필드가\t너무\t많다\n3\t모자람\n4\t정상\t1\n".encode()
    )
    records = list(read_records(path, warn=(messages := []).append))
    assert [record.row["id"] for record in records] == ["1", "2", "3", "4"]
    assert records[0].row["text"] == "줄\r바꿈"
    assert messages == [
        f"{path}:2: a carriage return inside an unquoted field was kept as part of the field."
    ]
    assert [record.problem for record in records] == [
        None,
        f"{path}:3: 4 fields where the header has 3",
        f"{path}:4: 2 fields where the header has 3",
        None,
    ]
    assert records[2].row == {"id": "3", "text": "모자람", "stars": None}


# --- labelled files ---------------------------------------------------------------------------


def test_kote_style_headerless_multi_label_file(tmp_path: Path) -> None:
    path = tmp_path / "kote.tsv"
    path.write_text(
        '1\t"인용" 으로 시작하는 댓글\t0,6,10\n2\t따옴표 " 하나\t3\n3\t\t1\n', encoding="utf-8"
    )
    layout = LabelledLayout(
        columns=("id", "text", "labels"),
        label_column="labels",
        quoting=False,
        label_separator=",",
    )
    data = read_labelled(path, layout)
    assert data.texts == ['"인용" 으로 시작하는 댓글', '따옴표 " 하나']
    assert data.labels == [["0", "6", "10"], ["3"]]
    assert data.lines == [1, 2] and data.ids == ["1", "2"]
    assert data.counts == {"rows": 3, "empty": 1, "skipped": 0, "kept": 2}
    assert LabelSet([f"L{i}" for i in range(44)]).encode(data) == [[0, 6, 10], [3]]


def test_labelled_rows_with_problems_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n좋다,1\n너무,많은,필드\n라벨 없음,\n싫다,0\n", encoding="utf-8")
    data = read_labelled(path, warn=(messages := []).append)
    assert data.texts == ["좋다", "싫다"] and data.labels == [["1"], ["0"]]
    assert data.counts == {"rows": 4, "empty": 0, "skipped": 2, "kept": 2}
    assert messages == [
        f"{path}:3: 3 fields where the header has 2; row skipped.",
        f"{path}:4: no label in 'label'; row skipped.",
    ]


def test_unknown_labels_are_all_named_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "stars.csv"
    path.write_text("text,label\n" + "".join(f"리뷰 {s},{s}\n" for s in "15245"), encoding="utf-8")
    data = read_labelled(path)
    sentiment = LabelSet(["negative", "positive"], indices=False)
    with pytest.raises(InputError) as err:
        sentiment.encode(data)
    message = str(err.value)
    assert "'1' (line 2)" in message and "'5' (line 3 and 1 more)" in message
    assert "--label-map" in message
    mapped = LabelSet(
        ["negative", "positive"],
        label_map=parse_label_map("1=negative,2=negative,4=positive,5=positive"),
        indices=False,
    )
    assert mapped.encode_single(data) == [0, 1, 0, 1, 1]


def test_integer_labels_that_are_not_indices_are_refused() -> None:
    assert infer_names(["0", "2", "1"]) == ["LABEL_0", "LABEL_1", "LABEL_2"]
    assert infer_names(["pos", "neg"]) == ["neg", "pos"]
    with pytest.raises(InputError) as err:
        infer_names(["1", "2", "4", "5", "5"])
    message = str(err.value)
    assert "the labels are the integers 1,2,4,5" in message
    assert "--labels negative,positive --label-map 1=negative,2=negative,4=positive,5=positive" in (
        message
    )


@pytest.mark.parametrize("spec", ["1", "1=", "=neg", "1=neg,,2=pos"])
def test_malformed_label_map_is_refused(spec: str) -> None:
    with pytest.raises(InputError, match="VALUE=CLASS"):
        parse_label_map(spec)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "table"])
def test_outputs_keep_every_column_of_the_first_batch(tmp_path: Path, fmt: str) -> None:
    """JSON Lines input rows need not share keys: a column first seen in the second row of the
    first batch is written, not dropped."""
    from spacy_korsent.files.writers import open_writer

    rows = [{"text": "좋다", "sentiment": "positive"}, {"id": 7, "text": "별로", "sentiment": None}]
    messages: list[str] = []
    path = tmp_path / f"out.{fmt}"
    writer = open_writer(
        fmt,
        str(path),
        warn=messages.append,
        text_column="text",
        hidden=set(),
    )
    writer.write(rows)
    writer.write([{"text": "또", "extra": 1}])  # a later batch's new column is reported
    writer.close()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(path).column_names == ["text", "sentiment", "id"]
    else:
        header = path.read_text(encoding="utf-8-sig").splitlines()[0]
        cells = header.split() if fmt == "table" else header.split(",\t"[fmt == "tsv"])
        assert cells == ["text", "sentiment", "id"]
        assert "7" in path.read_text(encoding="utf-8")
    assert (fmt == "table") != any("'extra'" in message for message in messages)
