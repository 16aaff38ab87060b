"""The opt-in CPU backend: the model exported to ONNX and run by ONNX Runtime, optionally int8.

The export takes the torch model as loaded (inputs ``input_ids`` and ``attention_mask`` with
dynamic batch and length axes, output ``logits``); softmax runs in numpy. ``quantize`` adds int8
dynamic quantization of the weights, which on CPU makes it two to three times faster again.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .parallel import ShardPool, available_cores, process_threads

INSTALL_HINT = 'pip install "spacy-korsent[onnx]"'
INPUTS = ("input_ids", "attention_mask")
OPSET = 17


def _require(module: str) -> Any:
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"backend='onnx' needs the {module} package: {INSTALL_HINT}") from err


def export_onnx(model: Any, target_path: Path, *, quantize: bool) -> Path:
    """Write the sequence classifier ``model`` as an ONNX graph to ``target_path`` and return it."""
    import torch

    _require("onnx")
    _require("onnxruntime")
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
    """Map padded id/mask arrays to softmax probabilities with an ONNX Runtime session.

    Like the torch backend, each batch is split into one shard per thread, all run at once by one
    single-threaded session (see :mod:`spacy_korsent.parallel`). ONNX Runtime's threads, like
    torch's, do not survive the fork of ``nlp.pipe(n_process=N)``: each process makes its own.
    """

    def __init__(self, onnx_path: Path, *, n_threads: Optional[int] = None) -> None:
        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"No ONNX model at {str(self.onnx_path)!r}.")
        self.n_threads = n_threads
        self._session: Any = None
        self._shards: Optional[ShardPool] = None
        self._ready_in: Optional[int] = None
        self._prepare_process()

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self._prepare_process()
        if self._shards is None:
            logits = self._forward(input_ids, attention_mask)
        else:
            logits = self._shards(self._forward, input_ids, attention_mask)
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        return self._session.run(None, feed)[0].astype(np.float32, copy=False)

    def _prepare_process(self) -> None:
        pid = os.getpid()
        if self._ready_in == pid:
            return
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        threads = process_threads(self.n_threads, inherited=self._ready_in is not None)
        threads = threads or available_cores()
        self._shards = ShardPool(threads) if threads > 1 else None
        self._ready_in = pid

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (for a spawned worker) without session and threads, made again on first use."""
        return {**self.__dict__, "_session": None, "_shards": None, "_ready_in": None}
