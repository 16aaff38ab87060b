"""The default backend: a transformers model run by torch under ``inference_mode``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .parallel import ShardPool, process_threads

if TYPE_CHECKING:
    import torch


class TorchBackend:
    """Map padded id/mask arrays to softmax probabilities with a torch model.

    On CPU each batch is split into one shard per thread, each run by single-threaded torch
    (see :mod:`spacy_korsent.parallel`). Threads: ``n_threads``; by default torch's own count
    (so ``torch.set_num_threads`` before the first doc is respected), and half the cores in each
    worker of ``nlp.pipe(n_process=2)``.
    """

    def __init__(
        self,
        model: Any,
        device: torch.device,
        *,
        half: bool = False,
        n_threads: Optional[int] = None,
    ) -> None:
        self.device = device
        self.model = model.to(device)
        if half:
            if device.type != "cuda":
                raise ValueError("half=true needs a CUDA device; half precision on CPU is slower.")
            self.model = self.model.half()
        self.n_threads = n_threads
        self._shards: Optional[ShardPool] = None
        self._ready_in: Optional[int] = None

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self._prepare_process()
        if self._shards is None:
            return self._forward(input_ids, attention_mask)
        return self._shards(self._forward, input_ids, attention_mask)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
            return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def _prepare_process(self) -> None:
        """Size torch's threads (and the shard threads) once per process.

        A forked worker inherits neither torch's pool nor the shard threads: it makes its own.
        """
        pid = os.getpid()
        if self._ready_in == pid:
            return
        import torch

        threads = process_threads(self.n_threads, inherited=self._ready_in is not None)
        own = torch.get_num_threads()
        self._shards = None
        if self.device.type != "cpu" or (threads or own) == 1:
            if threads:
                torch.set_num_threads(threads)
        else:
            # Shard threads run single-threaded torch; this thread's own setting stays as it was.
            self._shards = ShardPool(threads or own, init_thread=lambda: torch.set_num_threads(1))
            torch.set_num_threads(own)
        self._ready_in = pid

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (for a spawned worker) without the threads, which are made again on first use."""
        return {**self.__dict__, "_shards": None, "_ready_in": None}
