"""How the CPU backends use the cores: one single-threaded shard of each batch per core.

On a few cores, N single-threaded forward passes side by side beat one pass whose operators each
split over N threads: no core waits at an operator's barrier, the many small operators that never
parallelise run N at a time, and a busy machine slows one shard rather than every operator. The
kernels of torch and ONNX Runtime release the GIL, so Python threads are enough.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import numpy as np

Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


def process_threads(n_threads: Optional[int], *, inherited: bool) -> Optional[int]:
    """How many threads a backend should use in this process (None: the library's default).

    ``n_threads`` when set. In a worker of ``nlp.pipe(n_process=N)`` (or when the backend was
    ``inherited`` across a fork) an equal share of the cores for two processes: torch's and ONNX
    Runtime's thread pools do not survive a fork, and workers that each take every core fight
    over them.
    """
    if n_threads:
        return n_threads
    if inherited or multiprocessing.parent_process() is not None:
        return max(1, available_cores() // 2)
    return None


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ShardPool:
    """Run a forward function on row shards of a batch at once, one thread per shard.

    Each shard is cut to its own longest row (the engine sorts rows by length, so all but the last
    shard lose padding). ``init_thread`` runs once in each new thread (the torch backend sizes
    torch's pool to one thread there); all threads start before the constructor returns.
    """

    def __init__(self, shards: int, init_thread: Callable[[], None] = lambda: None) -> None:
        self.shards = shards
        started = threading.Barrier(shards + 1)

        def start() -> None:
            init_thread()
            started.wait()

        self._executor = ThreadPoolExecutor(shards, thread_name_prefix="korsent", initializer=start)
        # No thread is idle until all have started, so each submit starts a new one.
        for _ in range(shards):
            self._executor.submit(int)
        started.wait()

    def __call__(
        self, forward: Forward, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> np.ndarray:
        if len(input_ids) < 2:
            return forward(input_ids, attention_mask)
        lengths = attention_mask.sum(axis=1)

        def run(rows: np.ndarray) -> np.ndarray:
            width = int(lengths[rows].max())
            return forward(input_ids[rows, :width], attention_mask[rows, :width])

        parts = np.array_split(np.arange(len(input_ids)), min(self.shards, len(input_ids)))
        return np.concatenate(list(self._executor.map(run, parts)))
