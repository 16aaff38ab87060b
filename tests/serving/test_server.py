"""``korsent serve``'s application on a real uvicorn server (127.0.0.1, in a thread): batched
answers equal the pipeline's, bad input and overload get their status codes, a caller that goes
away frees its place, /health, /metrics and the OpenAPI schema."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from conftest import FIXTURES

pytest.importorskip("fastapi")
import contextlib

import uvicorn  # noqa: E402

from spacy_korsent.components.pipeline import PipelineOptions  # noqa: E402
from spacy_korsent.components.registry import EMOTION, SENTIMENT  # noqa: E402
from spacy_korsent.files.labelled import read_nsmc  # noqa: E402
from spacy_korsent.serving.app import create_app  # noqa: E402
from spacy_korsent.serving.service import AnalysisService, ServerSettings  # noqa: E402

MODELS = {
    SENTIMENT: str(FIXTURES / "nsmc-koelectra-tiny"),
    EMOTION: str(FIXTURES / "kote-koelectra-tiny"),
}
REVIEWS = read_nsmc(FIXTURES / "nsmc_test_2000.txt").texts[:60]
TEXTS = [*REVIEWS, "", "   \n", "퇴직금으로 적립한 펀드 수익률이 많이 떨어졌어. " * 20, "ㅋㅋ 👍"]


class Server:
    def __init__(self, settings: ServerSettings) -> None:
        self.app = create_app(settings)
        self.service: AnalysisService = self.app.state.service
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, daemon=True)
        self.health: list[int] = []
        """The statuses of /health until it said 200."""

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.ConnectError):
                self.health.append(httpx.get(f"{self.url}/health").status_code)
            if self.health[-1:] == [200]:
                return self
            time.sleep(0.05)
        raise TimeoutError("the server did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.uvicorn.should_exit = True
        self.thread.join(30)

    def post(self, payload: object, **kwargs: object) -> httpx.Response:
        return httpx.post(f"{self.url}/analyze", json=payload, timeout=60, **kwargs)  # type: ignore[arg-type]


def settings(backend: str = "torch", **limits: object) -> ServerSettings:
    return ServerSettings(MODELS, PipelineOptions(backend=backend), **limits)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(settings(max_texts=8, max_body_bytes=4096)) as running:
        yield running


async def _clients(url: str, payloads: list[dict]) -> list[httpx.Response]:
    """Every payload from a client of its own, all at once."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        return await asyncio.gather(*(client.post("/analyze", json=p) for p in payloads))


TOLERANCE = 1e-5
"""Float rounding of batched matrix products, as nlp.pipe gives; int8 quantizes each token's
activations on its own, so batching changes no more there."""


def close(got: dict, expected: dict) -> bool:
    """The same fields and labels, probabilities within ``TOLERANCE``."""
    if got.keys() != expected.keys():
        return False
    for name, value in expected.items():
        other = got[name]
        if isinstance(value, float):
            if abs(other - value) > TOLERANCE:
                return False
        elif name == "emotions_top":
            if [t["label"] for t in other] != [t["label"] for t in value]:
                return False
            if any(abs(a["score"] - b["score"]) > TOLERANCE for a, b in zip(other, value)):
                return False
        elif other != value:
            return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_64_concurrent_clients_get_what_nlp_gives(backend):
    if backend.startswith("onnx"):
        pytest.importorskip("onnxruntime")
    with Server(settings(backend, max_wait_ms=200)) as running:
        payloads = [{"texts": TEXTS[i % len(TEXTS)], "task": "both"} for i in range(60)]
        payloads += [{"texts": TEXTS[:5]}, {"texts": TEXTS[-4:]}, {"texts": []}, {"texts": "a"}]
        responses = asyncio.run(_clients(running.url, payloads))
        assert [r.status_code for r in responses] == [200] * 64
        nlp, fields = running.service.nlp, running.service.fields
        assert nlp is not None and fields is not None
        batches = running.service.metrics.batch_size.collect()[0].samples
        count = next(s.value for s in batches if s.name.endswith("_count"))
        assert count < 64 / 4  # the requests were batched together
    for payload, response in zip(payloads, responses):
        texts = [payload["texts"]] if isinstance(payload["texts"], str) else payload["texts"]
        expected = [fields.of(nlp(text)) for text in texts]
        got = response.json()["results"]
        assert len(got) == len(expected)
        assert all(close(g, e) for g, e in zip(got, expected)), texts


