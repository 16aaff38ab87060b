"""The components are spaCy trainable pipes: spacy train, labels and heads, the pipe protocol."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import spacy
from conftest import FIXTURES, build_model_dir
from spacy.tokens import DocBin
from spacy.training import Example

NSMC_TRAIN = FIXTURES / "nsmc_train_600.txt"

SHORT_CONFIG = """
[paths]
model = "{model}"

[nlp]
lang = "ko"
pipeline = ["korean_sentiment"]

[nlp.tokenizer]
@tokenizers = "spacy.Tokenizer.v1"

[components]

[components.korean_sentiment]
factory = "korean_sentiment"
model = ${{paths.model}}

[training]

[training.batcher]
@batchers = "spacy_korsent.batch_by_length.v1"
size = 32
tokenizer = ${{paths.model}}
"""


def nsmc_examples(nlp, limit: int, offset: int = 0) -> list[Example]:
    from spacy_korsent.files.labelled import read_nsmc

    data = read_nsmc(NSMC_TRAIN)
    rows = list(zip(data.texts, data.labels))[offset : offset + limit]
    return [
        Example.from_dict(
            nlp.make_doc(text), {"cats": {"negative": float(not label), "positive": float(label)}}
        )
        for text, label in rows
    ]


def probabilities(docs) -> np.ndarray:
    return np.array([[p for _, p in sorted(doc.cats.items())] for doc in docs])


def direct_forward(model_dir: Path, texts: list[str]) -> np.ndarray:
    """Softmax of a plain transformers forward pass, one text at a time, labels sorted by name."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    order = np.argsort([model.config.id2label[i] for i in range(model.config.num_labels)])
    rows = []
    with torch.no_grad():
        for text in texts:
            inputs = tokenizer(text, truncation=True, max_length=128, return_tensors="pt")
            rows.append(torch.softmax(model(**inputs).logits, dim=-1)[0].numpy()[order])
    return np.array(rows)


