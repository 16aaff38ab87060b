"""Dynamic batching: requests from every connection go into one queue, and one worker thread runs
them through the pipeline in batches.

A batch starts when the queue holds ``max_batch_tokens`` subword tokens, or when its oldest
request has waited ``max_wait`` seconds; a lone request, when no other has come for a tenth of
that (``QUIET``). A second request says that others are on their way (concurrent clients send in
bursts), and the batch waits for them; with none, waiting longer would only add to the caller's
latency. While a batch runs, requests queue up; the next batch takes them at once (their wait is
over), so under load batches fill to the budget by themselves, and a lone caller waits
``max_wait / 10``.
The pipeline runs on a single thread: the components already spread each batch over the cores
(:mod:`spacy_korsent.inference.parallel`), so a second batch at the same time would only compete
for them.

The queue is bounded by ``max_queue`` texts: beyond it :class:`QueueFull` says when to come back,
so an overloaded server answers at once instead of letting callers time out. A request whose
caller goes away (its task is cancelled) leaves the queue and frees its place.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Optional, TypeVar

R = TypeVar("R")
QUIET = 0.1
"""A lone request's batch starts when no other has come for this share of ``max_wait``."""


class QueueFull(Exception):
    """The queue has no room for the request; ``retry_after`` is a guess in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class Stopped(Exception):
    """The batcher takes no more requests (the server is shutting down)."""


@dataclass(eq=False)
class _Job:
    texts: Sequence[str]
    tokens: int
    future: asyncio.Future[list[Any]]
    queued_at: float = field(default_factory=time.monotonic)


class BatchObserver:
    """What a batcher reports (the server's metrics); by default nothing."""

    def queued(self, texts: int) -> None:
        """The texts waiting now."""

    def batch(self, texts: int, tokens: int, seconds: float, waits: list[float]) -> None:
        """A batch ran: its texts, tokens, seconds, and how long each request in it waited."""


class Batcher(Generic[R]):
    """Run ``process(texts) -> results`` (one result per text, in order) on batches of requests.

    Its worker starts with the first :meth:`submit`, in that caller's event loop; :meth:`stop`
    answers every request already queued, then ends the worker.
    """

    def __init__(
        self,
        process: Callable[[list[str]], list[R]],
        *,
        max_batch_tokens: int,
        max_wait: float,
        max_queue: int,
        observer: Optional[BatchObserver] = None,
    ) -> None:
        self.process = process
        self.max_batch_tokens = max_batch_tokens
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.observer = observer or BatchObserver()
        self._queue: deque[_Job] = deque()
        self._queued_texts = 0
        self._queued_tokens = 0
        self._changed: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._stopping = False
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="korsent-batch")
        self._seconds_per_token = 0.0
        """A running estimate of the pipeline's speed, for Retry-After."""

    @property
    def queued_texts(self) -> int:
        """Texts waiting for a batch (not those of the batch running)."""
        return self._queued_texts

    async def stop(self) -> None:
        """Take no more requests, answer those queued, end the worker thread."""
        self._stopping = True
        if self._changed is not None:
            self._changed.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    def run_now(self, texts: list[str]) -> list[R]:
        """Run ``texts`` on the worker thread, outside the queue, and wait (the warm-up)."""
        return self._executor.submit(self.process, texts).result()

    async def submit(self, texts: Sequence[str], tokens: int) -> list[R]:
        """The results of ``texts`` (``tokens`` subword tokens in all), once their batch ran.

        Raises :class:`QueueFull` when the queue has no room for them, :class:`Stopped` after
        :meth:`stop`. Cancelling the caller takes the request out of the queue.
        """
        if self._stopping:
            raise Stopped("the server is shutting down")
        if self._task is None:
            self._changed = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())
        if self._queued_texts + len(texts) > self.max_queue:
            raise QueueFull(self._retry_after())
        job = _Job(texts, max(1, tokens), asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._count(job, +1)
        try:
            return await job.future
        except asyncio.CancelledError:
            if job in self._queue:  # not yet taken into a batch: free its place
                self._queue.remove(job)
                self._count(job, -1)
            raise

    def _count(self, job: _Job, sign: int) -> None:
        self._queued_texts += sign * len(job.texts)
        self._queued_tokens += sign * job.tokens
        self.observer.queued(self._queued_texts)
        assert self._changed is not None
        self._changed.set()

    def _retry_after(self) -> int:
        """Seconds until the queue has run down, by the speed of the batches so far."""
        return max(1, math.ceil(self._queued_tokens * self._seconds_per_token))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            texts = [text for job in batch for text in job.texts]
            tokens = sum(job.tokens for job in batch)
            started = time.monotonic()
            try:
                results = await loop.run_in_executor(self._executor, self.process, texts)
            except Exception as err:  # the requests of the batch fail, the server goes on
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(err)
                continue
            seconds = time.monotonic() - started
            self._seconds_per_token = seconds / tokens
            self.observer.batch(len(texts), tokens, seconds, [started - j.queued_at for j in batch])
            offset = 0
            for job in batch:
                if not job.future.done():  # its caller may have gone away meanwhile
                    job.future.set_result(results[offset : offset + len(job.texts)])
                offset += len(job.texts)

    async def _next_batch(self) -> Optional[list[_Job]]:
        """Wait until a batch is due, then take it from the queue (None: stopped and empty)."""
        assert self._changed is not None
        while True:
            self._changed.clear()
            if not self._queue:
                if self._stopping:
                    return None
                await self._changed.wait()
                continue
            # The oldest has waited long enough; a lone request, once no other came meanwhile.
            wait = self.max_wait * (QUIET if len(self._queue) == 1 else 1)
            due = self._queue[0].queued_at + wait - time.monotonic()
            if self._stopping or due <= 0 or self._queued_tokens >= self.max_batch_tokens:
                break
            with suppress(asyncio.TimeoutError):  # a wait is over
                await asyncio.wait_for(self._changed.wait(), due)  # or the queue changed
        batch = [self._queue.popleft()]
        budget = self.max_batch_tokens - batch[0].tokens
        while self._queue and self._queue[0].tokens <= budget:
            budget -= self._queue[0].tokens
            batch.append(self._queue.popleft())
        for job in batch:
            self._count(job, -1)
        return batch
