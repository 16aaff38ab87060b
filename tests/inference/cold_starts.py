"""Start backends cold, many times, each in a process of its own: ``python cold_starts.py SPEC``.

SPEC (JSON) names the model directory, its ONNX exports (``float32``, ``int8``), the backends, how
many cold starts each and the seconds one may take. This process loads numpy, torch,
transformers and spacy_korsent, and the torch module without running it; ONNX Runtime and
OpenVINO are never imported here. Each start is a fork of it that opens the backend with two
shard threads and runs one batch that splits over both threads, so that its first inference is
the process's first (for ONNX Runtime and OpenVINO, the first since their libraries loaded), as
in a new process, at the cost of a fork rather than an interpreter with torch. A start that
outlives its seconds is killed and counted as hung.

Prints one JSON object: for each backend the logits of every start (None for a failed or hung
one), the failures, the seconds each start took and the CPU seconds of all its starts.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import select
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from spacy_korsent.inference import loading
from spacy_korsent.inference.backends import open_backend

UNLOADED = ("openvino", "onnxruntime")
"""Runtimes a start must import itself to be cold."""


class Source:
    """The model as a backend asks for it: the torch module, or the export of a kind."""

    def __init__(self, module: torch.nn.Module, exports: dict[str, str]) -> None:
        self._module, self._exports = module, exports

    def module(self) -> torch.nn.Module:
        return self._module

    def export(self, *, int8: bool) -> Path:
        return Path(self._exports["int8" if int8 else "float32"])


def batch(vocabulary: int) -> tuple[np.ndarray, np.ndarray]:
    """Eight rows of two lengths: the shard pool spreads them over its two threads."""
    ids = np.random.default_rng(0).integers(5, vocabulary, size=(8, 24), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[:4, 12:] = 0
    return ids, mask


def start(backend: str, source: Source, ids: np.ndarray, mask: np.ndarray, out: int) -> None:
    """In the forked child: open, run, write the logits to ``out``, and end at once."""
    try:
        opened = open_backend(backend, source, device=lambda: torch.device("cpu"), n_threads=2)
        logits = opened(ids, mask)
        os.write(out, json.dumps(logits.tolist()).encode())
        code = 0
    except BaseException:
        os.write(out, json.dumps(traceback.format_exc()).encode())
        code = 1
    os._exit(code)  # no teardown of what the launcher loaded: that is not under test


def cold_start(backend: str, source: Source, ids: np.ndarray, mask: np.ndarray, limit: float):
    """One start: (logits or None, failure or None, seconds)."""
    loaded = [name for name in UNLOADED if name in sys.modules]
    assert not loaded, f"{loaded} loaded before a cold start"
    read, write = os.pipe()
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        start(backend, source, ids, mask, write)
    os.close(write)
    chunks, deadline = [], began + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            continue
        chunk = os.read(read, 1 << 20)
        if not chunk:  # the child ended
            break
        chunks.append(chunk)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(read)
        return None, f"hung (killed after {limit:.0f} s)", time.monotonic() - began
    os.close(read)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    answer = json.loads(b"".join(chunks) or b"null")
    if status != 0:
        return None, f"exit {status}: {answer}", time.monotonic() - began
    return answer, None, time.monotonic() - began


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main(spec: dict) -> dict:
    config = loading.load_config(spec["model"])
    module = loading.load_model(spec["model"], config)  # loaded, never run here
    source = Source(module, spec["exports"])
    ids, mask = batch(config.vocab_size)
    gc.freeze()  # a start's garbage collections leave the launcher's objects (and pages) alone
    found = {}
    for backend in spec["backends"]:
        before = _children_cpu()
        runs = [
            cold_start(backend, source, ids, mask, spec["limit"]) for _ in range(spec["starts"])
        ]
        found[backend] = {
            "logits": [logits for logits, _, _ in runs],
            "failures": [failure for _, failure, _ in runs if failure],
            "seconds": [seconds for _, _, seconds in runs],
            "cpu_seconds": _children_cpu() - before,
        }
    return found


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
