"""A pipeline shared by threads works from the first request, as a web service uses it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "완전 별로... 시간 낭비했다.",
    "오늘 밥이 너무 맛있었어. 행복해",
    "직장에서 부당한 일을 겪어서 너무 화가 나",
    "그냥 그랬다",
    "두 번 보고 싶은 영화",
    "",
    "최악의 결말",
] * 4


def results(doc):
    return doc._.sentiment, doc._.emotions, dict(doc.cats)


def counting(monkeypatch, target: str) -> list:
    """Replace ``target`` (module.function) with a wrapper that records each call."""
    import importlib

    module_name, _, name = target.rpartition(".")
    module = importlib.import_module(module_name)
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def at_once(function, arguments, threads: int = 8) -> list:
    """``function(argument)`` for every argument, ``threads`` starting together."""
    start = threading.Barrier(threads)

    def run(argument):
        start.wait()
        return function(argument)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, arguments))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_cold_start_from_eight_threads(
    make_nlp, sentiment_model_dir, emotion_model_dir, monkeypatch, backend, tmp_path
):
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    monkeypatch.setenv("SPACY_KORSENT_CACHE", str(tmp_path))  # empty: the exports are made here
    loads = counting(monkeypatch, "spacy_korsent.inference.loading.load_model")
    exports = counting(monkeypatch, "spacy_korsent.inference.onnx_export.export_onnx")

    def pipeline():
        return make_nlp(
            ("sentencizer", {}),
            ("korean_sentiment", {"model": str(sentiment_model_dir), "backend": backend}),
            ("korean_emotion", {"model": str(emotion_model_dir), "backend": backend}),
        )

    nlp = pipeline()
    concurrent = at_once(lambda text: results(nlp(text)), TEXTS[:8])
    # Each component loaded (and exported) once, whichever thread came first.
    assert len(loads) <= 2 and len(exports) == (2 if backend == "onnx" else 0)
    assert len(loads) == 2 or backend == "onnx"
    sequential = [results(nlp(text)) for text in TEXTS[:8]]
    assert concurrent == sequential
    fresh = pipeline()  # one that never saw a thread
    assert [results(fresh(text)) for text in TEXTS[:8]] == sequential


@pytest.mark.slow
def test_two_pipelines_load_in_two_threads(make_nlp, sentiment_model_dir, emotion_model_dir):
    def build(factory, model_dir):
        return make_nlp((factory, {"model": str(model_dir)}))

    sentiment, emotion = (
        build("korean_sentiment", sentiment_model_dir),
        build("korean_emotion", emotion_model_dir),
    )
    concurrent = at_once(lambda nlp: [results(d) for d in nlp.pipe(TEXTS)], [sentiment, emotion], 2)
    fresh = [
        build("korean_sentiment", sentiment_model_dir),
        build("korean_emotion", emotion_model_dir),
    ]
    assert concurrent == [[results(d) for d in nlp.pipe(TEXTS)] for nlp in fresh]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_concurrent_streams_equal_sequential_ones(make_nlp, sentiment_model_dir, backend):
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    config = {"model": str(sentiment_model_dir), "buffer_size": 8, "backend": backend}
    nlp = make_nlp(("korean_sentiment", config))
    streams = [TEXTS[i:] + TEXTS[:i] for i in range(8)]
    concurrent = at_once(lambda texts: [results(d) for d in nlp.pipe(texts, batch_size=4)], streams)
    assert concurrent == [[results(d) for d in nlp.pipe(texts, batch_size=4)] for texts in streams]


SCRIPT = """
import sys
from concurrent.futures import ThreadPoolExecutor
import spacy_korsent

nlp = spacy_korsent.blank_korean()
nlp.add_pipe("korean_sentiment", config={{"model": sys.argv[1], "backend": sys.argv[2]}})
texts = {texts!r}
with ThreadPoolExecutor(8) as pool:
    threaded = [doc._.sentiment for doc in pool.map(nlp, texts)]
forked = [doc._.sentiment for doc in nlp.pipe(texts, n_process=2, batch_size=4)]
assert [s["label"] for s in forked] == [s["label"] for s in threaded]
assert all(
    abs(a["scores"][k] - b["scores"][k]) < 1e-5
    for a, b in zip(forked, threaded) for k in a["scores"]
)
print("ok", len(forked))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_worker_processes_after_threads_do_not_hang(sentiment_model_dir, tmp_path, backend):
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    script = tmp_path / "serve_then_fork.py"
    script.write_text(textwrap.dedent(SCRIPT.format(texts=TEXTS)), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, script, str(sentiment_model_dir), backend],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == f"ok {len(TEXTS)}"


def test_a_pipeline_first_used_from_a_new_thread_gets_the_same_shard_threads(
    make_nlp, sentiment_model_dir
):
    """Shard threads set torch to one thread each, and torch hands that count to threads created
    later: a second pipeline first called from a new (request) thread must not see it."""
    from spacy_korsent.inference import parallel

    first = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    first("먼저 한 번")
    pools = set(parallel._pools)
    second = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    thread = threading.Thread(target=lambda: second("새 스레드에서"))
    thread.start()
    thread.join()
    assert set(parallel._pools) == pools  # the second shares the first's pool: no new size