def test_bad_input_gets_its_status_naming_the_field(server):
    def detail(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        return json.dumps(response.json()["detail"], ensure_ascii=False)

    bad_json = httpx.post(
        f"{server.url}/analyze",
        content=b'{"texts": [',
        headers={"content-type": "application/json"},
    )
    assert "json" in detail(bad_json, 422).lower()
    assert '"texts"' in detail(server.post({"texts": [1, 2]}), 422)
    assert '"texts"' in detail(server.post({"text": "오타"}), 422)  # a field it does not know
    assert '"task"' in detail(server.post({"texts": "a", "task": "sarcasm"}), 422)
    assert '"sentences"' in detail(server.post({"texts": "a", "sentences": True}), 422)
    assert "--max-texts" in detail(server.post({"texts": ["a"] * 9}), 413)
    assert "--max-body-bytes" in detail(server.post({"texts": "가" * 5000}), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it is read
        yield b'{"texts": "'
        for _ in range(50):
            yield "가나다라마바사아자차".encode() * 10
        yield b'"}'

    streamed = httpx.post(f"{server.url}/analyze", content=chunks())
    assert "--max-body-bytes" in detail(streamed, 413)


def test_empty_texts_get_the_empty_answer(server):
    response = server.post({"texts": ["", " \t\n", "\u200b"], "task": "both"})
    assert response.status_code == 200
    empty = {
        "sentiment": None, "sentiment_score": None, "sentiment_negative": None,
        "sentiment_positive": None, "emotion": None, "emotion_score": None,
        "emotion_labels": [], "emotion_group": None, "emotions_top": [],
    }  # fmt: skip
    assert response.json()["results"][:2] == [empty, empty]
    only = server.post({"texts": "좋아요", "task": "sentiment"}).json()["results"][0]
    assert set(only) == {"sentiment", "sentiment_score", "sentiment_negative", "sentiment_positive"}


def test_health_metrics_and_the_openapi_schema(server):
    assert server.health[-1] == 200 and 503 in server.health  # 503 while the models loaded
    server.post({"texts": ["좋다", "싫다"]})
    metrics = httpx.get(f"{server.url}/metrics").text
    for name in (
        'korsent_requests_total{status="200"}',
        "korsent_queue_depth",
        "korsent_batch_size_bucket",
        "korsent_batch_tokens_bucket",
        'korsent_request_seconds_bucket{le="0.005",status="200"}',
        "korsent_batch_seconds_bucket",
    ):
        assert name in metrics
    schema = httpx.get(f"{server.url}/openapi.json").json()
    analyze = schema["paths"]["/analyze"]["post"]
    assert {"200", "413", "422", "429", "503"} <= set(analyze["responses"])
    assert set(schema["components"]["schemas"]["AnalyzeRequest"]["properties"]) == {
        "texts", "task", "sentences"
    }  # fmt: skip
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()


def _waiting(server: Server, texts: int) -> None:
    deadline = time.monotonic() + 10
    while server.service.batcher.queued_texts != texts:
        assert time.monotonic() < deadline, server.service.batcher.queued_texts
        time.sleep(0.01)


def test_a_full_queue_answers_429_and_a_caller_that_leaves_frees_its_place():
    with Server(settings(max_queue=2, max_wait_ms=60_000)) as running:
        body = json.dumps({"texts": "좋아요"}).encode()
        request = (
            f"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        callers = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(2)]
        for caller in callers:
            caller.sendall(request)
        _waiting(running, 2)
        full = running.post({"texts": "하나 더"})
        assert full.status_code == 429 and int(full.headers["Retry-After"]) >= 1
        callers[0].close()  # gone: its place is free again
        _waiting(running, 1)
        callers[1].close()
        _waiting(running, 0)
        assert (
            'korsent_requests_total{status="499"} 2.0' in httpx.get(f"{running.url}/metrics").text
        )


def test_a_lone_request_waits_a_tenth_of_max_wait_for_company():
    """No other request comes: its batch starts once the queue held it alone for max_wait / 10."""
    with Server(replace(settings(), max_wait_ms=3000)) as running:
        started = time.monotonic()
        assert running.post({"texts": "혼자"}).status_code == 200
        assert 0.3 <= time.monotonic() - started < 2.5
