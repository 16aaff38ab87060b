"""The default backend: a transformers model run by torch under ``inference_mode``.

``dtype`` (``backend = "torch-bfloat16"`` or ``"torch-float16"``; see :mod:`.precision`) sets the
precision of the matrix multiplications through
``torch.autocast``; the weights stay float32 (the module is the component's own, and training
updates it in place), and so do embeddings, layer norms and softmax. On a CPU with AVX512-BF16,
oneDNN's bfloat16 kernels make a base-sized model about twice as fast.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .parallel import Forward, PerProcess, ShardPool, process_threads, shard_pool, warm_up

if TYPE_CHECKING:
    import torch

_shard_thread = threading.local()
_first_thread_count: list[int] = []


def _torch_threads() -> int:
    """torch's thread count as it was when this process first asked.

    Asked again later, from a thread created after a shard thread set its own count to 1, torch
    answers 1: it takes the last count set anywhere as the default for new threads.
    """
    import torch

    if not _first_thread_count:
        _first_thread_count.append(torch.get_num_threads())
    return _first_thread_count[0]


def _single_threaded(
    forward: Forward, input_ids: np.ndarray, attention_mask: np.ndarray
) -> np.ndarray:
    """``forward`` in a shard thread, which runs torch on one thread (set once)."""
    if not getattr(_shard_thread, "single", False):
        import torch

        torch.set_num_threads(1)  # per thread: the calling thread keeps its own setting
        _shard_thread.single = True
    return forward(input_ids, attention_mask)


class TorchBackend:
    """Map padded id/mask arrays to logits with a torch model.

    On CPU each batch is split into one shard per thread of the process's shared shard pool, each
    run by single-threaded torch (see :mod:`spacy_korsent.inference.parallel`). Threads:
    ``n_threads``; by default torch's own count as the process first reports it (so
    ``torch.set_num_threads`` before the process's first doc is respected; later calls are not, as
    shard threads change what torch reports), and half the cores in each worker of
    ``nlp.pipe(n_process=2)``.

    The module is the component's own (training updates it in place), so the backend never changes
    it: no casts, and evaluation mode is set only for the duration of a batch's forward pass.
    """

    def __init__(
        self,
        model: Any,
        device: torch.device,
        *,
        dtype: str = "float32",
        n_threads: Optional[int] = None,
    ) -> None:
        import torch

        self.device = device
        self.model = model.to(device)
        self.autocast_dtype = None if dtype == "float32" else getattr(torch, dtype)
        self.n_threads = n_threads
        self._shards = PerProcess(self._shard_pool)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.run_sharded(self._forward, input_ids, attention_mask)

    def run_sharded(
        self, forward: Forward, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> np.ndarray:
        """``forward`` on a batch, run as the backend runs its own passes: on CPU in row shards,
        each on single-threaded torch in the process's shard threads; on a GPU whole.

        ``forward`` maps ids and mask (a shard's, cut to its longest row) to one result row per
        row. Integrated gradients run their passes through here too.
        """
        shards = self._shards.get()
        if shards is None:
            return forward(input_ids, attention_mask)
        return shards(partial(_single_threaded, forward), input_ids, attention_mask)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        if self.model.training:
            self.model.eval()  # spaCy's training loop leaves it in training mode
        with torch.inference_mode(), self._autocast():
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
            return logits.float().cpu().numpy()

    def _autocast(self) -> Any:
        import torch

        if self.autocast_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _shard_pool(self, *, inherited: bool) -> Optional[ShardPool]:
        """The shard pool on CPU, after one forward pass on it alone (:func:`~.parallel.warm_up`:
        the model's first pass imports and sets up what later passes share); None on a GPU,
        which runs the whole batch at once."""
        if self.device.type != "cpu":
            return None
        shards = shard_pool(process_threads(self.n_threads, _torch_threads, inherited=inherited))
        warm_up(shards, partial(_single_threaded, self._forward))
        return shards
