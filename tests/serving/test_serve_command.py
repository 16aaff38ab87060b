"""``korsent serve`` as a command: two worker processes, SIGTERM with requests in flight."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import FIXTURES, ROOT

from spacy_korsent.cli import main

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metric(url: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.slow
def test_sigterm_answers_every_accepted_request_and_exits_0():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "spacy_korsent", "serve", "--port", str(port)]
    command += ["--sentiment-model", str(FIXTURES / "nsmc-koelectra-tiny"), "--workers", "2"]
    command += ["--max-wait-ms", "3000", "--no-access-log"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        ready = 0
        while ready < 4:  # each worker answers /health 200 (connections go to either)
            assert time.monotonic() < deadline and server.poll() is None
            with contextlib.suppress(httpx.TransportError):
                ready = ready + 1 if httpx.get(f"{url}/health").status_code == 200 else 0
            time.sleep(0.1)
        texts = [f"리뷰 {i}: 배우들 연기가 최고였다" for i in range(8)]
        with ThreadPoolExecutor(len(texts)) as pool:
            answers = [
                pool.submit(httpx.post, f"{url}/analyze", json={"texts": t}, timeout=60)
                for t in texts
            ]
            while metric(url, "korsent_queue_depth") < len(texts):  # all accepted, waiting
                assert time.monotonic() < deadline
                time.sleep(0.05)
            server.send_signal(signal.SIGTERM)
            statuses = [answer.result().status_code for answer in answers]
        assert statuses == [200] * len(texts)
        assert server.wait(60) == 0, server.stderr.read() if server.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")


def test_a_missing_model_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["serve", "--sentiment-model", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("korsent serve: error:") and err.count("\n") == 1


def test_a_negative_wait_is_refused(capsys):
    assert main(["serve", "--max-wait-ms", "-1"]) == 2
    assert "--max-wait-ms must be at least 0" in capsys.readouterr().err
