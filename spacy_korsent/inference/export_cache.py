"""ONNX exports kept on disk between runs, so that only the first run of a model exports it.

Exporting a base-sized model takes longer than classifying a few thousand short texts with it, so
without a cache the fastest backend was the slowest for files of everyday size. Each export is
kept in a directory of its own, named by a key that changes with everything the export depends on:

- the model's content: the sha256 of its ``config.json`` and weight files (the tokenizer plays no
  part: the graph takes token ids);
- the kind of export: ``float32`` (run by the ``onnx``, ``openvino`` and ``openvino-bfloat16``
  backends alike) or ``int8`` (``onnx-int8``), with how int8 quantizes activations;
- the versions of spacy-korsent, torch, transformers and onnx (the exporter), of onnxruntime for
  int8 (the quantizer), and the opset.

Layout: ``<cache>/exports/<key>/`` holds ``model.onnx`` and ``manifest.json`` (what the key was
made from, when, and the graph's size and sha256). An entry is made in a staging directory beside
the others and renamed into place whole; a process that finds its key taken by then uses the entry
already there. While one process exports, another that wants the same key waits on ``<key>.lock``
(``fcntl.flock``; without it, as on Windows, both export and one rename wins). Every use checks the
graph against the manifest: a truncated or damaged entry (a full disk, a crash before the data
reached the disk, a hand edit) is removed and made again, with a :class:`CacheWarning`. Nothing in
the cache is executed or unpickled: the manifest is JSON, the graph is data for ONNX Runtime or
OpenVINO. Only exports of weights that are on disk are cached; weights changed in memory (a
training step) are exported to the component's scratch directory, as they change too often to
keep. A saved pipeline's own ``model.onnx`` is run as it is and never enters the cache: nothing
proves it an export of the weights beside it, and under their key it would be served for every
other copy of them.

Where: ``exports/`` in :func:`spacy_korsent.user_cache.cache_dir` (``$SPACY_KORSENT_CACHE``, else
the platform's user cache directory). ``SPACY_KORSENT_NO_CACHE=1`` exports afresh every time
and writes nothing there. ``korsent cache`` lists and clears the entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .. import __version__, scratch
from ..user_cache import CACHE_ENV, cache_dir
from . import onnx_export
from .loading import local_model_dir, weight_files
from .onnx_backend import require
from .row_quantization import PER_TOKEN

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

NO_CACHE_ENV = "SPACY_KORSENT_NO_CACHE"
"""Set (to anything but ``0``): export every time, read and write no cache."""
EXPORTS = "exports"
GRAPH = "model.onnx"
MANIFEST = "manifest.json"
FORMAT = 1
"""The layout of an entry; a new one makes new keys."""
KEY_LENGTH = 32
STAGING = ".staging-"
_CHUNK = 1 << 20


class CacheWarning(UserWarning):
    """The export cache cannot be used as it is: a damaged entry is made again, a cache that
    cannot be written is passed by."""


def exports_dir() -> Path:
    """Where the export entries are, one directory each."""
    return cache_dir() / EXPORTS


def enabled() -> bool:
    """Whether exports are cached (``SPACY_KORSENT_NO_CACHE`` unset or ``0``)."""
    return os.environ.get(NO_CACHE_ENV, "") in ("", "0")


# --- keys --------------------------------------------------------------------------------------


def model_digest(directory: Path) -> Optional[str]:
    """sha256 over the names, sizes and contents of the model's config and weight files; None
    when ``directory`` has no config or no weights (nothing to key an export by)."""
    config = directory / "config.json"
    weights = weight_files(directory)
    if not config.is_file() or not weights:
        return None
    digest = hashlib.sha256()
    for file in [config, *weights]:
        digest.update(f"{file.name}\0{file.stat().st_size}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def key_inputs(model: str, *, int8: bool) -> dict[str, Any]:
    """What an export of the model with digest ``model`` depends on (the manifest records it)."""
    versions = {"spacy-korsent": __version__}
    for module in ("torch", "transformers", "onnx", *(["onnxruntime"] if int8 else [])):
        versions[module] = str(require(module).__version__)
    inputs = {
        "format": FORMAT,
        "model_sha256": model,
        "export": "int8" if int8 else "float32",
        "opset": onnx_export.OPSET,
        "versions": versions,
    }
    if int8:
        inputs["int8_activations"] = PER_TOKEN
    return inputs


def entry_key(inputs: dict[str, Any]) -> str:
    """The entry's directory name: a digest of :func:`key_inputs`."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:KEY_LENGTH]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- using and making entries ------------------------------------------------------------------


