"""The ONNX export run by OpenVINO (``backend = "openvino"``, ``"openvino-bfloat16"``) on CPU.

ONNX Runtime has no bfloat16 kernels for x86 CPUs; for ``"openvino-bfloat16"`` OpenVINO compiles
the same fp32 export for bfloat16 on CPUs with AVX512-BF16 or AMX, about 2.5 times as fast as
float32 torch on a base-sized model and a fifth faster than torch's own bfloat16 (measured:
benchmarks/); ``"openvino"`` compiles it as it is, in float32. Like the other backends, each batch
is split into one shard per thread of the process's shared shard pool; OpenVINO runs one
single-threaded stream per shard thread, each with its own infer request.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .parallel import PerProcess, ShardPool, available_cores, process_threads, shard_pool

INSTALL_HINT = 'pip install "spacy-korsent[openvino]"'
PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16"}


class OpenVinoBackend:
    """Map padded id/mask arrays to logits with an OpenVINO model compiled for ``dtype``
    (``"float32"`` or ``"bfloat16"``)."""

    def __init__(
        self, onnx_path: Path, *, dtype: str = "float32", n_threads: Optional[int] = None
    ) -> None:
        if dtype not in PRECISION_HINTS:
            raise ValueError(f"OpenVINO runs dtype='float32' or 'bfloat16', not {dtype!r}.")
        self.precision = PRECISION_HINTS[dtype]
        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"No ONNX model at {str(self.onnx_path)!r}.")
        self.n_threads = n_threads
        self._process = PerProcess(self._compile)
        self._process.get()  # a broken file fails here, not with the first document

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        compiled, shards, requests = self._process.get()

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            request = getattr(requests, "request", None)
            if request is None:
                request = requests.request = compiled.create_infer_request()
            result = request.infer({"input_ids": ids, "attention_mask": mask})
            return np.asarray(result[compiled.output(0)], dtype=np.float32)

        return shards(forward, input_ids, attention_mask)

    def _compile(self, *, inherited: bool) -> tuple[Any, ShardPool, threading.local]:
        try:
            import openvino
        except ImportError as err:
            raise ImportError(
                "backend='openvino' and 'openvino-bfloat16' need the openvino package: "
                + INSTALL_HINT
            ) from err
        threads = process_threads(self.n_threads, available_cores, inherited=inherited)
        settings = {
            "INFERENCE_PRECISION_HINT": self.precision,
            "NUM_STREAMS": threads,  # one single-threaded stream per shard thread
            "INFERENCE_NUM_THREADS": threads,
            "ENABLE_CPU_PINNING": False,  # worker processes must not pin to the same cores
        }
        compiled = openvino.Core().compile_model(str(self.onnx_path), "CPU", settings)
        return compiled, shard_pool(threads), threading.local()
