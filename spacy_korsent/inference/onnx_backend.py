"""The opt-in CPU backend: an ONNX export of the model run by ONNX Runtime, optionally int8.

The export (:mod:`spacy_korsent.inference.onnx_export`) has inputs ``input_ids`` and
``attention_mask`` and output ``logits``; softmax runs in numpy.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .parallel import ShardPool, available_cores, process_threads

INSTALL_HINT = 'pip install "spacy-korsent[onnx]"'


def require(module: str) -> Any:
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"backend='onnx' needs the {module} package: {INSTALL_HINT}") from err


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
        ort = require("onnxruntime")
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