@pytest.mark.slow
def test_spacy_train_fine_tunes_from_a_short_config(tmp_path, make_nlp):
    from spacy_korsent.cli import main as korsent

    start = build_model_dir(tmp_path / "start", arch="electra", num_labels=2)
    train, dev = tmp_path / "train.spacy", tmp_path / "dev.spacy"
    convert = ["convert", NSMC_TRAIN, train, "--dev", dev, "--dev-fraction", 0.2, "--limit", 200]
    assert korsent([str(arg) for arg in convert]) == 0
    nlp = make_nlp()
    gold = [doc.cats for doc in DocBin().from_disk(dev).get_docs(nlp.vocab)]
    assert len(gold) == 40 and all(sorted(cats.values()) == [0.0, 1.0] for cats in gold)
    (tmp_path / "base.cfg").write_text(SHORT_CONFIG.format(model=start), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    spacy_cli = [sys.executable, "-m", "spacy"]
    fill = [*spacy_cli, "init", "fill-config", tmp_path / "base.cfg", tmp_path / "config.cfg"]
    subprocess.run(fill, check=True, capture_output=True, env=env)
    filled = spacy.util.load_config(tmp_path / "config.cfg", interpolate=True)
    assert filled["components"]["korean_sentiment"]["max_length"] == 128
    assert filled["training"]["batcher"]["tokenizer"] == str(start)
    run = subprocess.run(
        [
            *spacy_cli, "train", tmp_path / "config.cfg", "--output", tmp_path / "out",
            "--paths.train", train, "--paths.dev", dev, "--training.max_steps", "12",
            "--training.eval_frequency", "6", "--training.optimizer.learn_rate", "0.001",
            "--training.batcher.size", "16",
            "--verbose",
        ],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "SENTIMENT" in run.stdout  # the component's score is logged
    assert "keeping its head" in run.stderr  # negative/positive are the checkpoint's labels
    best = tmp_path / "out" / "model-best"
    meta = json.loads((best / "meta.json").read_text())
    assert "sentiment_score" in meta["performance"]

    # It stands alone: offline, the starting model gone, a standard Hugging Face directory inside.
    shutil.rmtree(start)
    loaded = spacy.load(best)
    texts = ["정말 재미있었다", "시간 낭비였다. 별로", "배우 연기가 좋았어요"]
    weights_dir = best / "korean_sentiment" / "model"
    assert json.loads((weights_dir / "config.json").read_text())["id2label"] == {
        "0": "negative",
        "1": "positive",
    }
    got = probabilities(loaded.pipe(texts))
    assert np.abs(got - direct_forward(weights_dir, texts)).max() < 1e-5


def test_training_labels_equal_to_the_checkpoints_keep_its_head(make_nlp, tmp_path, caplog):
    import torch

    model_dir = build_model_dir(tmp_path / "m", arch="electra", num_labels=2)
    nlp = make_nlp(("korean_sentiment", {"model": str(model_dir)}))
    component = nlp.get_pipe("korean_sentiment")
    examples = nsmc_examples(nlp, 8)
    with caplog.at_level(logging.INFO, logger="spacy"):
        nlp.initialize(lambda: examples)
    assert "keeping its head" in caplog.text
    from safetensors.torch import load_file

    from spacy_korsent.components.model import get_module

    start = load_file(model_dir / "model.safetensors")
    now = get_module(component.model).state_dict()
    assert all(torch.equal(start[key], now[key]) for key in start)
    assert component.labels == ("negative", "positive") and not component.multi_label


def test_other_labels_get_a_new_head_on_the_same_encoder(make_nlp, tmp_path, caplog):
    import torch
    from safetensors.torch import load_file

    from spacy_korsent.components.model import get_module

    model_dir = build_model_dir(tmp_path / "m", arch="electra", num_labels=2)
    nlp = make_nlp(("korean_sentiment", {"model": str(model_dir)}))
    component = nlp.get_pipe("korean_sentiment")
    three = ["negative", "neutral", "positive"]
    examples = [
        Example.from_dict(
            nlp.make_doc(text), {"cats": {name: float(name == gold) for name in three}}
        )
        for text, gold in (("별로", "negative"), ("그냥", "neutral"), ("좋아", "positive"))
    ]
    with caplog.at_level(logging.INFO, logger="spacy"):
        nlp.initialize(lambda: examples)
    assert "new single-label head" in caplog.text
    assert component.labels == tuple(three)
    start, now = (
        load_file(model_dir / "model.safetensors"),
        get_module(component.model).state_dict(),
    )
    encoder = [key for key in start if key.startswith("electra.")]
    assert encoder and all(torch.equal(start[key], now[key]) for key in encoder)
    assert now["classifier.out_proj.weight"].shape[0] == 3
    losses = component.update(examples, sgd=nlp.create_optimizer())
    assert losses["korean_sentiment"] > 0
    assert set(nlp("괜찮네")._.sentiment["scores"]) == set(three)


def test_several_gold_labels_train_a_multi_label_head(make_nlp, emotion_model_dir):
    nlp = make_nlp(("korean_emotion", {"model": str(emotion_model_dir)}))
    component = nlp.get_pipe("korean_emotion")
    labels = ["기쁨", "슬픔", "분노", "놀람"]
    golds = [("기쁨", "놀람"), ("슬픔",), ("분노", "놀람"), ("기쁨",)]
    examples = [
        Example.from_dict(
            nlp.make_doc(f"문장 {i}"), {"cats": {name: float(name in gold) for name in labels}}
        )
        for i, gold in enumerate(golds)
    ]
    nlp.initialize(lambda: examples)
    assert component.multi_label and component.labels == tuple(labels)
    optimizer = nlp.create_optimizer()
    first = component.update(examples, sgd=optimizer)["korean_emotion"]
    for _ in range(15):
        last = component.update(examples, sgd=optimizer)["korean_emotion"]
    assert last < first  # binary cross-entropy goes down
    emotions = nlp("문장 0")._.emotions
    scores = [entry["score"] for entry in emotions["top"]]
    assert sum(nlp("문장 0").cats.values()) != pytest.approx(1.0)  # a sigmoid per label
    assert scores == sorted(scores, reverse=True)
    assert set(emotions["labels"]) <= set(labels)


def test_frozen_and_annotating_beside_textcat(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    nlp.add_pipe("textcat")
    examples = nsmc_examples(nlp, 24)
    sentiment = nlp.get_pipe("korean_sentiment")
    with nlp.select_pipes(disable=["korean_sentiment"]):  # as spacy train does for frozen ones
        optimizer = nlp.initialize(lambda: examples)
    before = [doc._.sentiment["scores"] for doc in nlp.pipe(["좋다", "싫다"])]
    textcat = nlp.get_pipe("textcat")
    seen = []
    textcat_update = textcat.update

    def update_and_look(batch, **kwargs):
        seen.extend(eg.predicted._.sentiment for eg in batch)
        return textcat_update(batch, **kwargs)

    textcat.update = update_and_look
    losses = nlp.update(
        examples, sgd=optimizer, exclude=["korean_sentiment"], annotates=["korean_sentiment"]
    )
    assert losses["textcat"] > 0 and "korean_sentiment" not in losses
    # annotating: textcat's update saw the frozen component's annotations
    assert len(seen) == len(examples) and all(s["label"] in sentiment.labels for s in seen)
    after = [doc._.sentiment["scores"] for doc in nlp.pipe(["좋다", "싫다"])]
    assert after == before  # frozen: its weights did not move


def test_error_handler_receives_failing_batches(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), "sentences": True}))
    calls = []
    nlp.set_error_handler(lambda name, component, docs, error: calls.append((name, len(docs))))
    assert list(nlp.pipe(["첫 문장", "둘째 문장"])) == []  # no sentence boundaries: handled
    assert calls == [("korean_sentiment", 2)]


def test_analyze_pipes_reports_what_the_components_assign(make_nlp, tmp_path):
    nlp = make_nlp(("korean_sentiment", {"model": "x"}), ("korean_emotion", {"model": "y"}))
    summary = nlp.analyze_pipes()["summary"]
    assert {"doc._.sentiment", "doc.cats"} <= set(summary["korean_sentiment"]["assigns"])
    assert {"doc._.emotions", "doc.cats"} <= set(summary["korean_emotion"]["assigns"])


