"""The ONNX backend gives the torch backend's results; exports are saved, reloaded and made by CLI.

Tolerances: fp32 ONNX within 1e-4 of torch (only the order of float operations differs). int8
within 2e-3 per probability on the tiny random test models, with the same label for at least 90%
of the texts (their probabilities are close together, so a small change can flip a label); on the
NSMC-trained fixture model, the same label for at least 99% of the NSMC test slice (the full test
set: benchmarks/agreement.py). Each text's int8 answer is its own, whatever else is in its batch:
within 1e-5, as for torch.
"""

import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from importlib.util import find_spec

import numpy as np
import pytest
import spacy
from conftest import FIXTURES

from spacy_korsent.cli import main
from spacy_korsent.files.labelled import read_nsmc
from spacy_korsent.inference.parallel import ShardPool
from spacy_korsent.inference.precision import cpu_supports_bfloat16

TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "완전 별로... 시간 낭비했다.",
    "굳 ㅋ",
    "",
    "뭐야 이 평점들은.... 나쁘진 않지만 10점 짜리는 더더욱 아니잖아",
    "3D만 아니었어도 별 다섯 개 줬을텐데.. 왜 3D로 나와서 제 심기를 불편하게 하죠??",
    "오늘 밥이 너무 맛있었어. 행복해",
    "직장에서 부당한 일을 겪어서 너무 화가 나",
    "퇴직금으로 적립한 펀드 수익률이 많이 떨어졌어. " * 40,  # several windows
    "ㅋㅋㅋ 😂😂 최고 👍",
    "a",
]
FACTORIES = ["korean_sentiment", "korean_emotion"]
FP32_TOLERANCE = 1e-4
INT8_TOLERANCE = 2e-3


def cats(nlp, texts=TEXTS):
    return [dict(doc.cats) for doc in nlp.pipe(texts)]


def max_difference(got, expected):
    return max(abs(a[k] - b[k]) for a, b in zip(got, expected) for k in b)


def same_label_share(got, expected):
    same = [max(a, key=a.get) == max(b, key=b.get) for a, b in zip(got, expected) if b]
    return sum(same) / len(same)


@pytest.fixture
def model_dirs(sentiment_model_dir, emotion_model_dir):
    return {"korean_sentiment": sentiment_model_dir, "korean_emotion": emotion_model_dir}


@pytest.mark.parametrize("factory", FACTORIES)
def test_fp32_onnx_gives_the_torch_probabilities(factory, make_nlp, model_dirs):
    # Small budgets and explicit threads force many differently padded, sharded batches.
    settings = {"model": str(model_dirs[factory]), "batch_tokens": 96, "n_threads": 3}
    expected = cats(make_nlp((factory, settings)))
    got = cats(make_nlp((factory, {**settings, "backend": "onnx"})))
    assert max_difference(got, expected) < FP32_TOLERANCE
    assert [max(c, key=c.get) for c in got if c] == [max(c, key=c.get) for c in expected if c]


@pytest.mark.parametrize("factory", FACTORIES)
def test_int8_onnx_stays_close_to_torch(factory, make_nlp, model_dirs):
    settings = {"model": str(model_dirs[factory])}
    expected = cats(make_nlp((factory, settings)))
    got = cats(make_nlp((factory, {**settings, "backend": "onnx-int8"})))
    assert 0 < max_difference(got, expected) < INT8_TOLERANCE  # quantized, and not far off
    assert same_label_share(got, expected) >= 0.9


def test_int8_keeps_the_labels_of_a_trained_model(make_nlp):
    texts = read_nsmc(FIXTURES / "nsmc_test_2000.txt").texts
    settings = {"model": str(FIXTURES / "nsmc-koelectra-tiny")}
    expected = cats(make_nlp(("korean_sentiment", settings)), texts)
    got = cats(make_nlp(("korean_sentiment", {**settings, "backend": "onnx-int8"})), texts)
    assert same_label_share(got, expected) >= 0.99
    assert max_difference(got, expected) < 0.05


@pytest.mark.parametrize("factory", FACTORIES)
def test_int8_answers_do_not_depend_on_the_batch(factory, make_nlp, model_dirs):
    """Activations are quantized per token: a text alone, in a batch of long neighbours or of
    short ones, with other padding and shards, gets the same probabilities (as ``nlp(text)``)."""
    settings = {"model": str(model_dirs[factory]), "backend": "onnx-int8"}
    alone = [dict(make_nlp((factory, settings))(text).cats) for text in TEXTS]
    batched = cats(make_nlp((factory, {**settings, "batch_tokens": 4096, "n_threads": 3})))
    reversed_small = cats(make_nlp((factory, {**settings, "batch_tokens": 64})), TEXTS[::-1])
    assert max_difference(batched, alone) < 1e-5
    assert max_difference(reversed_small[::-1], alone) < 1e-5


