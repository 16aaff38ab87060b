"""The components' results as spaCy extensions over plain data.

Each value is stored as plain dicts, lists, strings and floats under ``_name`` and read through a
getter: that is what travels through ``DocBin(store_user_data=True)`` and worker processes, which
hand lists back as tuples; the getter rebuilds lists, so a value looks the same wherever the doc has
been.
"""

from __future__ import annotations

from typing import Any

from spacy.tokens import Doc, Span


def register_extension(name: str) -> None:
    """``Doc._.name`` / ``Span._.name``: a getter over the plain data kept under ``_name``."""
    stored = stored_name(name)
    for cls in (Doc, Span):
        if not cls.has_extension(name):
            cls.set_extension(stored, default=None)
            cls.set_extension(name, getter=lambda obj: _as_lists(obj._.get(stored)))


def stored_name(name: str) -> str:
    """The extension that holds the plain data behind ``name``."""
    return f"_{name}"


def _as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_lists(item) for item in value]
    return value