def test_cfg_is_a_dict_saved_with_exclude(make_nlp, sentiment_model_dir, tmp_path):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    component = nlp.get_pipe("korean_sentiment")
    component.initialize()
    assert component.cfg == {
        "labels": ["negative", "positive"],
        "positive_label": "positive",
        "multi_label": False,
        "source": str(sentiment_model_dir),
        "onnx_quantized": None,
        "int8_activations": None,
    }
    component.to_disk(tmp_path / "c", exclude=["model"])
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["cfg"]
    component.to_disk(tmp_path / "full")
    assert json.loads((tmp_path / "full" / "cfg").read_text()) == component.cfg
    fresh = make_nlp(("korean_sentiment", {"model": "/gone"})).get_pipe("korean_sentiment")
    fresh.from_disk(tmp_path / "full", exclude=["cfg"])
    assert fresh.cfg["source"] == "/gone"  # cfg excluded; the labels came with the model


def test_an_export_is_rebuilt_after_an_update(make_nlp, sentiment_model_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    config = {"model": str(sentiment_model_dir), "backend": "onnx"}
    nlp = make_nlp(("korean_sentiment", config))
    examples = nsmc_examples(nlp, 16)
    nlp.initialize(lambda: examples)
    texts = ["정말 좋다", "최악이었다", "그냥 그래"]
    before = probabilities(nlp.pipe(texts))
    component = nlp.get_pipe("korean_sentiment")
    optimizer = nlp.create_optimizer()
    for _ in range(3):
        component.update(examples, sgd=optimizer)
    after = probabilities(nlp.pipe(texts))
    assert np.abs(after - before).max() > 1e-4  # not the stale export
    nlp.to_disk(tmp_path / "trained")
    torch_config = {**config, "backend": "torch"}
    reloaded = spacy.load(
        tmp_path / "trained", config={"components": {"korean_sentiment": torch_config}}
    )
    assert np.abs(probabilities(reloaded.pipe(texts)) - after).max() < 1e-4
    assert (
        json.loads((tmp_path / "trained" / "korean_sentiment" / "cfg").read_text())[
            "onnx_quantized"
        ]
        is False
    )


def test_optimizer_steps_match_spacy_transformers_and_keep_memory_flat(tmp_path):
    """The in-place step gives thinc's numbers; thinc's own kept every step's weights alive.

    Should a future thinc stop leaking, the ``leaked`` assertion fails: then InPlaceHFShim can go.
    """
    import copy
    import gc

    import torch
    from spacy_transformers.data_classes import HFObjects
    from spacy_transformers.layers.hf_shim import HFShim
    from thinc.api import Adam

    from spacy_korsent.components.model import InPlaceHFShim
    from spacy_korsent.inference.loading import load_model

    module = load_model(build_model_dir(tmp_path / "m", arch="electra", num_labels=2))
    inputs = {"input_ids": torch.randint(5, 1000, (4, 12)), "labels": torch.tensor([0, 1, 1, 0])}

    def live_tensors():
        gc.collect()
        return sum(type(obj) in (torch.Tensor, torch.nn.Parameter) for obj in gc.get_objects())

    def train(shim_class, steps):
        """The trained module and how many more tensors are alive after the last step than
        after the first."""
        twin = copy.deepcopy(module)
        shim = shim_class(HFObjects(None, twin, None, {}, {}))
        optimizer = Adam(0.001, use_averages=False)
        for step in range(steps):
            twin(**inputs).loss.backward()
            shim.finish_update(optimizer)
            if step == 0:
                first = live_tensors()
        return twin, live_tensors() - first

    (theirs, leaked), (ours, kept) = train(HFShim, 20), train(InPlaceHFShim, 20)
    assert all(torch.equal(a, b) for a, b in zip(theirs.parameters(), ours.parameters()))
    n_params = len(list(module.parameters()))
    assert leaked >= 19 * n_params  # thinc's step: a tensor per parameter per step
    assert kept == 0


def test_the_batcher_groups_texts_of_similar_subword_lengths(sentiment_model_dir):
    """Each batch holds texts of similar lengths as the model counts them, every text once: here
    character counts interleave the two kinds of text and subword counts separate them."""
    from spacy_korsent import blank_korean
    from spacy_korsent.training.batching import configure_batch_by_length

    nlp = blank_korean()
    words = ["영화" * k for k in range(20, 28)]  # 40-54 characters, 22-29 subwords
    marks = ["!" * m for m in range(41, 57, 2)]  # 41-55 characters, 43-57 subwords
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": {}}) for text in words + marks]

    def kinds(batcher) -> list[set[str]]:
        batches = list(batcher(examples))
        assert sorted(eg.predicted.text for batch in batches for eg in batch) == sorted(
            words + marks
        )
        return [{eg.predicted.text[0] for eg in batch} for batch in batches]

    model = str(sentiment_model_dir)
    assert all(len(kind) == 1 for kind in kinds(configure_batch_by_length(8, 2, model)))
    assert all(len(kind) == 2 for kind in kinds(configure_batch_by_length(8, 2)))
