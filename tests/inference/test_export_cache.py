"""The ONNX export cache: a model is exported once, kept under a key that changes with everything
the export depends on, checked on every use, made by one process at a time, listed and cleared by
``korsent cache``. Each test that counts exports has a cache of its own (the session's is shared).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from conftest import ROOT, TINY_MODEL

from spacy_korsent.cli import main
from spacy_korsent.inference import export_cache, onnx_export

TEXTS = ["이 영화 정말 재미있어요!", "완전 별로... 시간 낭비했다.", "굳 ㅋ"]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A cache directory of the test's own, moved there with the environment variable."""
    path = tmp_path / "cache"
    monkeypatch.setenv(export_cache.CACHE_ENV, str(path))
    return path


def count_export_children(patch: pytest.MonkeyPatch) -> list[list[str]]:
    """The command lines of the export child processes started from now on."""
    started: list[list[str]] = []
    run = subprocess.run

    def counted(command, *args, **kwargs):
        if onnx_export.__name__ in command:
            started.append(list(command))
        return run(command, *args, **kwargs)

    patch.setattr(onnx_export.subprocess, "run", counted)
    return started


@pytest.fixture
def export_children(cache, monkeypatch) -> list[list[str]]:
    """The export child processes started during the test."""
    return count_export_children(monkeypatch)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, list[dict[str, float]], list[list[str]]]:
    """A cache with the tiny model's float32 and int8 exports, made once (exports are slow), the
    int8 probabilities, and the export children started to make it. Tests that need entries
    start from a copy of it."""
    path = tmp_path_factory.mktemp("made") / "cache"
    from spacy_korsent import blank_korean

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(export_cache.CACHE_ENV, str(path))
        children = count_export_children(patch)
        int8 = []
        for backend in ("onnx", "onnx-int8", "onnx-int8"):
            nlp = blank_korean()
            nlp.add_pipe("korean_sentiment", config={"model": str(TINY_MODEL), "backend": backend})
            int8 = [dict(doc.cats) for doc in nlp.pipe(TEXTS)]
    return path, int8, children


@pytest.fixture
def filled(made, cache) -> Path:
    """The test's cache, with the tiny model's two exports in it."""
    shutil.copytree(made[0], cache)
    return cache


def probabilities(make_nlp, model: Path, backend: str = "onnx-int8") -> list[dict[str, float]]:
    nlp = make_nlp(("korean_sentiment", {"model": str(model), "backend": backend}))
    return [dict(doc.cats) for doc in nlp.pipe(TEXTS)]


def entry_dirs(cache: Path) -> list[Path]:
    exports = cache / export_cache.EXPORTS
    return sorted(path for path in exports.iterdir() if path.is_dir()) if exports.is_dir() else []


def by_export(cache: Path) -> dict[str, Path]:
    """The entries by the kind of export (``int8``, ``float32``)."""
    manifests = {path: export_cache.read_manifest(path) for path in entry_dirs(cache)}
    return {manifest["inputs"]["export"]: path for path, manifest in manifests.items() if manifest}


def test_a_model_is_exported_once_for_each_kind_of_export(made, filled):
    assert [("--quantize" in command) for command in made[2]] == [False, True]
    assert sorted(by_export(filled)) == ["float32", "int8"]
    for entry in entry_dirs(filled):
        assert sorted(file.name for file in entry.iterdir()) == ["manifest.json", "model.onnx"]


def test_a_second_load_uses_the_entry_without_starting_an_export(
    made, make_nlp, export_children, filled
):
    assert probabilities(make_nlp, TINY_MODEL) == made[1]
    probabilities(make_nlp, TINY_MODEL, backend="onnx")
    probabilities(make_nlp, TINY_MODEL, backend="openvino")  # runs the float32 export too
    assert export_children == []
    assert len(entry_dirs(filled)) == 2


def test_the_key_changes_with_weights_config_export_and_versions(tmp_path, monkeypatch):
    model = Path(shutil.copytree(TINY_MODEL, tmp_path / "model"))

    def key(int8: bool = True) -> str:
        digest = export_cache.model_digest(model)
        assert digest is not None
        return export_cache.entry_key(export_cache.key_inputs(digest, int8=int8))

    original = key()
    assert key() == original  # the same content, the same key
    assert key(int8=False) != original
    monkeypatch.setattr(export_cache, "__version__", "99.0")
    assert key() != original
    monkeypatch.undo()
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "__version__", "0.0.1")
    assert key() != original and key(int8=False) == key(int8=False)  # int8 only: the quantizer
    monkeypatch.undo()
    # The tokenizer plays no part in the graph: its files change no key.
    (model / "vocab.txt").write_text("[PAD]\n", encoding="utf-8")
    assert key() == original
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.5}))
    after_config = key()
    assert after_config != original
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    assert key() not in (original, after_config)


@pytest.mark.parametrize(
    "damage",
    ["truncated graph", "garbage graph", "missing graph", "missing manifest", "garbage manifest"],
)
def test_each_kind_of_damage_is_found(damage, tmp_path):
    entry = tmp_path / "entry"
    entry.mkdir()
    graph = entry / "model.onnx"
    graph.write_bytes(b"\x08\x07" * 500)
    manifest = {
        "format": export_cache.FORMAT,
        "key": "k",
        "model": "m",
        "inputs": {"export": "int8"},
        "created": time.time(),
        "files": {"model.onnx": {"size": 1000, "sha256": export_cache.file_sha256(graph)}},
    }
    (entry / "manifest.json").write_text(json.dumps(manifest))
    assert export_cache.damage(entry, "k") is None
    assert export_cache.damage(entry, "other key") is not None
    if damage == "truncated graph":
        graph.write_bytes(b"\x08\x07" * 100)
    elif damage == "garbage graph":  # same size, other bytes
        graph.write_bytes(b"\xff" * 1000)
    elif damage == "missing graph":
        graph.unlink()
    elif damage == "missing manifest":
        (entry / "manifest.json").unlink()
    else:
        (entry / "manifest.json").write_text('{"format": 1, "files": ')
    assert export_cache.damage(entry, "k") is not None


