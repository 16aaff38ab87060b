"""Every CPU backend starts cold with two shard threads, twenty times, without hanging.

Two shard threads making OpenVINO's first inference of a process at the same moment used to
deadlock inside its Python binding, in the one-time lookup of numpy's C API (issue 28). On this
project's 2-core AMX machines 22 of 180 cold starts of the test model hung before the fix (9 of
100 in bfloat16, 13 of 80 in float32), none of 360 after it. That setup is per process, so each
start needs a process in which the runtime never ran: ``cold_starts.py`` forks one per start
from a launcher that has loaded torch and the model but never imported ONNX Runtime or OpenVINO
(a start takes 0.05 s on torch, 0.1 s on ONNX Runtime, 0.4 to 0.5 s on OpenVINO, where an
interpreter with torch would take seconds). Twenty starts per backend find a one-in-ten hang with
a probability of 88% per OpenVINO precision, 99% for the two together; the 120 starts take about
25 s, the two exports they need as long again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY_MODEL

from spacy_korsent.inference import parallel
from spacy_korsent.inference.backends import BACKENDS, open_backend
from spacy_korsent.inference.precision import unsupported

pytestmark = pytest.mark.slow

STARTS = 20
LIMIT = 60.0
"""Seconds one start may take (a few tenths on a quiet machine; a hang never ends)."""
TOLERANCE = {"float32": 1e-3, "int8": 0.5, "bfloat16": 0.5}
"""Largest difference to torch's float32 logits, by precision (the test model's logits are
about ±3)."""


def runnable(name: str) -> bool:
    kind = BACKENDS[name]
    if kind.extra and not find_spec("onnxruntime" if kind.runtime == "onnx" else kind.runtime):
        return False
    return unsupported(name, kind.dtype, torch.device("cpu")) is None


CPU_BACKENDS = [name for name in BACKENDS if name != "torch-float16"]


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """The test model's float32 and int8 exports, made side by side."""
    from spacy_korsent.inference.onnx_export import export_onnx

    if not find_spec("onnxruntime"):
        return {}
    folder = tmp_path_factory.mktemp("exports")

    def made(kind: str) -> str:
        return str(export_onnx(TINY_MODEL, folder / f"{kind}.onnx", quantize=kind == "int8"))

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(["float32", "int8"], pool.map(made, ["float32", "int8"])))


def test_every_backend_starts_cold_twenty_times_with_two_shard_threads(exports):
    backends = [name for name in CPU_BACKENDS if runnable(name)]
    spec = {
        "model": str(TINY_MODEL),
        "exports": exports,
        "backends": backends,
        "starts": STARTS,
        "limit": LIMIT,
    }
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    launcher = Path(__file__).with_name("cold_starts.py")
    done = subprocess.run(
        [sys.executable, str(launcher), json.dumps(spec)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=60 + LIMIT * STARTS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    reference = np.array(found["torch"]["logits"][0])
    for name in backends:
        runs = found[name]
        assert not runs["failures"], f"{name}: {runs['failures'][:3]}"
        logits = np.array(runs["logits"])
        assert logits.shape == (STARTS, *reference.shape)
        assert np.allclose(logits, logits[0], atol=1e-5), f"{name}: starts disagree"
        precision = "int8" if BACKENDS[name].export == "int8" else BACKENDS[name].dtype
        assert np.abs(logits[0] - reference).max() < TOLERANCE[precision], name


@pytest.mark.parametrize("name", CPU_BACKENDS)
def test_the_first_inference_runs_alone_before_the_shards_fan_out(name, exports, monkeypatch):
    """Whatever the runtime sets up on its first call is set up by one thread, while opening."""
    if not runnable(name):
        pytest.skip(f"{name} cannot run here")
    calls: list[tuple[str, int, int]] = []  # (event, thread, rows), in order
    original = parallel.ShardPool.__call__

    def watched(pool, forward, input_ids, attention_mask):
        def recorded(ids, mask):
            calls.append(("begin", threading.get_ident(), len(ids)))
            try:
                return forward(ids, mask)
            finally:
                calls.append(("end", threading.get_ident(), len(ids)))

        return original(pool, recorded, input_ids, attention_mask)

    monkeypatch.setattr(parallel.ShardPool, "__call__", watched)
    backend = open_backend(name, _Source(exports), device=lambda: torch.device("cpu"), n_threads=2)
    if BACKENDS[name].runtime != "torch":  # torch sets up on the first batch, before its shards
        assert len(calls) == 2
    ids = np.full((8, 6), 7, dtype=np.int64)
    mask = np.ones_like(ids)
    mask[:4, 3:] = 0
    backend(ids, mask)
    warm_up = calls[0][1]
    assert calls[:2] == [("begin", warm_up, 1), ("end", warm_up, 1)]  # alone, first
    runs = [rows for event, _, rows in calls[2:] if event == "begin"]
    assert len(runs) > 1 and sum(runs) == 8  # then the batch fans out over the shard threads


class _Source:
    def __init__(self, exports: dict[str, str]) -> None:
        self.exports = exports

    def module(self):
        from spacy_korsent.inference.loading import load_model

        return load_model(TINY_MODEL)

    def export(self, *, int8: bool) -> Path:
        return Path(self.exports["int8" if int8 else "float32"])
