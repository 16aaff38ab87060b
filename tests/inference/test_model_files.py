"""A model directory (or a saved pipeline, or bytes) makes loading read nothing outside itself."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from conftest import TINY_MODEL

from spacy_korsent import ModelNotFoundError
from spacy_korsent.inference.loading import load_model, load_tokenizer

SECRET = "바깥비밀토큰"
"""A token that only the vocabulary outside the model directory has."""

OPENED: list[str] = []
"""Paths opened by Python while a test watches (see :func:`watch_opens`)."""
_WATCHING: list[bool] = []


def _record(event: str, args: tuple) -> None:
    if _WATCHING and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_record)  # hooks cannot be removed: this one records only while watched


@pytest.fixture
def opened():
    """The paths Python opens during the test (Rust code, such as tokenizers', is not seen)."""
    OPENED.clear()
    _WATCHING.append(True)
    yield OPENED
    _WATCHING.clear()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable vocabulary outside any model directory, with a token of its own."""
    path = tmp_path / "elsewhere" / "vocab.txt"
    path.parent.mkdir()
    path.write_text((TINY_MODEL / "vocab.txt").read_text(encoding="utf-8") + SECRET + "\n")
    return path


def tokenizer_dir(path: Path, *, weights: bool = False, **settings: object) -> Path:
    """The tiny model's config and tokenizer settings (with ``settings`` added), without
    ``tokenizer.json`` and ``vocab.txt``: a few KB, and the weights (hard-linked) if asked."""
    path.mkdir(parents=True)
    for name in ("config.json", "special_tokens_map.json"):
        shutil.copyfile(TINY_MODEL / name, path / name)
    tokenizer_config = json.loads((TINY_MODEL / "tokenizer_config.json").read_text())
    (path / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config, **settings}))
    if weights:
        _link_or_copy(TINY_MODEL / "model.safetensors", path / "model.safetensors")
    return path


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # a hard link is the file itself, inside the directory
    except OSError:
        shutil.copyfile(source, target)


def assert_refused(load, model: Path, key: str, path: object) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        load(model)
    message = str(caught.value)
    assert "\n" not in message and key in message and str(path) in message, message
    assert "outside" in message


@pytest.mark.parametrize("key", ["vocab_file", "tokenizer_file", "merges_file", "spm_file"])
def test_a_tokenizer_file_named_outside_the_directory_is_refused_unread(
    tmp_path, outside, opened, key
):
    model = tokenizer_dir(tmp_path / "model", **{key: str(outside)})
    assert_refused(load_tokenizer, model, key, outside)
    assert str(outside) not in opened


def test_a_relative_path_is_refused_where_it_leads_out(tmp_path, outside, opened, monkeypatch):
    model = tokenizer_dir(tmp_path / "model", vocab_file="../elsewhere/vocab.txt")
    monkeypatch.chdir(model)  # transformers opens the path as given, from the working directory
    assert_refused(load_tokenizer, model, "vocab_file", "../elsewhere/vocab.txt")
    assert not any(Path(path).resolve() == outside for path in opened)


def test_positional_tokenizer_arguments_are_checked_too(tmp_path, outside):
    model = tokenizer_dir(tmp_path / "model", init_inputs=[str(outside)])
    assert_refused(load_tokenizer, model, "init_inputs", outside)


def test_a_linked_file_that_leads_out_is_refused(tmp_path, outside, opened):
    model = tokenizer_dir(tmp_path / "model")
    (model / "vocab.txt").symlink_to(outside)
    assert_refused(load_tokenizer, model, "vocab.txt (a link)", outside)
    assert not any(Path(path).resolve() == outside for path in opened)


@pytest.mark.parametrize(
    "file, content, key",
    [
        ("model.safetensors.index.json", {"weight_map": {"w": "../w.safetensors"}}, "weight_map"),
        ("adapter_config.json", {"base_model_name_or_path": "{outside}"}, "base_model_name"),
        ("tokenizer_config.json", {"fast_tokenizer_files": {"4.0.0": "../t.json"}}, "fast_tok"),
    ],
)
def test_other_files_named_by_the_directory_must_be_inside_it(
    tmp_path, outside, file, content, key
):
    model = tokenizer_dir(tmp_path / "model")
    text = json.dumps(content).replace("{outside}", str(outside.parent))
    (model / file).write_text(text)
    with pytest.raises(ModelNotFoundError, match=rf"{file}'s {key}.*leads outside it"):
        load_model(model)


def test_stale_paths_transformers_never_opens_are_left_alone(tmp_path, outside, opened):
    """Old models on the hub keep paths of their authors' machines in these keys."""
    stale = {key: str(outside) for key in ("special_tokens_map_file", "added_tokens_file")}
    model = tokenizer_dir(tmp_path / "model", name_or_path=str(outside), **stale)
    shutil.copyfile(TINY_MODEL / "vocab.txt", model / "vocab.txt")
    assert load_tokenizer(model).tokenize(SECRET) != [SECRET]
    assert str(outside) not in opened


def test_a_snapshot_of_the_hub_cache_may_link_into_its_blobs(tmp_path, make_nlp):
    """``models--org--name/snapshots/<revision>`` holds links to ``../../blobs``, as the Hugging
    Face cache lays out a model; its directory may be given as a local model."""
    repo = tmp_path / "models--org--tiny"
    snapshot = repo / "snapshots" / "abc123"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in TINY_MODEL.iterdir():
        _link_or_copy(file, repo / "blobs" / file.name)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", file.name))
    nlp = make_nlp(("korean_sentiment", {"model": str(snapshot)}))
    assert nlp("정말 재미있다")._.sentiment["label"] in ("negative", "positive")


def test_a_pipeline_never_carries_a_file_from_outside(tmp_path, outside, make_nlp):
    """The issue's case: a vocabulary named from outside ended up in to_bytes() and saved
    pipelines; a saved pipeline or bytes that name one are refused as well."""
    model = tokenizer_dir(tmp_path / "model", weights=True, vocab_file=str(outside))
    with pytest.raises(ModelNotFoundError, match="vocab_file"):
        make_nlp(("korean_sentiment", {"model": str(model)}))("좋다")

    shutil.copyfile(TINY_MODEL / "vocab.txt", model / "vocab.txt")
    (model / "tokenizer_config.json").write_text((TINY_MODEL / "tokenizer_config.json").read_text())
    nlp = make_nlp(("korean_sentiment", {"model": str(model)}))
    nlp.to_disk(tmp_path / "pipeline")
    saved = tmp_path / "pipeline" / "korean_sentiment" / "model" / "tokenizer_config.json"
    settings = json.loads(saved.read_text())
    saved.write_text(json.dumps({**settings, "vocab_file": str(outside)}))
    (saved.parent / "tokenizer.json").unlink()
    (saved.parent / "vocab.txt").unlink()
    with pytest.raises(ModelNotFoundError, match="vocab_file"):
        spacy.load(tmp_path / "pipeline")

    files = srsly.msgpack_loads(nlp.get_pipe("korean_sentiment").to_bytes())
    files["model/tokenizer_config.json"] = saved.read_bytes()
    del files["model/tokenizer.json"], files["model/vocab.txt"]
    component = make_nlp(("korean_sentiment", {"model": "/gone"})).get_pipe("korean_sentiment")
    with pytest.raises(ModelNotFoundError, match="vocab_file"):
        component.from_bytes(srsly.msgpack_dumps(files))
    assert SECRET.encode() not in nlp.to_bytes()


def test_a_saved_component_may_not_link_out_of_its_directory(tmp_path, outside, make_nlp):
    nlp = make_nlp(("korean_sentiment", {"model": str(TINY_MODEL)}))
    nlp.to_disk(tmp_path / "pipeline")
    component = tmp_path / "pipeline" / "korean_sentiment"
    (component / "model.onnx").symlink_to(outside)
    with pytest.raises(ModelNotFoundError, match=r"model\.onnx \(a link\) leads outside"):
        spacy.load(tmp_path / "pipeline")


def test_every_file_argument_of_the_installed_transformers_is_checked():
    """The keys come from transformers' tokenizers (``vocab_files_names``): a new one in a later
    version shows up here."""
    import re

    import transformers

    from spacy_korsent.inference.model_files import NOT_OPENED, TOKENIZER_FILE_KEYS

    names = set()
    for source in Path(transformers.__file__).parent.rglob("tokenization_*.py"):
        text = source.read_text(encoding="utf-8")
        for block in re.findall(
            r"(?:VOCAB_FILES_NAMES|vocab_files_names)\s*=\s*\{(.*?)\}", text, re.S
        ):
            names.update(re.findall(r'"(\w+)"\s*:', block))
    assert "vocab_file" in names and "merges_file" in names
    assert names - NOT_OPENED <= TOKENIZER_FILE_KEYS


def test_a_hub_model_in_the_cache_is_checked_as_its_snapshot(tmp_path, outside, monkeypatch):
    import huggingface_hub.constants
    import transformers.utils.hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(transformers.utils.hub, "TRANSFORMERS_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = tokenizer_dir(repo / "snapshots" / "abc123", tokenizer_file=str(outside))
    shutil.copyfile(TINY_MODEL / "vocab.txt", snapshot / "vocab.txt")
    assert_refused(load_tokenizer, "org/tiny", "tokenizer_file", outside)
