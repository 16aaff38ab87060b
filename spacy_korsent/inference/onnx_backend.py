"""The opt-in CPU backend: the model exported to ONNX and run by ONNX Runtime, optionally int8.

The export takes the torch model as loaded (inputs ``input_ids`` and ``attention_mask`` with
dynamic batch and length axes, output ``logits``); softmax runs in numpy. ``quantize`` adds int8
dynamic quantization of the weights, which on CPU makes it two to three times faster again.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .parallel import PerProcess, ShardPool, available_cores, process_threads, shard_pool

INSTALL_HINT = 'pip install "spacy-korsent[onnx]"'
INPUTS = ("input_ids", "attention_mask")
OPSET = 17


def _require(module: str) -> Any:
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"backend='onnx' needs the {module} package: {INSTALL_HINT}") from err


def export_onnx(source: str | Path, target_path: Path, *, quantize: bool) -> Path:
    """Write the sequence classifier at ``source`` (a model directory or hub id) as an ONNX graph
    to ``target_path`` and return it."""

    from .loading import LOAD_LOCK, load_model

    _require("onnx")
    _require("onnxruntime")
    with LOAD_LOCK:  # torch's exporter keeps process-wide state
        model = load_model(source)
        return _export(model, Path(target_path), quantize=quantize)


def _export(model: Any, target_path: Path, *, quantize: bool) -> Path:
    import torch

    target_path = Path(target_path)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="korsent-export-") as tmp:
        fp32_path = Path(tmp) / "fp32.onnx" if quantize else target_path
        param = next(model.parameters())
        dummy = torch.ones((2, 8), dtype=torch.long, device=param.device)
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter needs no onnxscript; torch warns that it is the legacy one.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.eval(),
                (dummy, dummy),
                str(fp32_path),
                input_names=list(INPUTS),
                output_names=["logits"],
                dynamic_axes={
                    **{name: {0: "batch", 1: "length"} for name in INPUTS},
                    "logits": {0: "batch"},
                },
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        if quantize:
            _quantize(fp32_path, target_path)
    return target_path


def _quantize(source: Path, target: Path) -> None:
    """int8 dynamic quantization of the matrix multiplications (weights per output channel)."""
    quantization = _require("onnxruntime.quantization")
    # Its advice to pre-process first does not apply: shape inference fails on these graphs.
    root = logging.getLogger()
    root.addFilter(_not_preprocessing_advice)
    try:
        quantization.quantize_dynamic(
            str(source),
            str(target),
            weight_type=quantization.QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )
    finally:
        root.removeFilter(_not_preprocessing_advice)


def _not_preprocessing_advice(record: logging.LogRecord) -> bool:
    return "pre-processing before quantization" not in record.getMessage()


class OnnxBackend:
    """Map padded id/mask arrays to logits with an ONNX Runtime session.

    Like the torch backend, each batch is split into one shard per thread of the process's shared
    shard pool, all run at once by one single-threaded session (see
    :mod:`spacy_korsent.inference.parallel`). ONNX Runtime's threads, like torch's, do not survive
    the fork of ``nlp.pipe(n_process=N)``: each process makes its own session.
    """

    def __init__(self, onnx_path: Path, *, n_threads: Optional[int] = None) -> None:
        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"No ONNX model at {str(self.onnx_path)!r}.")
        self.n_threads = n_threads
        self._process = PerProcess(self._session_and_shards)
        self._process.get()  # a broken file fails here, not with the first document

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        session, shards = self._process.get()

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            logits = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            return logits.astype(np.float32, copy=False)

        return shards(forward, input_ids, attention_mask)

    def _session_and_shards(self, *, inherited: bool) -> tuple[Any, ShardPool]:
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        threads = process_threads(self.n_threads, available_cores, inherited=inherited)
        return session, shard_pool(threads)
