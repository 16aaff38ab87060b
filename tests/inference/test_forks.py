"""A process forked from one that ran a model on the ONNX backends (gunicorn ``--preload``, uWSGI,
Celery prefork, ``os.fork()``) exits with its own status, promptly, after flushing its output and
running its ``atexit`` handlers: it used to hang in onnxruntime's exit handlers, and in OpenVINO's
when it freed the parent's compiled model.

The model is a two-node ONNX graph with the backends' inputs and output, so that no export is
needed; tests/inference/test_gunicorn.py runs the real model under gunicorn.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import atexit, json, logging, os, sys, time
import numpy as np
from spacy_korsent.inference.{module} import {backend}

backend = {backend}(sys.argv[1], n_threads=2)
ids = np.array([[2, 5, 3]], dtype=np.int64)
mask = np.ones_like(ids)
backend(ids, mask)  # the parent runs the model before it forks
logging.basicConfig(filename=sys.argv[2], level=logging.INFO)
pid = os.fork()
if pid == 0:
    atexit.register(print, "atexit handler ran")
    print("child got", backend(ids, mask).tolist(), end="; ")  # left in stdout's buffer
    logging.info("child logged")
    {leave}
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print(json.dumps(os.waitstatus_to_exitcode(status)))
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    print(json.dumps("hung"))
"""

BACKENDS = [
    pytest.param(
        ("onnx_backend", "OnnxBackend"),
        marks=pytest.mark.skipif(not find_spec("onnxruntime"), reason="needs onnxruntime"),
        id="onnxruntime",
    ),
    pytest.param(
        ("openvino_backend", "OpenVinoBackend"),
        marks=pytest.mark.skipif(not find_spec("openvino"), reason="needs openvino"),
        id="openvino",
    ),
]


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """logits = float(input_ids + attention_mask): the backends' inputs and output."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "length"])
        for name in ("input_ids", "attention_mask")
    ]
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "length"])
    nodes = [
        helper.make_node("Add", ["input_ids", "attention_mask"], ["sum"]),
        helper.make_node("Cast", ["sum"], ["logits"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(nodes, "add", inputs, [logits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("onnx") / "add.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("leave", "status"),
    [("sys.exit(3)", 3), ("raise RuntimeError('the worker failed')", 1)],
    ids=["sys.exit(3)", "exception"],
)
def test_forked_child_exits_with_its_status_after_flushing(
    backend, leave, status, onnx_model, tmp_path
):
    module, name = backend
    script = textwrap.dedent(SCRIPT.format(module=module, backend=name, leave=leave))
    log = tmp_path / "child.log"
    done = subprocess.run(
        [sys.executable, "-c", script, str(onnx_model), str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *child, parent = done.stdout.strip().splitlines()
    assert json.loads(parent) == status, done.stderr[-3000:]
    assert child == ["child got [[3.0, 6.0, 4.0]]; atexit handler ran"]
    assert "child logged" in log.read_text(encoding="utf-8")