def test_saved_int8_export_quantized_per_batch_is_made_again(
    make_nlp, sentiment_model_dir, tmp_path
):
    """An int8 ``model.onnx`` saved by spacy-korsent 0.4 (one activation scale per batch, no
    ``int8_activations`` in cfg) is not run: the saved weights are exported again."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings = {"model": str(sentiment_model_dir), "backend": "onnx-int8"}
    expected = [dict(make_nlp(("korean_sentiment", settings))(text).cats) for text in TEXTS]
    nlp = make_nlp(("korean_sentiment", {**settings, "backend": "onnx"}))
    nlp.to_disk(tmp_path / "pipeline")
    component = tmp_path / "pipeline" / "korean_sentiment"
    old = component / "model-int8.onnx"
    quantize_dynamic(component / "model.onnx", old, weight_type=QuantType.QInt8)
    old.replace(component / "model.onnx")
    cfg = json.loads((component / "cfg").read_text())
    cfg["onnx_quantized"] = True
    del cfg["int8_activations"]
    (component / "cfg").write_text(json.dumps(cfg))
    config = {"components": {"korean_sentiment": {"backend": "onnx-int8"}}}
    loaded = spacy.load(tmp_path / "pipeline", config=config)
    assert max_difference(cats(loaded), expected) < 1e-5


def test_saved_pipeline_carries_the_export(make_nlp, sentiment_model_dir, tmp_path, monkeypatch):
    model = shutil.copytree(sentiment_model_dir, tmp_path / "model")
    nlp = make_nlp(("korean_sentiment", {"model": str(model), "backend": "onnx-int8"}))
    before = cats(nlp)
    nlp.to_disk(tmp_path / "pipeline")
    exported = tmp_path / "pipeline" / "korean_sentiment" / "model.onnx"
    assert exported.stat().st_size > 0
    shutil.rmtree(model)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_export(*args, **kwargs):
        raise AssertionError("a saved pipeline must not export again")

    monkeypatch.setattr("spacy_korsent.inference.onnx_export.export_onnx", no_export)
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("korean_sentiment").settings.backend == "onnx-int8"
    assert max_difference(cats(loaded), before) < 1e-6


def test_weights_trained_after_an_export_never_meet_the_old_export(make_nlp, tmp_path):
    """Save with an export, train on torch, save to the same directory: the old model.onnx goes,
    and the ONNX backend then runs the trained weights."""
    from spacy.training import Example

    pipeline = tmp_path / "pipeline"
    onnx = {"components": {"korean_sentiment": {"backend": "onnx"}}}
    nlp = make_nlp(("korean_sentiment", {"model": str(FIXTURES / "nsmc-koelectra-tiny")}))
    nlp.to_disk(pipeline)
    spacy.load(pipeline, config=onnx).to_disk(pipeline)
    export = pipeline / "korean_sentiment" / "model.onnx"
    assert export.is_file()
    torch = {"components": {"korean_sentiment": {"backend": "torch"}}}
    trained = spacy.load(pipeline, config=torch)
    examples = [
        Example.from_dict(trained.make_doc(text), {"cats": {"positive": 1.0, "negative": 0.0}})
        for text in TEXTS[:4]
    ]
    optimizer = trained.create_optimizer()
    for _ in range(3):
        trained.update(examples, sgd=optimizer)
    expected = cats(trained)
    trained.to_disk(pipeline)
    assert not export.exists()
    assert max_difference(cats(spacy.load(pipeline, config=onnx)), expected) < FP32_TOLERANCE


def test_exports_after_training_steps_replace_each_other(make_nlp, tmp_path, monkeypatch):
    """Each training step makes the next document export the new weights: the temporary copies
    and exports replace the last ones, so disk use does not grow with the steps."""
    import tempfile

    from spacy.training import Example

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = {"model": str(FIXTURES / "nsmc-koelectra-tiny"), "backend": "onnx"}
    nlp = make_nlp(("korean_sentiment", config))
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {"positive": 1.0, "negative": 0.0}})
        for text in TEXTS[:4]
    ]
    optimizer = nlp.create_optimizer()

    def used() -> int:
        return sum(file.stat().st_size for file in tmp_path.rglob("*") if file.is_file())

    sizes = []
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
        nlp("새 가중치로 내보내기")
        sizes.append(used())
    assert sizes[0] > 0 and sizes[2] == sizes[1] == sizes[0]


@pytest.mark.parametrize("source", ["model", "pipeline"])
def test_export_command_writes_a_pipeline_that_loads(
    source, make_nlp, model_dirs, tmp_path, capsys
):
    emotion_dir = str(model_dirs["korean_emotion"])
    reference = make_nlp(("korean_emotion", {"model": emotion_dir, "backend": "onnx"}))
    if source == "model":
        argv = ["export", emotion_dir, str(tmp_path / "out"), "--task", "emotion"]
    else:
        make_nlp(("korean_emotion", {"model": emotion_dir})).to_disk(tmp_path / "torch")
        argv = ["export", str(tmp_path / "torch"), str(tmp_path / "out")]
    assert main(argv) == 0
    written = tmp_path / "out" / "korean_emotion" / "model.onnx"
    assert capsys.readouterr().out.strip() == str(written)
    loaded = spacy.load(tmp_path / "out")
    assert loaded.get_pipe("korean_emotion").settings.backend == "onnx"
    assert max_difference(cats(loaded), cats(reference)) < 1e-6


def test_quantizing_a_saved_fp32_export_makes_a_new_int8_one(make_nlp, model_dirs, tmp_path):
    emotion_dir = str(model_dirs["korean_emotion"])
    fp32 = make_nlp(("korean_emotion", {"model": emotion_dir, "backend": "onnx"}))
    expected = cats(fp32)
    fp32.to_disk(tmp_path / "fp32")
    assert main(["export", str(tmp_path / "fp32"), str(tmp_path / "int8"), "--quantize"]) == 0
    component = "korean_emotion/model.onnx"
    int8_size = (tmp_path / "int8" / component).stat().st_size
    assert int8_size < (tmp_path / "fp32" / component).stat().st_size
    loaded = spacy.load(tmp_path / "int8")
    assert loaded.get_pipe("korean_emotion").settings.backend == "onnx-int8"
    assert 0 < max_difference(cats(loaded), expected) < 2e-3


def test_export_command_refuses_a_used_directory_and_a_pipeline_without_components(
    tmp_path, capsys
):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("x")
    assert main(["export", "some/model", str(tmp_path / "used")]) == 2
    assert "not empty" in capsys.readouterr().err
    spacy.blank("en").to_disk(tmp_path / "plain")
    assert main(["export", str(tmp_path / "plain"), str(tmp_path / "out")]) == 2
    assert "no korean_sentiment or korean_emotion component" in capsys.readouterr().err
    # A config naming a component by an absolute path: spaCy would write its files there.
    outside = tmp_path / "outside"
    crafted = spacy.blank("en")
    crafted.add_pipe("sentencizer", name=str(outside))
    crafted.to_disk(tmp_path / "crafted", exclude=[str(outside)])
    (tmp_path / "empty").mkdir()
    assert main(["export", str(tmp_path / "crafted"), str(tmp_path / "empty")]) == 2
    assert "a component's name cannot be a directory: the file name" in capsys.readouterr().err
    assert not outside.exists()


def test_missing_onnxruntime_says_what_to_install(make_nlp, sentiment_model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), "backend": "onnx"}))
    with pytest.raises(ImportError, match=r'pip install "spacy-korsent\[onnx\]"'):
        nlp("텍스트")


def test_backends_survive_pickling(make_nlp, sentiment_model_dir):
    """What a spawned worker process gets: a backend that rebuilds its session and threads."""
    for backend in ("torch", "onnx"):
        config = {"model": str(sentiment_model_dir), "backend": backend}
        nlp = make_nlp(("korean_sentiment", config))
        expected = cats(nlp)
        component = nlp.get_pipe("korean_sentiment")
        component.engine.backend = pickle.loads(pickle.dumps(component.engine.backend))
        assert max_difference(cats(nlp), expected) < 1e-6


def test_shards_keep_row_order_and_cut_padding():
    widths = []

    def forward(ids, mask):
        widths.append(ids.shape[1])
        return (ids * mask).sum(axis=1, keepdims=True).astype(np.float32)

    lengths = [1, 2, 2, 3, 5, 8, 8]
    ids = np.zeros((len(lengths), 8), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = row + 1
        mask[row, :length] = 1
    got = ShardPool(2)(forward, ids, mask)  # two runs per thread
    np.testing.assert_array_equal(got[:, 0], [(row + 1) * n for row, n in enumerate(lengths)])
    assert sorted(widths) == [2, 5, 8, 8]


WORKERS_SCRIPT = """
import faulthandler, json, sys
faulthandler.dump_traceback_later(280, exit=True)  # a hang shows where it waits
from spacy_korsent import blank_korean
nlp = blank_korean()
nlp.add_pipe("korean_sentiment", config={{"model": {model!r}, **{settings!r}}})
texts = {texts!r}
single = [doc.cats for doc in nlp.pipe(texts)]  # the parent runs the model before forking
double = [doc.cats for doc in nlp.pipe(texts, n_process=2, batch_size=2)]
print(json.dumps([single, double]))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"backend": "torch"}, id="torch"),
        pytest.param({"backend": "onnx"}, id="onnx"),
        pytest.param(
            {"backend": "openvino-bfloat16"},
            marks=[
                pytest.mark.skipif(not find_spec("openvino"), reason="needs openvino"),
                pytest.mark.skipif(not cpu_supports_bfloat16(), reason="needs a bfloat16 CPU"),
            ],
            id="openvino",
        ),
    ],
)
def test_two_workers_after_the_parent_ran_the_model_do_not_hang(settings, sentiment_model_dir):
    script = WORKERS_SCRIPT.format(model=str(sentiment_model_dir), settings=settings, texts=TEXTS)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        # a hang never ends; on a busy 2-core machine the export alone once took over 100 s
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    single, double = json.loads(done.stdout.strip().splitlines()[-1])
    assert max_difference(double, single) < 1e-5
