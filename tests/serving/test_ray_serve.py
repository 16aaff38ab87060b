"""The Ray Serve deployment: two replicas on a local Ray instance (two CPUs) answer what the
pipeline gives in this process, over HTTP and through a deployment handle."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import FIXTURES

serve = pytest.importorskip("ray.serve")
httpx = pytest.importorskip("httpx")
import ray  # noqa: E402

from spacy_korsent.components.pipeline import PipelineOptions, build_pipeline  # noqa: E402
from spacy_korsent.components.registry import SENTIMENT  # noqa: E402
from spacy_korsent.files.fields import ResultFields  # noqa: E402
from spacy_korsent.files.labelled import read_nsmc  # noqa: E402
from spacy_korsent.serving.ray_serve import build, deployment, settings_from  # noqa: E402

MODEL = str(FIXTURES / "nsmc-koelectra-tiny")
TEXTS = [*read_nsmc(FIXTURES / "nsmc_test_2000.txt").texts[:30], "", "ㅋㅋ 👍"]


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The deployment with two replicas; its HTTP address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    app = deployment(
        settings_from({"sentiment_model": MODEL, "max_texts": "4"}),
        num_replicas=2,
        cpus_per_replica=1,
    )
    serve.run(app, name="korsent", route_prefix="/")
    yield f"http://127.0.0.1:{port}/"
    serve.shutdown()
    ray.shutdown()


@pytest.mark.slow
def test_two_replicas_answer_what_the_pipeline_gives_here(served):
    status = serve.status().applications["korsent"].deployments["KorsentDeployment"]
    assert status.replica_states == {"RUNNING": 2}
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda text: httpx.post(served, json={"texts": text}, timeout=60), TEXTS)
        )
    assert [answer.status_code for answer in answers] == [200] * len(TEXTS)
    handle = serve.get_app_handle("korsent")
    through_handle = handle.analyze.remote({"texts": TEXTS[:3]}).result()["results"]

    nlp = build_pipeline({SENTIMENT: MODEL}, PipelineOptions())
    fields = ResultFields(nlp)
    expected = [fields.of(nlp(text)) for text in TEXTS]
    got = [answer.json()["results"][0] for answer in answers]
    for result, wanted in zip([*got, *through_handle], [*expected, *expected[:3]]):
        assert_same(result, wanted)


def assert_same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, abs=1e-5)
        else:
            assert got[name] == value


def test_replicas_refuse_what_the_server_refuses(served):
    assert httpx.post(served, json={"texts": ["a"] * 5}).status_code == 413
    wrong = httpx.post(served, json={"texts": 3})
    assert wrong.status_code == 422 and "texts" in wrong.text
    assert (
        httpx.post(served, content=b"{", headers={"content-type": "application/json"}).status_code
        == 422
    )


def test_serve_run_arguments_are_checked():
    settings = settings_from({"task": "both", "backend": "onnx-int8", "sentences": "true"})
    assert (
        settings.task == "both" and settings.sentences and settings.pipeline.backend == "onnx-int8"
    )
    with pytest.raises(ValueError, match="max_batch"):
        build({"max_batch": "12"})