def test_a_damaged_entry_is_made_again_with_a_warning(made, make_nlp, export_children, filled):
    graph = by_export(filled)["int8"] / "model.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    with pytest.warns(export_cache.CacheWarning, match="damaged .*exporting the model again"):
        assert probabilities(make_nlp, TINY_MODEL) == made[1]
    assert len(export_children) == 1
    entry = by_export(filled)["int8"]
    assert export_cache.damage(entry, entry.name) is None  # whole again
    with warnings.catch_warnings():
        warnings.simplefilter("error", export_cache.CacheWarning)
        assert probabilities(make_nlp, TINY_MODEL) == made[1]
    assert len(export_children) == 1


CHILD = textwrap.dedent(
    """
    import json, sys
    from spacy_korsent import blank_korean
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": sys.argv[1], "backend": "onnx-int8"})
    print(json.dumps(nlp("정말 재미있어요").cats))
    """
)


def test_two_processes_exporting_at_once_leave_one_whole_entry(cache, tmp_path):
    model = shutil.copytree(TINY_MODEL, tmp_path / "model")  # a model no other test exported
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(model)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0]
    (entry,) = entry_dirs(cache)
    assert export_cache.damage(entry, entry.name) is None
    left = [path.name for path in (cache / export_cache.EXPORTS).iterdir() if path != entry]
    assert left == [f"{entry.name}.lock"]  # no staging directory, no half entry


def test_weights_changed_in_memory_are_not_cached(make_nlp, cache):
    from spacy.training import Example

    nlp = make_nlp(("korean_sentiment", {"model": str(TINY_MODEL), "backend": "onnx"}))
    examples = [Example.from_dict(nlp.make_doc(TEXTS[0]), {"cats": {"positive": 1.0}})]
    nlp.update(examples, sgd=nlp.create_optimizer())
    nlp(TEXTS[1])  # exported from the trained weights
    assert entry_dirs(cache) == []


def test_no_cache_variable_exports_and_writes_nothing(
    make_nlp, export_children, filled, monkeypatch
):
    monkeypatch.setenv(export_cache.NO_CACHE_ENV, "1")
    before = sorted((path, path.stat().st_mtime) for path in filled.rglob("*"))
    probabilities(make_nlp, TINY_MODEL)
    assert len(export_children) == 1  # though the cache has the export
    assert sorted((path, path.stat().st_mtime) for path in filled.rglob("*")) == before


def test_a_cache_that_cannot_be_made_is_passed_by_with_a_warning(
    made, make_nlp, export_children, tmp_path, monkeypatch
):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(export_cache.CACHE_ENV, str(tmp_path / "a-file" / "cache"))
    with pytest.warns(export_cache.CacheWarning, match="cannot be written; exporting without it"):
        assert probabilities(make_nlp, TINY_MODEL) == made[1]
    assert len(export_children) == 1


def test_the_directory_follows_the_variable_then_the_platform(tmp_path, monkeypatch):
    monkeypatch.setenv(export_cache.CACHE_ENV, str(tmp_path / "moved"))
    assert export_cache.exports_dir() == tmp_path / "moved" / "exports"
    monkeypatch.delenv(export_cache.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert export_cache.cache_dir() == tmp_path / "xdg" / "spacy-korsent"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert export_cache.cache_dir() == tmp_path / "home" / ".cache" / "spacy-korsent"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert export_cache.cache_dir() == tmp_path / "home" / "Library" / "Caches" / "spacy-korsent"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert export_cache.cache_dir() == tmp_path / "local" / "spacy-korsent"


def test_cache_list_and_clear(cache, filled, capsys):
    int8, fp32 = by_export(filled)["int8"], by_export(filled)["float32"]
    assert main(["cache", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["KEY", "BACKENDS", "SIZE", "LAST", "USED", "MODEL"]
    assert len(lines) == 4 and lines[-1].startswith("2 exports, ")
    assert lines[-1].endswith(str(filled / "exports"))
    row = next(line for line in lines if line.startswith(int8.name[:12]))
    assert "onnx-int8" in row and str(TINY_MODEL.resolve()) in row and " MB " in row
    row = next(line for line in lines if line.startswith(fp32.name[:12]))
    assert "onnx, openvino, openvino-bfloat16" in row

    old = time.time() - 10 * 86400
    os.utime(fp32, (old, old))
    assert main(["cache", "clear", "--older-than", "7d"]) == 0
    assert capsys.readouterr().out.startswith("Removed 1 export (")
    assert entry_dirs(cache) == [int8]

    assert main(["cache", "clear", "0123456789"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no cached export '0123456789'" in err
    assert entry_dirs(cache) == [int8]
    assert main(["cache", "clear", int8.name[:8]]) == 0
    assert capsys.readouterr().out.startswith("Removed 1 export (")
    assert entry_dirs(cache) == []
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out.startswith("Removed 0 exports")
    assert main(["cache", "list"]) == 0
    assert capsys.readouterr().out.startswith("No cached exports in ")


def test_a_damaged_entry_is_listed_as_damaged(filled, capsys):
    (by_export(filled)["int8"] / "manifest.json").write_text("{")
    assert main(["cache", "list"]) == 0
    assert "(damaged: made again when used)" in capsys.readouterr().out
