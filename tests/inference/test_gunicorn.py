"""gunicorn ``--preload`` with two workers, on each backend: the master loads the pipeline and runs
the model before it forks, the workers answer requests with the results of the model, each is
recycled after ``MAX_REQUESTS`` requests (it exits and the master forks a new one, as with
``--max-requests`` in production), and on SIGTERM every worker and the master exit with status 0
(no hang in onnxruntime's or OpenVINO's exit handlers, no SIGABRT or SIGSEGV).

Worker statuses are read from gunicorn's log: a worker the master reaps is logged by the
``child_exit`` hook of gunicorn_conf.py (beside this file), after an "exited with code N" line for
a status other than 0 or a "was sent SIG..." line for a worker a signal ended. Everything is
bounded: a worker that hangs at exit is killed by gunicorn after ``GRACEFUL_TIMEOUT`` seconds, and
the test waits a little longer than that for the master before it kills the whole process group
itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from conftest import FIXTURES

from spacy_korsent import blank_korean
from spacy_korsent.inference.precision import cpu_supports_bfloat16

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not find_spec("gunicorn"), reason="needs gunicorn"),
]

HERE = Path(__file__).parent
"""Holds gunicorn_app.py and gunicorn_conf.py: gunicorn imports the app from it (``--chdir``)."""
MODEL = str(FIXTURES / "nsmc-koelectra-tiny")
TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "완전 별로... 시간 낭비했다.",
    "뭐야 이 평점들은.... 나쁘진 않지만 10점 짜리는 더더욱 아니잖아",
    "굳 ㅋ",
]
MAX_REQUESTS = 6
REQUESTS = TEXTS * 6
"""24 requests: at least four workers answer, so each of the first two was recycled."""
GRACEFUL_TIMEOUT = 60
"""Seconds gunicorn gives its workers to exit after SIGTERM before it kills them (30 by default).
A worker's interpreter shutdown walks the heap it inherited: with torch loaded about 2 s of CPU,
20 s on a crowded 2-core machine."""
START_TIMEOUT = 240
"""Seconds for the master to load (and, on the ONNX backend, export) and the workers to boot:
20 on an idle 2-core machine, minutes on a crowded one."""


@pytest.fixture(scope="module")
def expected() -> list[dict[str, Any]]:
    """The sentiment of each text, computed in this process on the torch backend."""
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": MODEL})
    return [doc._.sentiment for doc in nlp.pipe(TEXTS)]


@pytest.mark.parametrize(
    ("settings", "tolerance"),
    [
        pytest.param({"backend": "torch"}, 1e-5, id="torch"),
        pytest.param({"backend": "onnx"}, 1e-4, id="onnx"),
        pytest.param(
            {"backend": "openvino-bfloat16"},
            5e-2,
            marks=[
                pytest.mark.skipif(not find_spec("openvino"), reason="needs openvino"),
                pytest.mark.skipif(not cpu_supports_bfloat16(), reason="needs a bfloat16 CPU"),
            ],
            id="openvino",
        ),
    ],
)
def test_preloaded_workers_answer_and_exit_with_status_0(settings, tolerance, expected, tmp_path):
    log = tmp_path / "gunicorn.log"
    command = [
        sys.executable, "-m", "gunicorn", "gunicorn_app:app",
        "--preload", "--workers", "2", "--bind", "127.0.0.1:0",
        "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", "0",
        "--graceful-timeout", str(GRACEFUL_TIMEOUT), "--timeout", "60",
        "--chdir", str(HERE), "--config", str(HERE / "gunicorn_conf.py"),
        "--error-logfile", str(log),
    ]  # fmt: skip
    env = {**os.environ, "KORSENT_TEST_PIPE": json.dumps({"model": MODEL, **settings})}
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, killed as one if the test fails
    )
    try:
        port = int(wait_for(lambda: _find(log, r"Listening at: http://127\.0\.0\.1:(\d+)"), server))
        wait_for(lambda: len(_booted(log)) == 2, server)
        with ThreadPoolExecutor(4) as pool:  # four requests at a time
            answers = list(pool.map(partial(_ask, port), REQUESTS))
        assert server.poll() is None, "gunicorn exited while serving"
        # A worker recycled by --max-requests may still be in its own exit (seconds on a busy
        # machine): stop the server once the master has reaped it and booted its replacement, so
        # that SIGTERM meets serving workers, which this test is about.
        wait_for(lambda: _recycling_done(log), server)
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(timeout=GRACEFUL_TIMEOUT + 60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    text = log.read_text(encoding="utf-8")
    workers = _booted(log)
    answered = {answer["pid"] for answer in answers}
    assert answered <= workers and len(answered) >= len(REQUESTS) // MAX_REQUESTS, text
    for answer in answers:
        want = expected[TEXTS.index(answer["text"])]
        got = answer["sentiment"]
        assert got["label"] == want["label"]
        assert max(abs(got["scores"][k] - want["scores"][k]) for k in want["scores"]) < tolerance
    assert not re.findall(r"Worker \(pid:\d+\) (?:exited with code|was sent) .*", text), text
    for pid in workers:
        assert f"Worker exiting (pid: {pid})" in text, text  # it left its loop for sys.exit(0)
        assert f"Reaped worker (pid:{pid})" in text, text  # and the master saw it end
    assert returncode == 0, text


def wait_for(find: Callable[[], Any], server: subprocess.Popen[bytes]) -> Any:
    """What ``find`` finds in gunicorn's log, waiting up to START_TIMEOUT seconds for it."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited with {server.returncode} while starting")
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not start within {START_TIMEOUT} s")


def _find(log: Path, pattern: str) -> Optional[str]:
    match = re.search(pattern, log.read_text(encoding="utf-8")) if log.exists() else None
    return match.group(1) if match else None


def _booted(log: Path) -> set[int]:
    """The pids of the workers booted so far."""
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", text)}


def _recycling_done(log: Path) -> bool:
    """Whether every worker that is recycling has been reaped, with two workers serving."""
    text = log.read_text(encoding="utf-8")
    leaving = set(re.findall(r"\[(\d+)\] \[INFO\] Autorestarting worker", text))
    leaving |= set(re.findall(r"Worker exiting \(pid: (\d+)\)", text))
    reaped = set(re.findall(r"Reaped worker \(pid:(\d+)\)", text))
    return leaving <= reaped and len(_booted(log)) - len(reaped) == 2


def _ask(port: int, text: str) -> dict[str, Any]:
    """The answer to ``text``: the pid of the worker that ran the model, and the sentiment."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=text.encode("utf-8"))
    with urllib.request.urlopen(request, timeout=30) as response:
        return {"text": text, **json.loads(response.read())}
