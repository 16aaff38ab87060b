"""The command line on the files Korean analysts have, run as a user runs it (subprocesses).

Each test reproduces a way the command line used to lose data or answer silently wrong: output
over the input, CP949 exports, a 2 MB line, broken quotes, a file name given as a text, piped CSV,
hub ids without network, saved pipelines passed as models.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES

MODEL = FIXTURES / "nsmc-koelectra-tiny"
REVIEWS = 'id,text,stars\n1,"연출도 좋고, 음악도 좋았다",5\n2,돈이 아깝다,1\n3,,3\n'


def korsent(*argv: object, stdin: bytes | None = None, env: dict | None = None):
    """Run ``python -m spacy_korsent`` as a user would; stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-m", "spacy_korsent", *map(str, argv)],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def text(stream: bytes) -> str:
    return stream.decode("utf-8")


def jsonl(stream: bytes) -> list[dict]:
    return [json.loads(line) for line in text(stream).splitlines()]


@pytest.mark.slow
def test_output_that_is_the_input_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text(REVIEWS, encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(source)
    for output in (source, tmp_path / "link.csv", tmp_path / "." / "reviews.csv"):
        done = korsent("analyze", "--sentiment-model", MODEL, "-i", source, "-o", output)
        assert done.returncode == 2 and done.stdout == b""
        assert "is the input file" in text(done.stderr) and len(done.stderr.splitlines()) == 1
        assert source.read_text(encoding="utf-8") == REVIEWS


@pytest.mark.slow
def test_cp949_excel_export_is_read_and_written_as_csv_by_its_suffix(tmp_path: Path) -> None:
    source = tmp_path / "엑셀.csv"
    source.write_bytes(REVIEWS.encode("cp949"))
    output = tmp_path / "결과.csv"
    done = korsent("analyze", "--sentiment-model", MODEL, "-i", source, "-o", output)
    assert done.returncode == 0, done.stderr
    assert text(done.stderr) == (
        f"korsent analyze: note: {source}: read as CP949 (EUC-KR); --encoding overrides this.\n"
    )
    assert output.read_bytes().startswith(b"\xef\xbb\xbfid,text")  # UTF-8 as Excel reads it
    with open(output, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["text"] for row in rows] == ["연출도 좋고, 음악도 좋았다", "돈이 아깝다", ""]
    assert [row["sentiment"] for row in rows] == ["positive", "negative", ""]


@pytest.mark.slow
def test_a_file_in_no_supported_encoding_exits_2_without_output(tmp_path: Path) -> None:
    source = tmp_path / "latin1.csv"
    source.write_bytes("id,text\n1,café déjà vu\n".encode("latin-1"))
    done = korsent("analyze", "--sentiment-model", MODEL, "-i", source)
    assert (done.returncode, done.stdout) == (2, b"")
    assert text(done.stderr) == (
        f"korsent analyze: error: {source}:2: the file is neither UTF-8, UTF-16 with a byte order "
        "mark, nor CP949/EUC-KR. Save it as UTF-8, or name its encoding with --encoding.\n"
    )


@pytest.mark.slow
def test_a_row_longer_than_spacy_max_length_is_windowed_and_the_run_goes_on(tmp_path: Path) -> None:
    # Over a million characters (3 MB of UTF-8) on one line, between two ordinary reviews. The
    # long words are single [UNK] pieces, which keeps the model's work small for a test.
    huge = " ".join(["정말 재미있는 영화였다"] + ["가" * 999] * 1001)
    source = tmp_path / "huge.txt"
    source.write_text(f"최고의 영화\n{huge}\n최악이다 돈 아까움\n", encoding="utf-8")
    done = korsent("analyze", "--sentiment-model", MODEL, "-i", source)
    assert (done.returncode, done.stderr) == (0, b""), done.stderr[-2000:]
    rows = jsonl(done.stdout)
    assert [row["text"] for row in rows] == ["최고의 영화", huge, "최악이다 돈 아까움"]
    assert all(row["sentiment"] in ("negative", "positive") for row in rows)


@pytest.mark.slow
def test_malformed_csv_rows_are_reported_by_line_and_every_row_is_written(tmp_path: Path) -> None:
    source = tmp_path / "broken.csv"
    source.write_bytes(
        "id,text,stars\n"
        '1,"좋네요, 정말",5\n'
        '2,"따옴표가 안 닫힘,1\n'
        "3,줄\r바꿈,4\n"
        "4,쉼표, 많은 리뷰,2\n"
        "5,짧은 행\n"
        '6,"여러\n줄 리뷰",5\n'
        "7,마지막,3\n".encode()
    )
    done = korsent("analyze", "--sentiment-model", MODEL, "-i", source, "-f", "csv")
    assert done.returncode == 0
    rows = list(csv.DictReader(io.StringIO(text(done.stdout))))
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert [row["text"] for row in rows][1:4] == ['"따옴표가 안 닫힘', "줄\r바꿈", "쉼표"]
    assert rows[5]["text"] == "여러\n줄 리뷰"
    warnings = text(done.stderr).splitlines()
    assert [line.split(": ")[2] for line in warnings] == [f"{source}:{n}" for n in (3, 4, 5, 6)]


@pytest.mark.slow
def test_a_file_name_given_as_a_text_is_read_as_the_input(tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text(REVIEWS, encoding="utf-8")
    done = korsent("analyze", "--sentiment-model", MODEL, source)
    assert done.returncode == 0
    assert [row["id"] for row in jsonl(done.stdout)] == ["1", "2", "3"]
    assert "note: reading the file" in text(done.stderr)
    done = korsent("analyze", "--sentiment-model", MODEL, source, "좋다")
    assert done.returncode == 2 and "give one input file with -i FILE" in text(done.stderr)


@pytest.mark.slow
def test_piped_csv_is_read_as_csv_or_refused(tmp_path: Path) -> None:
    done = korsent("analyze", "--sentiment-model", MODEL, stdin=REVIEWS.encode("cp949"))
    assert done.returncode == 0
    assert [row["text"] for row in jsonl(done.stdout)] == [
        "연출도 좋고, 음악도 좋았다",
        "돈이 아깝다",
        "",
    ]
    assert "standard input looks like CSV with the header 'id,text,stars'" in text(done.stderr)
    table = REVIEWS.replace("text", "review").encode()
    done = korsent("analyze", "--sentiment-model", MODEL, stdin=table)
    assert (done.returncode, done.stdout) == (2, b"")
    assert "--text-column" in text(done.stderr) and "--input-format text" in text(done.stderr)
    lines = korsent("analyze", "--sentiment-model", MODEL, stdin="좋다, 정말\n별로\n".encode())
    assert [row["text"] for row in jsonl(lines.stdout)] == ["좋다, 정말", "별로"]


@pytest.mark.slow
def test_hub_ids_without_network_fail_in_seconds_in_one_line() -> None:
    # The hub's address points at a closed local port: no network is needed to test it.
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"}
    started = time.monotonic()
    done = korsent("analyze", "-t", "both", "--sentiment-model", MODEL, "좋다", env=env)
    seconds = time.monotonic() - started
    assert (done.returncode, done.stdout) == (2, b"")
    message = text(done.stderr)
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "'hun3359/klue-bert-base-sentiment'" in message and "cannot be reached" in message
    assert seconds < 40  # transformers' own retries took about 50 s per model


def test_train_draws_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"model_type": "electra", "vocab_size": 32200, "embedding_size": 8, "hidden_size": 8,
             "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8}
        )
    )  # fmt: skip
    done = korsent(
        "train", FIXTURES / "nsmc_train_600.txt", "--output", tmp_path / "model",
        "--init-config", config, "--tokenizer", FIXTURES / "koelectra-v1-vocab.txt",
        "--limit", 40, "--epochs", 1, "--device", "cpu", "--threads", 1,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    err = text(done.stderr)
    assert "epoch 1: train_loss" in err  # the per-epoch line stays
    assert "batch/s" not in err and "\r" not in err
