"""Parquet output with native types: input columns keep theirs (``평점 == 1`` matches), the
results have the Arrow types the Ray integration writes (lists, structs), and a column whose
values change kind is widened without losing or changing a value."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import TINY_MODEL, Analyze

from spacy_korsent.cli import main
from spacy_korsent.files.parquet import ParquetWriter, read_parquet_records

ROWS = [
    {"id": 1, "text": "정말 좋았다", "평점": 5, "가중치": 0.5, "추천": True, "태그": ["액션"]},
    {"id": 2, "text": "별로였다", "평점": 1, "가중치": 1.25, "추천": False, "태그": []},
    {"id": 3, "text": "그냥", "평점": None, "가중치": None, "추천": None, "태그": None},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_input_columns_keep_their_types(analyze: Analyze, tmp_path: Path) -> None:
    output = tmp_path / "out.parquet"
    code, _, err = analyze("-i", write_jsonl(tmp_path / "in.jsonl", ROWS), "-o", output)
    assert code == 0, err
    table = pq.read_table(output)
    types = dict(zip(table.column_names, table.schema.types))
    assert types["id"] == types["평점"] == pa.int64()
    assert types["가중치"] == pa.float64() and types["추천"] == pa.bool_()
    assert types["태그"] == pa.list_(pa.string())
    assert types["sentiment"] == pa.string() and types["sentiment_score"] == pa.float64()
    assert table.filter(pc.field("평점") == 1).column("text").to_pylist() == ["별로였다"]
    assert table.select(list(ROWS[0])).to_pylist() == ROWS


def test_parquet_and_workbook_input_keeps_dates_and_numbers(
    analyze: Analyze, tmp_path: Path
) -> None:
    source = tmp_path / "in.parquet"
    dates = [datetime.date(2024, 3, 5), datetime.date(2024, 3, 6), None]
    pq.write_table(pa.Table.from_pylist([{**r, "작성일": d} for r, d in zip(ROWS, dates)]), source)
    output = tmp_path / "out.parquet"
    assert analyze("-i", source, "-o", output)[0] == 0
    schema = pq.read_schema(output)
    assert schema.field("작성일").type == pa.date32() and schema.field("평점").type == pa.int64()
    assert pq.read_table(output).column("작성일").to_pylist() == dates


def test_results_have_the_arrow_types_of_the_ray_integration(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    emotion_model_dir: Path,
) -> None:
    """Both engines write through this writer, with ResultFields.arrow_types(): the types that
    integrations/ray.py gives the datasets it returns."""
    import spacy_korsent.cli.analysis as analysis_steps
    from spacy_korsent.files.fields import ResultFields

    built: list[Any] = []
    build = analysis_steps.build_pipeline
    monkeypatch.setattr(
        analysis_steps, "build_pipeline", lambda *a, **k: built.append(build(*a, **k)) or built[0]
    )
    output = tmp_path / "out.parquet"
    models = ["--sentiment-model", str(TINY_MODEL), "--emotion-model", str(emotion_model_dir)]
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    argv = ["analyze", "-q", "-t", "both", *models, "--sentences", "-i", str(source)]
    assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    schema = pq.read_schema(output)
    assert schema.field("emotion_labels").type == pa.list_(pa.string())
    top = schema.field("emotions_top").type
    assert pa.types.is_list(top) and pa.types.is_struct(top.value_type)
    assert [top.value_type.field(i).name for i in range(4)] == ["label", "gloss", "group", "score"]
    for name, kind in ResultFields(built[0]).arrow_types().items():
        assert schema.field(name).type == kind, name
    first = pq.read_table(output).to_pylist()[0]
    assert isinstance(first["sentences"], list) and first["sentences"][0]["text"]


def written(tmp_path: Path, batches: list[list[dict]]) -> tuple[pa.Table, list[str]]:
    """What the writer makes of the batches (no result columns), and its warnings."""
    path = tmp_path / "out.parquet"
    messages: list[str] = []
    writer = ParquetWriter(str(path), messages.append, dict)
    for batch in batches:
        writer.write(batch)
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]  # no widening file left
    return pq.read_table(path), messages


@pytest.mark.parametrize(
    "values, kind",
    [
        ([[1, 2], [2.5]], pa.float64()),  # ints, then a fraction
        ([[None, None], [3]], pa.int64()),  # nothing, then ints
        (
            [[datetime.date(2024, 1, 2)], [datetime.datetime(2024, 1, 3, 4, 5)]],
            pa.timestamp("us"),  # Excel gives a date for a midnight, a datetime otherwise
        ),
    ],
)
def test_a_column_is_widened_without_a_warning_where_nothing_changes(
    tmp_path: Path, values: list[list[Any]], kind: pa.DataType
) -> None:
    table, messages = written(tmp_path, [[{"v": v} for v in batch] for batch in values])
    assert table.schema.field("v").type == kind and messages == []
    flat = [v for batch in values for v in batch]
    got = table.column("v").to_pylist()
    if kind == pa.timestamp("us"):
        flat = [datetime.datetime.combine(flat[0], datetime.time()), flat[1]]
    assert got == flat and table.num_rows == len(flat)


@pytest.mark.parametrize(
    "values, text",
    [
        ([[1, 2], ["없음"]], ["1", "2", "없음"]),
        ([[True], [1]], ["true", "1"]),  # a bool is no number
        ([[{"a": 1}], [{"a": 2, "b": "x"}]], ['{"a": 1}', '{"a": 2, "b": "x"}']),  # no key lost
    ],
)
def test_values_of_another_kind_turn_the_column_into_text_with_a_warning(
    tmp_path: Path, values: list[list[Any]], text: list[str]
) -> None:
    table, messages = written(tmp_path, [[{"v": v, "n": 0} for v in batch] for batch in values])
    assert table.schema.field("v").type == pa.string()
    assert table.column("v").to_pylist() == text
    assert table.column("n").to_pylist() == [0] * len(text)
    assert len(messages) == 1 and "column 'v' holds" in messages[0]
    assert f"rows {len(values[0]) + 1} to {len(text)}" in messages[0]


def test_the_reader_reads_only_the_columns_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS * 1500), path)
    records = list(read_parquet_records(path, text_column="text", columns=["평점", "text"]))
    assert [record.line for record in records[-2:]] == [4499, 4500]
    assert records[0].row == {"text": "정말 좋았다", "평점": 5}  # in the file's order
