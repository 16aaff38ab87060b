"""Scratch directories that go away with their process, even with one that was killed.

ONNX exports, weight copies, saved pipelines and staged checkpoints are as large as the model
(about 440 MB for a base model). A process removes its directories when it ends normally (the
command line ends normally on SIGINT and SIGTERM too); a process that is killed (SIGKILL, the
OOM killer, SIGTERM in an application that leaves it unhandled) cannot. So each directory holds a
lock file, ``.owner``, locked with ``fcntl.flock`` by the process that made it for as long as that
process lives (a forked worker inherits the lock, and holds the directory while it lives), with
the process id written in it for people. The next process that makes a directory of the same kind
in the same place first removes every one whose lock nobody holds: the lock, not the process id,
tells a live owner from a dead one, so a reused process id fools nothing. A directory whose lock
is held is never touched; one without a lock file (from an older version, or in another user's
directory) is left alone unless the caller owns the place (a training run's output directory).
Without ``fcntl`` (Windows) nothing is locked and nothing stale is removed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PREFIX = "korsent-"
LOCK_FILE = ".owner"

_locks: dict[Path, tuple[int, int]] = {}
"""This process's directories (and those inherited by a fork): path -> (owner pid, lock fd)."""
_swept: set[tuple[int, Path, str]] = set()


def make_directory(prefix: str = PREFIX, parent: Optional[Path] = None) -> Path:
    """A new directory in ``parent`` (default: the temporary directory), locked by this process
    and removed when it ends. Stale directories of the same ``prefix`` there go first (once per
    process and place)."""
    parent = Path(parent if parent is not None else tempfile.gettempdir())
    if (os.getpid(), parent, prefix) not in _swept:
        _swept.add((os.getpid(), parent, prefix))
        remove_stale(parent, prefix)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    fd = -1
    if fcntl is not None:
        # Locked under another name, then renamed: a sweeping process that sees .owner finds
        # it locked, never in the moment between its creation and its lock.
        fd = os.open(root / (LOCK_FILE + ".new"), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.rename(root / (LOCK_FILE + ".new"), root / LOCK_FILE)
    _locks[root] = (os.getpid(), fd)
    return root


def remove(root: Path | str) -> None:
    """Remove a directory made by :func:`make_directory`, in the process that made it only: a
    forked worker that exits normally must not take its parent's files with it."""
    root = Path(root)
    owner, fd = _locks.get(root, (None, -1))
    if owner != os.getpid():
        return
    del _locks[root]
    shutil.rmtree(root, ignore_errors=True)
    if fd >= 0:
        os.close(fd)


@contextmanager
def temporary(prefix: str = PREFIX, parent: Optional[Path] = None) -> Iterator[Path]:
    """A directory of :func:`make_directory` for the length of a ``with`` block."""
    root = make_directory(prefix, parent)
    try:
        yield root
    finally:
        remove(root)


def remove_stale(parent: Path, prefix: str = PREFIX, *, unowned: bool = False) -> list[Path]:
    """Remove the directories in ``parent`` named ``prefix*`` whose owner has ended; return them.

    ``unowned`` removes those without a lock file too (only where no other process makes any).
    """
    if fcntl is None:
        return []
    removed = []
    try:
        entries = [entry for entry in os.scandir(parent) if entry.name.startswith(prefix)]
    except OSError:
        return []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            fd = os.open(Path(entry.path, LOCK_FILE), os.O_RDWR)
        except FileNotFoundError:
            if unowned:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
            continue
        except OSError:  # another user's directory
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process lives
            os.close(fd)
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        os.close(fd)
        removed.append(Path(entry.path))
    return removed


@atexit.register
def _remove_all() -> None:
    for root in list(_locks):
        remove(root)