def cached_export(source: str, target: Path, *, int8: bool) -> Path:
    """Put an export of the model ``source`` (directory or hub id) at ``target``: from the
    cache, or exported (in a child process, :func:`~.onnx_export.export_onnx`) and cached first.

    A model that cannot be keyed (a hub id not downloaded yet, a directory without weights) is
    exported straight to ``target``. ``target`` is a hard link to (or, across file systems, a
    copy of) the entry's graph, so that clearing the cache never takes it from a running process.
    """
    model_dir = local_model_dir(source)
    digest = None if model_dir is None else model_digest(model_dir)
    if model_dir is None or digest is None:
        return onnx_export.export_onnx(source, target, quantize=int8)
    # What ``korsent cache list`` names: the directory in full, or the hub id.
    name = str(model_dir.resolve()) if model_dir == Path(source).expanduser() else source
    inputs = key_inputs(digest, int8=int8)
    key = entry_key(inputs)
    root = exports_dir()
    entry = root / key
    if _take(entry, key, target):
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
        writable = os.access(root, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        warnings.warn(
            f"The export cache {root} cannot be written; exporting without it (move it with "
            f"{CACHE_ENV}, or set {NO_CACHE_ENV}=1).",
            CacheWarning,
            stacklevel=2,
        )
        return onnx_export.export_onnx(source, target, quantize=int8)
    with _key_lock(root / f"{key}.lock"):
        if not _take(entry, key, target):  # still none: another process did not make it
            _make(model_dir, entry, inputs, name=name, int8=int8)
            if not _take(entry, key, target, made_now=True):
                raise onnx_export.ExportError(f"The export cached in {entry} cannot be read back.")
    return target


def _take(entry: Path, key: str, target: Path, *, made_now: bool = False) -> bool:
    """Link ``entry``'s graph to ``target`` if the entry is whole; remove a damaged one. An
    entry ``made_now`` whose graph ``target`` is (a hard link) was hashed as it was written: its
    size is checked, not its sha256 again."""
    if not entry.is_dir():
        return False
    target.unlink(missing_ok=True)
    try:
        _link_or_copy(entry / GRAPH, target)
    except OSError:
        problem: Optional[str] = f"{GRAPH} cannot be read"
    else:
        # The linked file is checked, not the entry: what is checked is what will run.
        full = not (made_now and os.path.samefile(entry / GRAPH, target))
        problem = damage(entry, key, target, full=full)
    if problem is None:
        # The entry's time is its last use (``--older-than``); a read-only cache is still used.
        with suppress(OSError):
            os.utime(entry)
        return True
    target.unlink(missing_ok=True)
    warnings.warn(
        f"The cached ONNX export {entry} is damaged ({problem}); exporting the model again.",
        CacheWarning,
        stacklevel=2,
    )
    with suppress(OSError):  # a read-only cache: exported without it (see cached_export)
        remove_entry(entry)
    return False


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        if not source.is_file():
            raise
        shutil.copyfile(source, target)


def damage(
    entry: Path, key: str, graph: Optional[Path] = None, *, full: bool = True
) -> Optional[str]:
    """What is wrong with the entry (None: nothing): its manifest, or the graph (``graph``,
    default the entry's own) against the size and, with ``full``, the sha256 it records."""
    return manifest_damage(read_manifest(entry), entry, key, graph, full=full)


def manifest_damage(
    manifest: Optional[dict[str, Any]],
    entry: Path,
    key: str,
    graph: Optional[Path] = None,
    *,
    full: bool = True,
) -> Optional[str]:
    """:func:`damage` with the entry's manifest already read (None: unreadable)."""
    if manifest is None:
        return f"no readable {MANIFEST}"
    if manifest.get("key") != key:
        return f"{MANIFEST} is for another key"
    expected = manifest["files"][GRAPH]
    graph = graph if graph is not None else entry / GRAPH
    try:
        size = graph.stat().st_size
    except OSError:
        return f"{GRAPH} is missing"
    if size != expected["size"]:
        return f"{GRAPH} has {size:,} bytes, not {expected['size']:,}"
    if full and file_sha256(graph) != expected["sha256"]:
        return f"{GRAPH} does not match its sha256"
    return None


def read_manifest(entry: Path) -> Optional[dict[str, Any]]:
    """The entry's manifest if it is one this version wrote (JSON with the expected fields)."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        graph = files[GRAPH]
        valid = (
            manifest["format"] == FORMAT
            and set(files) == {GRAPH}
            and isinstance(graph["size"], int)
            and isinstance(graph["sha256"], str)
            and isinstance(manifest["created"], (int, float))
            and isinstance(manifest["model"], str)
            and isinstance(manifest["inputs"]["export"], str)
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    return manifest if valid else None


def _make(model_dir: Path, entry: Path, inputs: dict[str, Any], *, name: str, int8: bool) -> None:
    """Export into a staging directory beside the entries, then rename it into place whole."""
    with scratch.temporary(STAGING, entry.parent) as staging:
        made = staging / entry.name
        made.mkdir()
        graph = onnx_export.export_onnx(model_dir, made / GRAPH, quantize=int8)
        manifest = {
            "format": FORMAT,
            "key": entry.name,
            "model": name,
            "inputs": inputs,
            "created": time.time(),
            "files": {GRAPH: {"size": graph.stat().st_size, "sha256": file_sha256(graph)}},
        }
        (made / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        try:
            os.rename(made, entry)
        except OSError:
            # Taken meanwhile (by a process that did not wait on the lock): that entry is used,
            # or a damaged one is found and made again by the next run.
            if not entry.is_dir():
                raise


def remove_entry(entry: Path) -> None:
    """Remove an entry: renamed out of the way first, so that no reader sees half of one."""
    # FileNotFoundError: removed by another process already.
    with scratch.temporary(STAGING, entry.parent) as staging, suppress(FileNotFoundError):
        os.rename(entry, staging / entry.name)


@contextmanager
def _key_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` locked while this process makes the entry (nothing without ``fcntl``)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# --- listing and clearing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One export in the cache, as ``korsent cache list`` shows it."""

    key: str
    path: Path
    size: int
    """Bytes on disk (the graph and the manifest)."""
    used: float
    """When it was made or last used (seconds since the epoch)."""
    manifest: Optional[dict[str, Any]]
    """None when it cannot be read (the entry is damaged and would be made again)."""

    @property
    def model(self) -> str:
        return str(self.manifest["model"]) if self.manifest else "?"

    @property
    def export(self) -> str:
        return str(self.manifest["inputs"]["export"]) if self.manifest else "?"

    @property
    def whole(self) -> bool:
        """Manifest readable and the graph's size as recorded (no sha256: listing stays fast)."""
        return manifest_damage(self.manifest, self.path, self.key, full=False) is None


def entries() -> list[Entry]:
    """The entries in the cache, least recently used first."""
    root = exports_dir()
    try:
        found = [path for path in root.iterdir() if path.is_dir() and path.name[0] != "."]
    except FileNotFoundError:
        return []
    listed = []
    for path in found:
        try:
            size = sum(file.stat().st_size for file in path.iterdir() if file.is_file())
            used = path.stat().st_mtime
        except OSError:
            continue  # removed while listing
        listed.append(Entry(path.name, path, size, used, read_manifest(path)))
    return sorted(listed, key=lambda entry: entry.used)


def remove(chosen: list[Entry]) -> None:
    """Remove the ``chosen`` entries, their lock files when no process holds them, and staging
    directories left by killed processes."""
    for entry in chosen:
        remove_entry(entry.path)
        _remove_unheld_lock(entry.path.with_name(f"{entry.key}.lock"))
    scratch.remove_stale(exports_dir(), STAGING)


def _remove_unheld_lock(path: Path) -> None:
    if fcntl is None:  # pragma: no cover - Windows
        path.unlink(missing_ok=True)
        return
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except OSError:
        pass  # an export of that key is under way
    finally:
        os.close(fd)
