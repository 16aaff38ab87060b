"""The one directory where spacy-korsent keeps what it can make again: ONNX exports
(:mod:`spacy_korsent.inference.export_cache`) and teacher labels for distillation
(:mod:`spacy_korsent.training.teacher`), each in a folder of its own.

``$SPACY_KORSENT_CACHE`` when set, else the user's cache directory as the platform names it
(``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%``
on Windows) with ``spacy-korsent`` in it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV = "SPACY_KORSENT_CACHE"
"""Moves the cache directory."""


def cache_dir() -> Path:
    """The cache directory: ``$SPACY_KORSENT_CACHE``, else the platform's user cache directory."""
    moved = os.environ.get(CACHE_ENV)
    if moved:
        return Path(moved).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "spacy-korsent"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "spacy-korsent"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else home / ".cache") / "spacy-korsent"
