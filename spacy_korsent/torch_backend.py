"""The default backend: a transformers model run by torch under ``inference_mode``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:
    import torch


class TorchBackend:
    """Map padded id/mask arrays to softmax probabilities with a torch model."""

    def __init__(
        self, model: Any, device: torch.device, *, half: bool = False, n_threads: Optional[int] = None
    ) -> None:
        self.device = device
        self.model = model.to(device)
        if half:
            if device.type != "cuda":
                raise ValueError("half=true needs a CUDA device; half precision on CPU is slower.")
            self.model = self.model.half()
        self.n_threads = n_threads
        self._threads_set_in: Optional[int] = None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        self._set_threads()
        with torch.inference_mode():
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
            return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def _set_threads(self) -> None:
        """Size torch's thread pool once per process.

        ``nlp.pipe(n_process=N)`` forks workers; torch's pool does not survive the fork and a worker
        that inherits the parent's setting hangs or oversubscribes the cores. A forked worker gets
        ``n_threads``, or by default an equal share of the cores for two processes.
        """
        pid = os.getpid()
        if self._threads_set_in == pid:
            return
        import torch

        forked = self._threads_set_in is not None or _is_forked_worker()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        elif forked:
            torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
        self._threads_set_in = pid


def _is_forked_worker() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is not None
