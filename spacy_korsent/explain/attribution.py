"""Choose an attribution method by name and run it on a window classifier.

Every method returns, for each text, one float per spaCy token: how much the token pushes the
classifier's output probability of the target class up (positive) or down (negative). The
probabilities are whatever the backend outputs (softmax for a single-label model, a sigmoid per
label for a multi-label one), so the methods never assume which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..inference.backends import backend_kind
from ..inference.engine import WindowClassifier
from .subwords import Offsets

METHODS = ("occlusion", "integrated_gradients")
"""Method names, the first the default. Costs (forward passes per doc): docs/explanations.md."""


def check_method(method: str, backend: str) -> None:
    """Refuse, before any model loads, a method that is unknown or cannot run on ``backend``."""
    from .gradients import NEEDS_TORCH

    _require_known(method)
    if method == "integrated_gradients" and not backend_kind(backend).gradients:
        raise ValueError(f"backend={backend!r}: {NEEDS_TORCH}")


def attribute(
    method: str,
    classifier: WindowClassifier,
    texts: Sequence[str],
    token_offsets: Sequence[Offsets],
    targets: Sequence[int],
    **options: Any,
) -> list[np.ndarray]:
    """Attributions of each text's spaCy tokens towards the class ``targets[i]``.

    ``token_offsets[i]`` holds the ``(start, end)`` character offsets of text ``i``'s spaCy
    tokens, in order. Options go to the method (``integrated_gradients``: ``steps``). A text
    without subword tokens gets zeros.
    """
    _require_known(method)
    if len(targets) != len(texts):
        raise ValueError(f"got {len(texts)} texts but {len(targets)} targets: give one per text.")
    if method == "occlusion":
        from .occlusion import occlusion

        return occlusion(classifier, texts, token_offsets, targets, **options)
    from .gradients import integrated_gradients

    return integrated_gradients(classifier, texts, token_offsets, targets, **options)


def _require_known(method: str) -> None:
    if method not in METHODS:
        names = ", ".join(map(repr, METHODS))
        raise ValueError(f"unknown attribution method {method!r}: use one of {names}.")
