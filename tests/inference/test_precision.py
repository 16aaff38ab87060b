"""``backend = "torch-bfloat16"``: bfloat16 on CPUs that have it stays close to float32; elsewhere
it is refused.

``"openvino-bfloat16"`` runs the ONNX export with OpenVINO (tested where openvino is installed and
the CPU has bfloat16: OpenVINO itself decides whether to use it).

Tolerance: bfloat16 keeps 8 bits of mantissa, and autocast keeps embeddings, layer norms and
softmax in float32. Probabilities move by less than 1e-3 on the tiny random test models and by
less than 0.01 on the NSMC-trained fixture model, which keeps at least 99% of its labels on the
NSMC test slice (the full test set: benchmarks/agreement.py). The agreement tests pretend the CPU
has native bfloat16, so that they run everywhere (emulated bfloat16 computes the same numbers).
"""

import platform
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
import spacy
from conftest import FIXTURES
from test_onnx import cats, max_difference, same_label_share

from spacy_korsent.files.labelled import read_nsmc
from spacy_korsent.inference import precision

BF16_TOLERANCE = 1e-3


@pytest.fixture
def bfloat16_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: True)


@pytest.mark.parametrize("factory", ["korean_sentiment", "korean_emotion"])
def test_bfloat16_stays_close_to_float32(
    factory, make_nlp, sentiment_model_dir, emotion_model_dir, bfloat16_cpu
):
    model = sentiment_model_dir if factory == "korean_sentiment" else emotion_model_dir
    # Small budgets and three threads: many sharded batches, each thread with its own autocast.
    settings = {"model": str(model), "batch_tokens": 96, "n_threads": 3}
    expected = cats(make_nlp((factory, settings)))
    got = cats(make_nlp((factory, {**settings, "backend": "torch-bfloat16"})))
    assert 0 < max_difference(got, expected) < BF16_TOLERANCE  # lower precision, not far off
    assert same_label_share(got, expected) == 1.0


def test_bfloat16_keeps_the_labels_of_a_trained_model(make_nlp, bfloat16_cpu):
    texts = read_nsmc(FIXTURES / "nsmc_test_2000.txt").texts
    settings = {"model": str(FIXTURES / "nsmc-koelectra-tiny")}
    expected = cats(make_nlp(("korean_sentiment", settings)), texts)
    got = cats(make_nlp(("korean_sentiment", {**settings, "backend": "torch-bfloat16"})), texts)
    assert same_label_share(got, expected) >= 0.99
    assert max_difference(got, expected) < 0.01


def test_bfloat16_leaves_the_saved_weights_in_float32(
    make_nlp, sentiment_model_dir, tmp_path, bfloat16_cpu
):
    float32 = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    nlp = make_nlp(
        ("korean_sentiment", {"model": str(sentiment_model_dir), "backend": "torch-bfloat16"})
    )
    cats(nlp)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(
        tmp_path / "pipeline", config={"components.korean_sentiment.backend": "torch"}
    )
    assert max_difference(cats(loaded), cats(float32)) < 1e-6


def test_bfloat16_is_refused_on_a_cpu_without_it(make_nlp, sentiment_model_dir, monkeypatch):
    monkeypatch.setattr(precision, "cpu_supports_bfloat16", lambda: False)
    nlp = make_nlp(
        ("korean_sentiment", {"model": str(sentiment_model_dir), "backend": "torch-bfloat16"})
    )
    with pytest.raises(ValueError, match="needs a CPU with native bfloat16 arithmetic") as caught:
        nlp("재밌다")
    assert "Use backend='torch'" in str(caught.value)


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or not Path("/proc/cpuinfo").exists(),
    reason="reads the x86 CPU flags from /proc/cpuinfo",
)
def test_bfloat16_support_is_read_from_the_cpu_flags():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    expected = bool({"avx512_bf16", "amx_bf16"} & flags)
    assert precision.cpu_supports_bfloat16() is expected


needs_openvino = pytest.mark.skipif(
    find_spec("openvino") is None or not precision.cpu_supports_bfloat16(),
    reason="needs openvino and a CPU with bfloat16",
)


@needs_openvino
def test_openvino_bfloat16_runs_close_to_float32(make_nlp, sentiment_model_dir):
    settings = {"model": str(sentiment_model_dir), "batch_tokens": 96, "n_threads": 3}
    expected = cats(make_nlp(("korean_sentiment", settings)))
    nlp = make_nlp(("korean_sentiment", {**settings, "backend": "openvino-bfloat16"}))
    got = cats(nlp)
    assert 0 < max_difference(got, expected) < BF16_TOLERANCE
    assert same_label_share(got, expected) == 1.0
    backend = nlp.get_pipe("korean_sentiment").engine.backend
    assert type(backend).__name__ == "OpenVinoBackend"


def test_openvino_bfloat16_without_openvino_says_what_to_install(
    make_nlp, sentiment_model_dir, monkeypatch, bfloat16_cpu
):
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    config = {"model": str(sentiment_model_dir), "backend": "openvino-bfloat16"}
    with pytest.raises(ImportError, match=r'pip install "spacy-korsent\[openvino\]"'):
        make_nlp(("korean_sentiment", config))("재밌다")


@pytest.mark.skipif(find_spec("openvino") is None, reason="needs openvino")
def test_openvino_in_float32_gives_the_torch_results(make_nlp, sentiment_model_dir):
    """backend='openvino' compiles the float32 export as it is."""
    settings = {"model": str(sentiment_model_dir), "n_threads": 2}
    expected = cats(make_nlp(("korean_sentiment", settings)))
    nlp = make_nlp(("korean_sentiment", {**settings, "backend": "openvino"}))
    assert max_difference(cats(nlp), expected) < 1e-4
    assert type(nlp.get_pipe("korean_sentiment").engine.backend).__name__ == "OpenVinoBackend"
