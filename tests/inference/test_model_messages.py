"""A model that cannot be loaded: a short line that says what is wrong with what was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spacy_korsent import ModelNotFoundError
from spacy_korsent.inference.loading import load_tokenizer, looks_like_path, resolve_source


@pytest.mark.parametrize(
    "name",
    ["./models/my-sentimnet", "../my-sentiment", "/opt/models/sentiment", "~/no-such-model-dir",
     "models/korean/sentiment", "my-sentiment/"],
)  # fmt: skip
def test_a_path_that_does_not_exist_is_called_a_missing_directory(name: str) -> None:
    assert looks_like_path(name)
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_source(name)
    message = str(caught.value)
    assert "does not exist" in message and "huggingface-cli" not in message


@pytest.mark.parametrize("name", ["cringepnh/koelectra-korean-sentiment", "gpt2", "org/name"])
def test_hub_ids_are_not_paths(name: str) -> None:
    assert not looks_like_path(name)


def test_a_mistyped_directory_names_the_ones_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models" / "my-sentiment").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"does not exist; 'models' has 'my-sentiment'"):
        resolve_source("./models/my-sentimnet")


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="is a file, not a model directory"):
        resolve_source(str(weights))


@pytest.mark.parametrize(
    ("config", "missing"),
    [(None, "it has no config.json"),
     ("{not json", "its config.json cannot be read as JSON"),
     (json.dumps({"architectures": ["BertModel"]}), "its config.json has no model_type")],
)  # fmt: skip
def test_a_directory_that_is_not_a_model_says_what_it_lacks_in_one_short_line(
    tmp_path: Path, config: str | None, missing: str
) -> None:
    """transformers' own message listed every model type: 4.3 KB on one line."""
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    if config is not None:
        (tmp_path / "config.json").write_text(config, encoding="utf-8")
    with pytest.raises(ModelNotFoundError) as caught:
        load_tokenizer(tmp_path)
    message = str(caught.value)
    assert missing in message and len(message) < 500, message
    assert "\n" not in message


def test_the_command_line_says_a_mistyped_local_model_directory_does_not_exist(
    tmp_path: Path,
) -> None:
    (tmp_path / "models" / "my-sentiment").mkdir(parents=True)
    argv = ["analyze", "--sentiment-model", "./models/my-sentimnet", "좋아요"]
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}  # a hub id would try the network: not this
    done = subprocess.run(
        [sys.executable, "-m", "spacy_korsent", *argv],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert "the directory 'models/my-sentimnet' does not exist" in done.stderr
    assert "'my-sentiment'" in done.stderr and "huggingface-cli" not in done.stderr
