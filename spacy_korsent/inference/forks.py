"""A process forked from one that loaded a model ends cleanly, with its own exit status.

Servers that load a pipeline and then fork their workers (gunicorn ``--preload``, uWSGI, Celery
prefork, a plain ``os.fork()``) hand each worker the native libraries' process-wide state, whose
threads exist only in the parent. Two kinds of exit code then wait for those threads forever, or
abort, in the worker:

- onnxruntime's C++ exit handlers (registered when it is imported) wait on a condition variable
  of a thread the child does not have: ``import onnxruntime``, ``os.fork()`` and ``sys.exit(0)``
  in the child hang. So in a child forked while onnxruntime is loaded, :func:`_end_after_python`
  has glibc's ``on_exit`` end the process with ``_exit`` as soon as Python's own finalization is
  over: every ``atexit`` handler (``logging`` shutdown among them), finalizer and flush of
  ``sys.stdout``/``sys.stderr`` has run, the exit status is the one Python hands to ``exit()``,
  and only the native exit handlers registered before the fork are skipped (C's stdio buffers are
  flushed from an ``atexit`` handler first). Nothing registered later is skipped: ``on_exit``
  handlers run last registered, first run.
- Objects made in the parent whose destructors wait for the parent's threads: an OpenVINO
  compiled model freed in the child, when its interpreter tears down its modules, hangs or
  crashes (SIGSEGV). What a backend set up in the parent is therefore kept forever in the child
  (:func:`keep_forever`, called by :mod:`.parallel`).

Why not ``os._exit`` from an ``atexit`` handler, which would also skip the slow teardown of the
inherited heap (about 2 CPU-seconds with torch loaded): Python does not tell an ``atexit`` handler
the exit status (gunicorn's master halts on a worker's 3 or 4, and would respawn a failing worker
forever on a 0), and one registered in the child runs before every handler registered in the
parent (``logging``'s shutdown, ``weakref.finalize``), so it would skip them.

Where glibc's ``on_exit`` does not exist (macOS, musl) nothing is registered.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import sys
from typing import Any

HANGING_AT_EXIT = ("onnxruntime",)
"""Modules whose native exit handlers cannot finish in a forked child."""

_libc = ctypes.CDLL(None)
_on_exit = getattr(_libc, "on_exit", None)
if _on_exit is not None:
    _on_exit.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    _libc.fflush.argtypes = [ctypes.c_void_p]
_EXIT = ctypes.cast(_libc._exit, ctypes.c_void_p)
"""``_exit(status)``; called by ``on_exit`` as ``_exit(status, arg)``, which ignores ``arg``."""


def keep_forever(value: Any) -> None:
    """Never destroy ``value`` in this process, not even when the interpreter shuts down."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(value))


def _end_after_python() -> None:
    """In a forked child of a process with onnxruntime loaded: skip the native exit handlers."""
    if _on_exit is None or not any(name in sys.modules for name in HANGING_AT_EXIT):
        return
    atexit.register(_libc.fflush, None)
    _on_exit(_EXIT, None)


os.register_at_fork(after_in_child=_end_after_python)
