"""SIGTERM ends a command as Ctrl-C does, between whole rows.

``timeout``, systemd, docker and Kubernetes stop a process with SIGTERM, whose default action
kills it on the spot: a Parquet file without its footer (every row lost), a half-written line,
scratch directories of the model's size left behind. While ``korsent`` runs a command
(:func:`signals_handled`), SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in the main
thread where Ctrl-C raises KeyboardInterrupt, so the same cleanup runs for both: writers close
(Parquet writes its footer), scratch directories go, training keeps its best checkpoint. The
exit code is 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM. A library must not take
a host application's signals, so only the command line installs the handlers.

:func:`whole` holds a signal off while something must not be cut in two (a batch of rows, a
Parquet footer, the files of a checkpoint); the signal takes effect when it ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Optional

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that the same cleanup runs."""


_held = 0  # nesting depth of whole() blocks in the main thread
_pending: Optional[int] = None  # a signal that came during one


def exit_code(interrupt: Optional[BaseException]) -> int:
    """128 + the signal that ``interrupt`` stands for: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


@contextmanager
def signals_handled() -> Iterator[None]:
    """SIGINT and SIGTERM raise in the main thread during the block; the handlers it found are
    given back after it. A signal that is ignored (a background job's SIGINT) stays ignored."""
    with _handlers_kept() as found:
        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for number, handler in found.items():
            if handler is defaults[number]:
                signal.signal(number, _handler)
        yield


@contextmanager
def own_handlers() -> Iterator[None]:
    """Take the handlers back after a call that installs its own: ``ray.init`` makes SIGTERM
    exit with code 15 (its SystemExit during the call becomes :class:`Terminated`)."""
    with _handlers_kept() as found:
        try:
            yield
        except SystemExit as stop:
            if stop.code == signal.SIGTERM and found.get(signal.SIGTERM) is _handler:
                raise Terminated() from None
            raise


@contextmanager
def _handlers_kept() -> Iterator[dict[signal.Signals, Any]]:
    """The SIGINT and SIGTERM handlers found, put back after the block; in another thread, which
    cannot set handlers, none (an empty dict)."""
    if threading.current_thread() is not threading.main_thread():
        yield {}
        return
    found = {number: signal.getsignal(number) for number in SIGNALS}
    try:
        yield found
    finally:
        for number, handler in found.items():
            if handler is not None:
                signal.signal(number, handler)


@contextmanager
def whole() -> Iterator[None]:
    """Hold SIGINT and SIGTERM off until the block ends (in the main thread, where they raise)."""
    global _held, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held and _pending is not None:
            number, _pending = _pending, None
            _raise(number)


def _handler(number: int, frame: Optional[FrameType]) -> Any:
    global _pending
    if _held:
        _pending = number
        return
    _raise(number)


def _raise(number: int) -> None:
    if number == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt
