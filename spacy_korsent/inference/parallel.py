"""How the CPU backends use the cores: one single-threaded shard of each batch per core.

On a few cores, N single-threaded forward passes side by side beat one pass whose operators each
split over N threads: no core waits at an operator's barrier, the many small operators that never
parallelise run N at a time, and a busy machine slows one shard rather than every operator. The
kernels of torch and ONNX Runtime release the GIL, so Python threads are enough.

Every forward pass of a process goes through one shared pool of shard threads, whichever component
or calling thread it comes from: sixteen threads serving requests from one pipeline still run at
most ``n`` forward passes at a time, so concurrency never oversubscribes the CPU.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Generic, Optional, TypeVar

import numpy as np

from .forks import keep_forever

Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]
T = TypeVar("T")
RUNS_PER_THREAD = 2
"""Runs a batch is cut into, per shard thread (see :class:`ShardPool`)."""


def process_threads(
    n_threads: Optional[int], default: Callable[[], int], *, inherited: bool
) -> int:
    """How many shard threads to use in this process.

    ``n_threads`` when set. In a worker of ``nlp.pipe(n_process=N)``, or when the backend was
    ``inherited`` across a fork (a server that loads, then forks workers), an equal share of the
    cores for two processes: thread pools do not survive a fork, and workers that each take every
    core fight over them. Otherwise ``default()`` (the library's own count).
    """
    if n_threads:
        return n_threads
    if inherited or multiprocessing.parent_process() is not None:
        return max(1, available_cores() // 2)
    return max(1, default())


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ShardPool:
    """Run a forward function on row shards of a batch at once, one thread per shard.

    The shards are runs of rows of similar lengths, each cut to its own longest row, with about
    the same padded work (rows × longest row) each, so that no thread waits long for another: a
    batch whose lengths spread (a few hundred documents at a time, as a Ray worker or a request
    batch gets them) would otherwise leave the thread with the short rows idle. There are
    ``RUNS_PER_THREAD`` runs per thread, taken by the threads as they come free: shorter runs pad
    less, and a thread that another process slows down leaves its next run to the others (on
    two cores, 5% more documents/s offline and 7% in a server's batches of 64 requests). A batch
    of one row still runs on a pool thread: the pool's size is then the bound on forward passes
    running at once, whoever calls.
    """

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self._executor = ThreadPoolExecutor(shards, thread_name_prefix="korsent")

    def __call__(
        self, forward: Forward, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> np.ndarray:
        lengths = attention_mask.sum(axis=1)

        def run(rows: np.ndarray) -> np.ndarray:
            width = int(lengths[rows].max())
            return forward(input_ids[rows, :width], attention_mask[rows, :width])

        parts = balanced_shards(lengths, self.shards * RUNS_PER_THREAD)
        results = list(self._executor.map(run, parts))
        out = np.empty((len(input_ids), *results[0].shape[1:]), dtype=results[0].dtype)
        for rows, result in zip(parts, results):
            out[rows] = result
        return out


def balanced_shards(lengths: np.ndarray, shards: int) -> list[np.ndarray]:
    """Row indices of at most ``shards`` shards: runs of the rows sorted by length whose largest
    padded work (rows × longest row) is as small as it can be."""
    order = np.argsort(lengths, kind="stable")
    widths = np.maximum(lengths[order], 1)

    def cut(limit: int) -> list[tuple[int, int]]:
        """The fewest runs within ``limit`` each, filled from the longest rows down."""
        runs, end = [], len(order)
        while end > 0:
            start = max(0, end - max(1, limit // int(widths[end - 1])))
            runs.append((start, end))
            end = start
        return runs

    low, high = int(widths[-1]), int(widths[-1]) * len(order)
    while low < high:  # the smallest limit that needs no more than ``shards`` runs
        middle = (low + high) // 2
        if len(cut(middle)) <= shards:
            high = middle
        else:
            low = middle + 1
    return [order[start:end] for start, end in reversed(cut(low))]


def warm_up(shards: ShardPool, forward: Forward) -> None:
    """Run ``forward`` once on a one-row batch, alone on one shard thread while the caller waits.

    A runtime's first call in a process sets up process-wide state lazily: OpenVINO's Python
    binding looks up numpy's C API on its first array (pybind11's ``npy_api``), and two shard
    threads doing that at once can deadlock for ever inside it; torch and transformers import
    modules on a first forward pass. Each backend's per-process setup ends here, so that the
    threads of the first batch find all of it done.
    """
    ids = np.zeros((1, 2), dtype=np.int64)
    shards(forward, ids, np.ones_like(ids))


_pools: dict[int, ShardPool] = {}
_lock = threading.RLock()


def shard_pool(shards: int) -> ShardPool:
    """This process's pool of ``shards`` threads, shared by every backend asking for that size."""
    with _lock:
        pool = _pools.get(shards)
        if pool is None:
            pool = _pools[shards] = ShardPool(shards)
        return pool


class PerProcess(Generic[T]):
    """What a backend sets up once per process (threads, a session), by the first thread to ask.

    Other threads wait for it and then share it. After a fork the child sets up its own:
    ``setup(inherited=True)`` tells it that it runs in a process other than the one that made it.
    What the parent set up is never released in the child (see :func:`_forget_parent_threads`).
    """

    def __init__(self, setup: Callable[..., T]) -> None:
        self._setup = setup
        self._value: Optional[T] = None
        self._pid: Optional[int] = None
        _instances.add(self)

    def get(self) -> T:
        pid = os.getpid()
        if self._pid != pid:
            with _lock:
                if self._pid != pid:
                    self._value = self._setup(inherited=self._pid is not None)
                    self._pid = pid
        return self._value  # type: ignore[return-value]

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (for a spawned worker) without what was set up, which is made again there."""
        return {**self.__dict__, "_value": None, "_pid": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        _instances.add(self)


_instances: weakref.WeakSet[PerProcess[Any]] = weakref.WeakSet()


def _forget_parent_threads() -> None:
    """In a forked child the parent's pool threads do not exist, and a lock another thread held
    at the fork would never be released: start both afresh.

    What the parent set up (a session, a compiled model, a pool) is kept forever, never released:
    releasing it can wait for threads that exist in the parent only (an OpenVINO compiled model
    hangs or crashes so), and even a worker that never replaced it would free it when its
    interpreter shuts down. See :mod:`.forks`.
    """
    global _lock
    for each in _instances:
        if each._value is not None:
            keep_forever(each._value)
    _pools.clear()
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_forget_parent_threads)
