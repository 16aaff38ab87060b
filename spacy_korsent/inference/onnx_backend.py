"""The opt-in CPU backend: an ONNX export of the model run by ONNX Runtime, optionally int8.

The export (:mod:`spacy_korsent.inference.onnx_export`) has inputs ``input_ids`` and
``attention_mask`` and output ``logits``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .parallel import (
    Forward,
    PerProcess,
    ShardPool,
    available_cores,
    process_threads,
    shard_pool,
    warm_up,
)

INSTALL_HINT = 'pip install "spacy-korsent[onnx]"'


def require(module: str) -> Any:
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"backend='onnx' needs the {module} package: {INSTALL_HINT}") from err


class ExportBackend:
    """An ONNX export run by a runtime that each process sets up once (:meth:`load`).

    Each batch is split into one shard per thread of the process's shared shard pool (see
    :mod:`spacy_korsent.inference.parallel`). The setup loads the runtime for that many threads
    and runs it once alone (:func:`~.parallel.warm_up`) before the shard threads share it. After a
    fork the child sets up its own: runtimes' threads do not survive a fork.
    """

    def __init__(self, onnx_path: Path, *, n_threads: Optional[int] = None) -> None:
        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"No ONNX model at {str(self.onnx_path)!r}.")
        self.n_threads = n_threads
        self._process = PerProcess(self._set_up)
        self._process.get()  # a broken file fails here, not with the first document

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        forward, shards = self._process.get()
        return shards(forward, input_ids, attention_mask)

    def load(self, threads: int) -> Forward:
        """The runtime's forward pass over the export, for ``threads`` shard threads at once."""
        raise NotImplementedError

    def _set_up(self, *, inherited: bool) -> tuple[Forward, ShardPool]:
        threads = process_threads(self.n_threads, available_cores, inherited=inherited)
        forward = self.load(threads)
        shards = shard_pool(threads)
        warm_up(shards, forward)
        return forward, shards


class OnnxBackend(ExportBackend):
    """Map padded id/mask arrays to logits with an ONNX Runtime session.

    Like the torch backend, the shards of a batch run at once, here in one single-threaded session
    shared by the shard threads. ONNX Runtime's threads, like torch's, do not survive a fork
    (``nlp.pipe(n_process=N)``, a server that forks its workers): each process makes its own
    session, and a forked process skips ONNX Runtime's exit handlers (see :mod:`.forks`).
    """

    def load(self, threads: int) -> Forward:
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            logits = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            return logits.astype(np.float32, copy=False)

        return forward
