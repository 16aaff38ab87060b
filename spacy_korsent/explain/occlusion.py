"""Occlusion: how much the target's probability drops when a spaCy token is left out.

Works on any backend (torch, ONNX, ONNX int8), because it needs nothing but forward passes, and
those go through the engine's length-sorted token-budget batches like any other input.

For each window of a text and each spaCy token with subwords in it, the window is classified again
without that token's subwords. A token's attribution is the weighted sum, over the windows that
hold it, of ``p_window(target) - p_window_without_token(target)``, with the weights the text's
probability is averaged with: it is how far the text's probability falls when the token is
removed from every window. For a text of one window that is exactly leave-one-token-out.

Cost: one forward pass per window plus one per (token, window) pair, i.e. ``T + 1`` windows for a
text of ``T`` tokens that fits one window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice

import numpy as np

from ..inference.engine import WindowClassifier
from .subwords import Offsets, TextWindows, text_windows

CHUNK_WINDOWS = 4096
"""Occluded windows built and classified at a time: bounds memory for very long texts."""


def occlusion(
    classifier: WindowClassifier,
    texts: Sequence[str],
    token_offsets: Sequence[Offsets],
    targets: Sequence[int],
) -> list[np.ndarray]:
    """Leave-one-token-out attributions towards ``targets``, one value per spaCy token."""
    prepared = text_windows(classifier, texts, token_offsets)
    attributions = [np.zeros(text.n_tokens, dtype=np.float64) for text in prepared]
    full = [text.window(classifier, w) for text in prepared for w in range(len(text.spans))]
    if not full:
        return attributions
    full_probs = classifier.probabilities(full)
    first_window = np.cumsum([0] + [len(text.spans) for text in prepared])
    jobs = _occluded_windows(classifier, prepared)
    while chunk := list(islice(jobs, CHUNK_WINDOWS)):
        probs = classifier.probabilities([window for *_, window in chunk])
        for (index, w, token, _), p in zip(chunk, probs):
            target = targets[index]
            drop = full_probs[first_window[index] + w, target] - p[target]
            attributions[index][token] += prepared[index].weights[w] * drop
    return attributions


def _occluded_windows(
    classifier: WindowClassifier, prepared: list[TextWindows]
) -> Iterator[tuple[int, int, int, list[int]]]:
    """``(text, window, token, window without the token's subwords)`` for every pair, lazily."""
    prefix = np.asarray(classifier.prefix, dtype=np.int64)
    suffix = np.asarray(classifier.suffix, dtype=np.int64)
    for index, text in enumerate(prepared):
        for w, (start, end) in enumerate(text.spans):
            ids, owners = text.ids[start:end], text.owners[start:end]
            for token in np.unique(owners[owners >= 0]):
                kept = ids[owners != token]
                yield index, w, int(token), np.concatenate([prefix, kept, suffix]).tolist()
