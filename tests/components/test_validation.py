"""Settings, a saved ``cfg`` and component bytes are checked by type and range: one line that names
the field and what it must be, never a silent conversion or a crash deep in torch."""

from __future__ import annotations

import json

import pytest
import spacy
import srsly
from conftest import TINY_MODEL

from spacy_korsent.files import packing


def assert_one_line(caught: pytest.ExceptionInfo, *words: str) -> None:
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message


@pytest.mark.parametrize(
    "setting, value, words",
    [
        ("labels", ["a", "a"], ["labels", "'a' twice"]),
        ("labels", ["positive"], ["labels", "at least two"]),
        ("labels", ["negative", " "], ["labels", "none empty"]),
        ("batch_tokens", "5", ["batch_tokens must be a whole number", "'5'"]),
        ("batch_tokens", 0, ["batch_tokens must be at least 1"]),
        ("batch_tokens", -512, ["batch_tokens must be at least 1"]),
        ("buffer_size", 0, ["buffer_size must be at least 1"]),
        ("n_threads", -1, ["n_threads must be at least 1", "-1"]),
        ("n_threads", 0, ["n_threads must be at least 1"]),
        ("temperature", "2", ["temperature must be a number or null", "'2'"]),
    ],
)
def test_a_setting_that_cannot_work_is_refused_at_once(make_nlp, setting, value, words):
    config = {"model": str(TINY_MODEL), setting: value}
    with pytest.raises(ValueError) as caught:
        make_nlp(("korean_sentiment", config))
    assert_one_line(caught, "korean_sentiment: ", *words)


@pytest.mark.parametrize(
    "device, words",
    [
        ("cuda:99", ["device='cuda:99'"]),
        ("meta", ["device='meta'", "'cpu', 'cuda', 'cuda:N' or 'mps'"]),
        ("gpu", ["device='gpu' is not a torch device"]),
    ],
)
def test_a_device_the_machine_lacks_is_one_line(make_nlp, device, words):
    nlp = make_nlp(("korean_sentiment", {"model": str(TINY_MODEL), "device": device}))
    with pytest.raises(ValueError) as caught:
        nlp("좋다")
    assert_one_line(caught, *words)


@pytest.fixture(scope="module")
def saved_files() -> dict:
    """The files of the tiny model's component, as its to_bytes() packs them."""
    nlp = spacy.blank("ko", config={"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}})
    nlp.add_pipe("korean_sentiment", config={"model": str(TINY_MODEL)})
    return srsly.msgpack_loads(nlp.get_pipe("korean_sentiment").to_bytes())


def fresh(make_nlp):
    return make_nlp(("korean_sentiment", {"model": "/gone"})).get_pipe("korean_sentiment")


@pytest.mark.parametrize(
    "change, words",
    [
        ({"labels": "ab"}, ["labels must be a list of strings", "'ab'"]),
        ({"labels": ["negative", "negative"]}, ["labels", "'negative' twice"]),
        ({"multi_label": "yes"}, ["multi_label must be true or false", "'yes'"]),
        ({"multi_label": 1}, ["multi_label must be true or false"]),
        ({"positive_label": "좋음"}, ["positive_label must be one of the labels"]),
        ({"onnx_quantized": "no"}, ["onnx_quantized must be true or false or null"]),
        ({"labels": ["a", "b", "c"], "positive_label": None}, ["3 labels", "2 classes"]),
    ],
)
def test_a_saved_cfg_is_checked_like_a_config(make_nlp, saved_files, change, words):
    cfg = {**json.loads(saved_files["cfg"]), **change}
    crafted = srsly.msgpack_dumps({**saved_files, "cfg": json.dumps(cfg).encode()})
    with pytest.raises(ValueError) as caught:
        fresh(make_nlp).from_bytes(crafted)
    assert_one_line(caught, "korean_sentiment: ", *words)


@pytest.mark.parametrize("cfg", [b"[1, 2]", b'"labels"', b"{not json"])
def test_a_saved_cfg_that_is_no_json_object_is_refused(make_nlp, saved_files, cfg):
    with pytest.raises(ValueError) as caught:
        fresh(make_nlp).from_bytes(srsly.msgpack_dumps({**saved_files, "cfg": cfg}))
    assert_one_line(caught, "korean_sentiment: the saved cfg cannot be used")


def test_a_cfg_read_from_disk_gets_the_same_check(make_nlp, tmp_path):
    nlp = make_nlp(("korean_sentiment", {"model": str(TINY_MODEL)}))
    nlp.to_disk(tmp_path / "pipeline")
    cfg = tmp_path / "pipeline" / "korean_sentiment" / "cfg"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "multi_label": "yes"}))
    with pytest.raises(ValueError) as caught:
        spacy.load(tmp_path / "pipeline")
    assert_one_line(caught, "multi_label must be true or false")


@pytest.mark.parametrize("data", [b"\xc1", b"\x91" * 100_000, b"\x81\x90\x01", b"garbage"])
def test_bytes_that_are_not_msgpack_say_why(make_nlp, data):
    with pytest.raises(ValueError) as caught:
        fresh(make_nlp).from_bytes(data)
    assert_one_line(caught, "these bytes cannot be loaded: they are not msgpack")
    reason = str(caught.value).split(" writes it (", 1)[1]
    assert reason.strip(" )")  # a reason, not an empty one


def test_component_bytes_hold_a_limited_number_of_files(make_nlp, tmp_path):
    files = {f"model/x{i}": b"" for i in range(packing.MAX_FILES)}
    with pytest.raises(ValueError) as caught:
        fresh(make_nlp).from_bytes(srsly.msgpack_dumps({"cfg": b"{}", **files}))
    assert_one_line(caught, "1,001 files", "at most 1,000")


def test_only_weights_may_exceed_the_file_size_limit(make_nlp, saved_files, monkeypatch):
    monkeypatch.setattr(packing, "MAX_FILE_BYTES", 800_000)  # tokenizer.json has 753,699
    big = {**saved_files, "model/tokenizer_config.json": b" " * 800_001}
    with pytest.raises(ValueError) as caught:
        fresh(make_nlp).from_bytes(srsly.msgpack_dumps(big))
    assert_one_line(caught, "'model/tokenizer_config.json' has 800,001 bytes", "800,000")
    assert len(saved_files["model/model.safetensors"]) > 800_000  # the weights still load
    component = fresh(make_nlp).from_bytes(srsly.msgpack_dumps(saved_files))
    assert component.labels == ("negative", "positive")
