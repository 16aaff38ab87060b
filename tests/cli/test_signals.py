"""SIGTERM ends a command as Ctrl-C does: whole rows written, nothing large left behind.

``timeout``, systemd, docker and Kubernetes stop a process with SIGTERM. The commands run as
subprocesses and are stopped while they work; a killed process (SIGKILL) stands in for one that
could not clean up. (Training checkpoints: ``tests/training/test_training.py``; Ray:
``tests/integrations/test_ray.py``.)
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pyarrow.parquet as pq
import pytest
from conftest import FIXTURES, ROOT

MODEL = FIXTURES / "nsmc-koelectra-tiny"
REVIEWS = [
    line.split("\t")[1]
    for line in (FIXTURES / "nsmc_test_2000.txt").read_text("utf-8").splitlines()[1:]
]
ROWS = 20_000  # minutes of work on a busy CPU: the command is still running when stopped


def start(*argv: object, env: dict | None = None) -> subprocess.Popen:
    """``python -m spacy_korsent ARGV`` in the background, as a user (or a scheduler) runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "spacy_korsent", *map(str, argv)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen) -> None:
    """Poll until ``condition`` holds (the process must still be running by then)."""
    deadline = time.monotonic() + 240
    while not condition():
        assert process.poll() is None, process.communicate()[1].decode()
        assert time.monotonic() < deadline, "the command never got there"
        time.sleep(0.05)


def stop(process: subprocess.Popen, number: int) -> tuple[int, str]:
    """Send signal ``number``; the exit code and standard error once the process has ended."""
    process.send_signal(number)
    _, err = process.communicate(timeout=120)
    return process.returncode, err.decode()


def write_input(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["id", "text"])
        writer.writerows([n, REVIEWS[n % len(REVIEWS)]] for n in range(ROWS))


def written_rows(path: Path, fmt: str) -> list[dict]:
    """The output's rows; text outputs must end with a whole line."""
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()  # raises without the footer
    text = path.read_text("utf-8-sig")
    assert text.endswith("\n")
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


def has_rows(path: Path, fmt: str) -> Callable[[], bool]:
    """Whether the first batch is in the file (Parquet: a row group past the 4-byte header)."""
    return lambda: path.exists() and path.stat().st_size > (4096 if fmt == "parquet" else 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "number", "code", "message"),
    [
        ("parquet", signal.SIGTERM, 143, "terminated (SIGTERM)"),
        ("csv", signal.SIGTERM, 143, "terminated (SIGTERM)"),
        ("jsonl", signal.SIGINT, 130, "interrupted"),
    ],
)
def test_a_stopped_analysis_leaves_whole_rows(tmp_path, fmt, number, code, message) -> None:
    source, output = tmp_path / "reviews.csv", tmp_path / f"out.{fmt}"
    write_input(source)
    process = start(
        "analyze", "-i", source, "-o", output, "--sentiment-model", MODEL, "--batch-size", 16,
    )  # fmt: skip
    wait_for(has_rows(output, fmt), process)
    exit_code, err = stop(process, number)

    assert exit_code == code, err
    assert err.splitlines()[-1] == f"korsent analyze: {message}."
    rows = written_rows(output, fmt)
    assert 0 < len(rows) < ROWS
    assert [int(row["id"]) for row in rows] == list(range(len(rows)))
    assert all(row["text"] == REVIEWS[int(row["id"]) % len(REVIEWS)] for row in rows)
    assert all(row["sentiment"] in ("negative", "positive") for row in rows)
    assert all(float(row["sentiment_score"]) >= 0.5 for row in rows)


# --- scratch directories -----------------------------------------------------------------------

MAKE_SCRATCH = """
import os, signal, sys
from spacy_korsent import scratch
root = scratch.make_directory()
(root / "model.onnx").write_bytes(b"an export")
print(root, flush=True)
if sys.argv[1] == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()  # "live": until the test closes standard input
"""


def python(code: str, argv: str, tmp: Path, stdin: int | None = None) -> subprocess.Popen:
    """Run ``code`` in a new Python process whose temporary directory is ``tmp``."""
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", code, argv]
    return subprocess.Popen(command, env=env, stdin=stdin, stdout=subprocess.PIPE, text=True)


def scratch_dirs(tmp: Path) -> set[Path]:
    return {path for path in tmp.iterdir() if path.name.startswith("korsent-")}


@pytest.mark.slow
def test_the_next_process_removes_a_killed_ones_scratch_and_keeps_a_live_ones(
    tmp_path: Path,
) -> None:
    killed = python(MAKE_SCRATCH, "killed", tmp_path)
    stale = Path(killed.communicate()[0].strip())
    assert killed.returncode == -signal.SIGKILL and (stale / "model.onnx").exists()
    # The lock decides, not the process id: this one names a live process (the test's).
    (stale / ".owner").write_text(f"{os.getpid()}\n")
    live = python(MAKE_SCRATCH, "live", tmp_path, subprocess.PIPE)
    assert live.stdout is not None
    kept = Path(live.stdout.readline().strip())

    nxt = python(MAKE_SCRATCH, "done", tmp_path, subprocess.DEVNULL)
    assert nxt.communicate()[0] and nxt.returncode == 0

    assert not stale.exists()
    assert (kept / "model.onnx").read_bytes() == b"an export"
    live.communicate("")
    assert live.returncode == 0
    assert scratch_dirs(tmp_path) == set()  # each removed its own on leaving


MAKE_AND_FORK = """
import os, signal, sys
from spacy_korsent import scratch
root = scratch.make_directory()
if os.fork() == 0:  # a worker (n_process=2) that outlives its parent
    sys.stdin.read()
    sys.exit(0)  # a normal exit, with atexit: it must not take its parent's directory
print(root, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_forked_worker_keeps_its_parents_scratch_while_it_lives(tmp_path: Path) -> None:
    parent = python(MAKE_AND_FORK, "", tmp_path, subprocess.PIPE)
    assert parent.stdout is not None and parent.stdin is not None
    root = Path(parent.stdout.readline().strip())
    assert parent.wait() == -signal.SIGKILL

    sweep = python(MAKE_SCRATCH, "done", tmp_path, subprocess.DEVNULL)
    assert sweep.communicate()[0] and root.exists()  # the worker holds the lock
    parent.stdin.close()
    assert parent.stdout.read() == ""  # the worker has ended
    assert root.exists()  # it left its parent's directory alone
    sweep = python(MAKE_SCRATCH, "done", tmp_path, subprocess.DEVNULL)
    assert sweep.communicate()[0] and not root.exists()


@pytest.mark.slow
def test_sigterm_during_an_onnx_export_leaves_no_scratch(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "SPACY_KORSENT_CACHE": str(cache)}
    process = start("export", MODEL, tmp_path / "exported", env=env)
    # The export runs in a child process, in a staging directory of the export cache.
    wait_for(lambda: any(cache.rglob("*export-*")), process)
    exit_code, err = stop(process, signal.SIGTERM)

    assert exit_code == 143, err
    assert err.splitlines()[-1] == "korsent export: terminated (SIGTERM)."
    assert scratch_dirs(tmp) == set()  # torch and onnx leave small notes of their own
    assert not (tmp_path / "exported").exists()
    # Neither an entry nor a staging directory: only the (empty) lock file of the key.
    assert [path.suffix for path in (cache / "exports").iterdir()] == [".lock"]
