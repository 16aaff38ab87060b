"""``korsent analyze``: inputs, outputs, columns kept, bad input, streaming, exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from spacy_korsent.cli import main
from spacy_korsent.files.writers import display_width

TEXTS = ["정말 재밌어요. 또 볼래요!", "별로였다", ""]


@pytest.fixture(scope="module")
def library(sentiment_model_dir: Path, emotion_model_dir: Path) -> Any:
    """The library's own pipeline, to hold the command line's results against."""
    from spacy_korsent import blank_korean

    nlp = blank_korean()
    nlp.add_pipe("sentencizer")
    for factory, model in (
        ("korean_sentiment", sentiment_model_dir),
        ("korean_emotion", emotion_model_dir),
    ):
        nlp.add_pipe(factory, config={"model": str(model), "sentences": True})
    return nlp


@pytest.fixture
def models(sentiment_model_dir: Path, emotion_model_dir: Path) -> list[str]:
    return [
        "--sentiment-model",
        str(sentiment_model_dir),
        "--emotion-model",
        str(emotion_model_dir),
    ]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["analyze", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def stdin_bytes(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_texts_as_arguments_give_the_library_results(capsys, models, library) -> None:
    code, out, err = run(capsys, *models, *TEXTS)
    assert (code, err) == (0, "")
    rows = jsonl(out)
    assert [row["text"] for row in rows] == TEXTS
    for row, doc in zip(rows, library.pipe(TEXTS)):
        expected = doc._.sentiment
        assert row["sentiment"] == expected["label"]
        assert row["sentiment_score"] == expected["score"]
        assert row["sentiment_negative"] == expected["scores"].get("negative")
        assert row["sentiment_positive"] == expected["scores"].get("positive")
        assert "emotion" not in row
    assert rows[2]["sentiment"] is None and rows[2]["sentiment_score"] is None


@pytest.mark.skipif(not find_spec("onnxruntime"), reason="needs onnxruntime (the onnx extra)")
def test_backend_chooses_what_runs_the_models(capsys, models) -> None:
    _, exact, _ = run(capsys, *models, *TEXTS)
    code, out, err = run(capsys, *models, "--backend", "onnx-int8", *TEXTS)
    assert (code, err) == (0, "")
    fast, exact_rows = jsonl(out), jsonl(exact)
    assert [row["sentiment"] for row in fast] == [row["sentiment"] for row in exact_rows]
    scores = [(a["sentiment_score"], b["sentiment_score"]) for a, b in zip(fast, exact_rows)][:2]
    assert all(abs(a - b) < 0.05 for a, b in scores)
    assert any(a != b for a, b in scores)  # int8 weights: close to torch's, not the same numbers
    code, _, err = run(capsys, *models, "--backend", "torch-float16", "좋다")
    assert code == 2 and len(err.splitlines()) == 1
    assert "torch-float16" in err and "CUDA" in err
    code, _, err = run(capsys, *models, "--backend", "onnx-int8", "--device", "cuda", "좋다")
    assert code == 2 and "runs on the CPU: leave the device out" in err


def test_a_backend_without_its_extra_is_one_line_naming_it(capsys, models, monkeypatch) -> None:
    for module in ("onnx", "onnxruntime"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    code, _, err = run(capsys, *models, "--backend", "onnx-int8", "좋다")
    assert code == 2 and len(err.splitlines()) == 1
    assert 'pip install "spacy-korsent[onnx]"' in err


def test_both_tasks_and_sentences(capsys, models, library) -> None:
    code, out, _ = run(
        capsys, *models, "--task", "both", "--sentences", "--batch-size", "2", *TEXTS
    )
    assert code == 0
    rows = jsonl(out)
    for row, doc in zip(rows, library.pipe(TEXTS)):
        emotions = doc._.emotions
        assert row["emotion"] == emotions["label"]
        assert row["emotion_score"] == emotions["score"]
        assert row["emotion_group"] == emotions["group"]
        assert row["emotions_top"] == emotions["top"]
        sents = list(doc.sents) if doc.text else []
        assert [s["text"] for s in row["sentences"]] == [s.text for s in sents]
        for sentence, span in zip(row["sentences"], sents):
            assert (sentence["start"], sentence["end"]) == (span.start_char, span.end_char)
            assert sentence["sentiment"] == span._.sentiment["label"]
            assert sentence["sentiment_score"] == span._.sentiment["score"]
            assert sentence["emotion"] == span._.emotions["label"]
    assert len(rows[0]["sentences"]) == 2
    assert rows[2]["emotion"] is None and rows[2]["emotions_top"] == [] == rows[2]["sentences"]


def test_csv_in_csv_out_keeps_every_column(capsys, models, library, tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text('id,text,stars\n7,"좋네요, 정말",5\n8,,1\n9,최악,1\n', encoding="utf-8")
    target = tmp_path / "out.csv"
    code, out, err = run(
        capsys, *models, "-t", "both", "-i", str(source), "-f", "csv", "-o", str(target)
    )
    assert (code, out, err) == (0, "", "")
    with open(target, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0])[:3] == ["id", "text", "stars"]
    assert [(r["id"], r["text"], r["stars"]) for r in rows] == [
        ("7", "좋네요, 정말", "5"),
        ("8", "", "1"),
        ("9", "최악", "1"),
    ]
    doc = library("좋네요, 정말")
    assert rows[0]["sentiment"] == doc._.sentiment["label"]
    assert float(rows[0]["sentiment_score"]) == doc._.sentiment["score"]
    assert json.loads(rows[0]["emotions_top"]) == doc._.emotions["top"]
    assert rows[1]["sentiment"] == rows[1]["emotion"] == ""


def test_bad_jsonl_rows_are_reported_and_the_rest_kept(capsys, models, tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    lines = [
        '{"id": 1, "text": "좋아요"}',
        '{"id": 2}',
        "{broken",
        '{"id": 3, "text": null, "extra": [1, 2]}',
        '{"id": 4, "text": "싫어요"}',
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, *models, "-i", str(source))
    assert code == 0
    rows = jsonl(out)
    assert [row["id"] for row in rows] == [1, 2, 3, 4]
    assert [row["sentiment"] is None for row in rows] == [False, True, True, False]
    assert rows[2]["extra"] == [1, 2]
    assert err.splitlines() == [
        f"korsent analyze: warning: {source}:3: not valid JSON (Expecting property name "
        "enclosed in double quotes); line skipped.",
        f"korsent analyze: warning: {source}:2: no 'text'; written with empty results.",
        f"korsent analyze: warning: {source}:4: no 'text'; written with empty results.",
    ]


def test_warnings_stop_at_twenty_and_are_counted(capsys, models, monkeypatch) -> None:
    stdin_bytes(monkeypatch, b'{"id": 0}\n' * 25 + '{"text": "좋다"}\n'.encode())
    code, out, err = run(capsys, *models, "--input-format", "jsonl")
    assert code == 0 and len(jsonl(out)) == 26
    lines = err.splitlines()
    assert len(lines) == 21
    assert (
        lines[19]
        == "korsent analyze: warning: standard input:20: no 'text'; written with empty results."
    )
    assert lines[20] == "korsent analyze: 5 more warnings were not shown."


def test_lone_surrogates_from_json_or_arguments_become_replacement_characters(
    capsys, models, tmp_path: Path
) -> None:
    source = tmp_path / "escaped.jsonl"
    # A lone surrogate, a valid escaped pair (an emoji) and a lone one in another field.
    source.write_text(
        '{"text": "좋아 \\ud800 요", "note": ["\\udfff"]}\n{"text": "\\ud83d\\ude00 최고"}\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, *models, "-i", str(source))
    assert code == 0
    rows = jsonl(out)
    assert [row["text"] for row in rows] == ["좋아 \ufffd 요", "\U0001f600 최고"]
    assert rows[0]["note"] == ["\ufffd"]
    assert all(row["sentiment"] in ("negative", "positive") for row in rows)
    code, out, _ = run(capsys, *models, "ab\udcff좋다")  # an undecodable argv byte
    assert code == 0 and jsonl(out)[0]["text"] == "ab\ufffd좋다"


def test_undecodable_stdin_line_is_replaced_and_reported(capsys, models, monkeypatch) -> None:
    stdin_bytes(monkeypatch, "좋다\n".encode() + b"\xffbad\n" + "나쁘다\n".encode())
    code, out, err = run(capsys, *models)
    assert code == 0
    assert [row["text"] for row in jsonl(out)] == ["좋다", "\ufffdbad", "나쁘다"]
    assert err == (
        "korsent analyze: warning: standard input:2: bytes that are not UTF-8 were replaced "
        "with U+FFFD.\n"
    )


def test_table_aligns_hangul_by_display_width(capsys, models) -> None:
    code, out, _ = run(
        capsys, *models, "-f", "table", "--sentences", "짧다", "조금 더 긴 한국어 문장. 둘째 문장."
    )
    assert code == 0
    header, rule, *rows = out.splitlines()
    assert header.split() == ["text", "sentiment", "sentiment_score"]
    assert set(rule) == {"-", " "}
    assert len(rows) == 2 + 3  # two documents, each followed by its sentences
    assert rows[3].lstrip().startswith("└ 조금 더 긴 한국어 문장.")
    column = display_width(header[: header.index("sentiment ")])
    for row in rows:
        label = row.split()[-2]
        assert label in ("positive", "negative")
        assert display_width(row[: row.rindex(label)]) == column


def test_interrupted_run_leaves_complete_batches(capsys, models, monkeypatch) -> None:
    def lines() -> Iterator[bytes]:
        for number in range(1, 6):
            yield f"문장 {number}\n".encode()
        raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=lines(), isatty=lambda: False))
    code, out, err = run(capsys, *models, "--batch-size", "2")
    assert code == 130
    assert [row["text"] for row in jsonl(out)] == ["문장 1", "문장 2", "문장 3", "문장 4"]
    assert err == "korsent analyze: interrupted.\n"


def test_progress_bar_only_on_a_terminal(capsys, models, monkeypatch, tmp_path: Path) -> None:
    source = tmp_path / "lines.txt"
    source.write_text("하나\n둘\n셋\n", encoding="utf-8")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(capsys, *models, "-i", str(source))
    assert code == 0 and "3/3" in err and "doc/s" in err
    code, _, err = run(capsys, *models, "-i", str(source), "--quiet")
    assert (code, err) == (0, "")


@pytest.mark.parametrize(
    "name, content, argv, message",
    [
        ("empty.txt", "", [], "empty.txt: no rows to analyze."),
        ("header.csv", "id,text\n", [], "header.csv: no rows to analyze."),
        ("a.csv", "id,body\n1,좋다\n", [], "a.csv: no column 'text' in the header ['id', 'body']."),
        (
            "a.jsonl",
            '{"body": "좋다"}\n',
            [],
            "no row has a text in the field 'text'; name the text's field with --text-column.",
        ),
        ("a.txt", "좋다\n", ["--max-length", "4096"], "above the model's limit of 512 tokens"),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    capsys, models, tmp_path: Path, name: str, content: str, argv: list[str], message: str
) -> None:
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    code, _, err = run(capsys, *models, "-i", str(source), *argv)
    assert code == 2
    last = err.splitlines()[-1]  # after any warnings
    assert last.startswith("korsent analyze: error: ") and message in last
    assert "Traceback" not in err


def test_missing_model_and_files_exit_2(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--sentiment-model", str(tmp_path / "nope"), "좋다")
    assert code == 2 and "Could not load the model" in err
    assert "--sentiment-model" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "-i", str(tmp_path / "missing.txt"))
    assert code == 2 and "missing.txt: No such file or directory" in err


def test_help_is_fast_and_python_m_works() -> None:
    probe = (
        "import sys\nfrom spacy_korsent.cli import build_parser\nbuild_parser()\n"
        "print(sorted(m for m in ('spacy', 'torch', 'transformers') if m in sys.modules))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert imported.stdout.strip() == "[]"
    usage = subprocess.run(
        [sys.executable, "-m", "spacy_korsent", "--help"], capture_output=True, text=True
    )
    assert usage.returncode == 0
    assert "analyze" in usage.stdout and "evaluate" in usage.stdout


def test_the_local_engine_reads_a_directory_and_parquet_as_the_ray_engine_does(
    capsys, sentiment_model_dir: Path, tmp_path: Path
) -> None:
    """Files by suffix, hidden and ``_`` files left out, in path order; Parquet rows numbered;
    the same rows and warnings as one JSON Lines file with those rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": n, "text": text} for n, text in enumerate(["좋다", "별로", "최고", "싫다"])]
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    whole = tmp_path / "all.jsonl"
    whole.write_text("".join(lines[:2]) + "{broken\n" + "".join(lines[2:]), encoding="utf-8")
    parts = tmp_path / "parts"
    (parts / "sub").mkdir(parents=True)
    (parts / "part-0.jsonl").write_text("".join(lines[:2]) + "{broken\n", encoding="utf-8")
    (parts / "sub" / "part-1.jsonl").write_text("".join(lines[2:]), encoding="utf-8")
    for skipped in ("_SUCCESS", ".part-9.jsonl", "notes.md"):
        (parts / skipped).write_text('{"text": "읽지 마"}\n', encoding="utf-8")
    table = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), table)
    model = ["--sentiment-model", str(sentiment_model_dir)]

    code, expected, err = run(capsys, "-i", str(whole), *model)
    assert code == 0 and f"{whole}:3: not valid JSON" in err
    code, out, err = run(capsys, "-i", str(parts), *model)
    assert code == 0 and jsonl(out) == jsonl(expected)
    assert f"{parts / 'part-0.jsonl'}:3: not valid JSON" in err and "읽지 마" not in out
    code, out, _ = run(capsys, "-i", str(table), *model)
    assert code == 0 and jsonl(out) == jsonl(expected)

    (parts / "extra.csv").write_text("text\n좋다\n", encoding="utf-8")
    code, out, err = run(capsys, "-i", str(parts), *model)
    assert (code, out) == (2, "") and "mixes formats (csv, jsonl)" in err
    code, out, err = run(capsys, "-i", str(table), "--encoding", "cp949", *model)
    assert (code, out) == (2, "") and "--encoding cannot apply" in err
