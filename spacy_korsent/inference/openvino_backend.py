"""The ONNX export run by OpenVINO (``backend = "openvino"``, ``"openvino-bfloat16"``) on CPU.

ONNX Runtime has no bfloat16 kernels for x86 CPUs; for ``"openvino-bfloat16"`` OpenVINO compiles
the same fp32 export for bfloat16 on CPUs with AVX512-BF16 or AMX, about 2.5 times as fast as
float32 torch on a base-sized model and a fifth faster than torch's own bfloat16 (measured:
benchmarks/); ``"openvino"`` compiles it as it is, in float32. Like the other backends, each batch
is split into one shard per thread of the process's shared shard pool; OpenVINO runs one
single-threaded stream per shard thread, each with its own infer request. The requests are made,
and one of them run once (:func:`~.parallel.warm_up`), before any shard thread uses them: two shard
threads making OpenVINO's first inference of a process at once can hang for ever.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .onnx_backend import ExportBackend
from .parallel import Forward

INSTALL_HINT = 'pip install "spacy-korsent[openvino]"'
PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16"}


class OpenVinoBackend(ExportBackend):
    """Map padded id/mask arrays to logits with an OpenVINO model compiled for ``dtype``
    (``"float32"`` or ``"bfloat16"``)."""

    def __init__(
        self, onnx_path: Path, *, dtype: str = "float32", n_threads: Optional[int] = None
    ) -> None:
        if dtype not in PRECISION_HINTS:
            raise ValueError(f"OpenVINO runs dtype='float32' or 'bfloat16', not {dtype!r}.")
        self.precision = PRECISION_HINTS[dtype]
        super().__init__(onnx_path, n_threads=n_threads)

    def load(self, threads: int) -> Forward:
        try:
            import openvino
        except ImportError as err:
            raise ImportError(
                "backend='openvino' and 'openvino-bfloat16' need the openvino package: "
                + INSTALL_HINT
            ) from err
        settings = {
            "INFERENCE_PRECISION_HINT": self.precision,
            "NUM_STREAMS": threads,  # one single-threaded stream per shard thread
            "INFERENCE_NUM_THREADS": threads,
            "ENABLE_CPU_PINNING": False,  # worker processes must not pin to the same cores
        }
        compiled = openvino.Core().compile_model(str(self.onnx_path), "CPU", settings)
        # One infer request per shard thread, made here: a shard thread takes an idle one.
        idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(threads):
            idle.put(compiled.create_infer_request())
        output = compiled.output(0)

        def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            request = idle.get()
            try:
                result = request.infer({"input_ids": ids, "attention_mask": mask})
                return np.asarray(result[output], dtype=np.float32)
            finally:
                idle.put(request)

        return forward
