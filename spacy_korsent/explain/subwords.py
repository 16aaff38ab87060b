"""A text's subword windows as the engine sees them, each subword tied to the spaCy token it is in.

Both attribution methods work per window in subword space and add each subword's share to its
spaCy token, weighting windows as :meth:`WindowClassifier.predict` does (by their length), so that
a token's attribution is measured against the very probabilities the component reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..inference.engine import WindowClassifier

Offsets = Sequence[tuple[int, int]]


@dataclass
class TextWindows:
    """One text's subwords, the spaCy token of each, and the windows the engine cuts."""

    ids: np.ndarray
    """Subword ids of the whole text, without special tokens."""
    owners: np.ndarray
    """For each subword, the index of the spaCy token it belongs to (-1: none)."""
    spans: list[tuple[int, int]]
    """``[start, end)`` subword ranges of the windows, in order."""
    weights: np.ndarray
    """Each window's share of the text's probability: its length over all windows' lengths."""
    n_tokens: int

    def window(self, classifier: WindowClassifier, index: int) -> list[int]:
        """Window ``index`` with its special tokens, exactly as the engine classifies it."""
        start, end = self.spans[index]
        return classifier.prefix + self.ids[start:end].tolist() + classifier.suffix


def text_windows(
    classifier: WindowClassifier, texts: Sequence[str], token_offsets: Sequence[Offsets]
) -> list[TextWindows]:
    """Tokenize ``texts`` once and tie every subword to one of the text's spaCy tokens."""
    if len(texts) != len(token_offsets):
        raise ValueError(
            f"got {len(texts)} texts but token offsets for {len(token_offsets)}: give one list "
            "of (start, end) character offsets per text."
        )
    ids_per_text, subword_offsets = classifier.encode_with_offsets(texts)
    specials = len(classifier.prefix) + len(classifier.suffix)
    prepared = []
    for ids, offsets, tokens in zip(ids_per_text, subword_offsets, token_offsets):
        spans = classifier.spans(len(ids))
        lengths = np.array([end - start + specials for start, end in spans], dtype=np.float64)
        prepared.append(
            TextWindows(
                ids=np.asarray(ids, dtype=np.int64),
                owners=owning_tokens(offsets, tokens),
                spans=spans,
                weights=lengths / lengths.sum() if spans else lengths,
                n_tokens=len(tokens),
            )
        )
    return prepared


def owning_tokens(subwords: Offsets, tokens: Offsets) -> np.ndarray:
    """The token each subword overlaps most (the first of equals), or -1 where it overlaps none.

    Subwords and tokens are ``(start, end)`` character spans in text order; tokens do not overlap.
    A subword that straddles two tokens (spaCy and the subword tokenizer split some words
    differently) goes to one of them, so that subword scores are counted exactly once.
    """
    owners = np.full(len(subwords), -1, dtype=np.int64)
    if not tokens:
        return owners
    starts = np.fromiter((start for start, _ in tokens), dtype=np.int64, count=len(tokens))
    if np.any(np.diff(starts) < 0):
        raise ValueError("token offsets must be in text order, as a Doc's tokens are.")
    for index, (start, end) in enumerate(subwords):
        best, best_overlap = -1, 0
        token = max(int(np.searchsorted(starts, start, side="right")) - 1, 0)
        while token < len(tokens) and tokens[token][0] < end:
            overlap = min(end, tokens[token][1]) - max(start, tokens[token][0])
            if overlap > best_overlap:
                best, best_overlap = token, overlap
            token += 1
        owners[index] = best
    return owners
