"""Turn texts into class probabilities: subword windows, length-sorted token-budget batches.

The engine is backend-neutral: a backend is any callable that maps padded ``input_ids`` and
``attention_mask`` (int64 arrays of shape ``[batch, length]``) to probabilities ``[batch, labels]``.
Texts longer than one window are split into overlapping windows of subword tokens; each window is
classified and the text's probabilities are the mean over its windows weighted by their lengths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Callable, Optional

import numpy as np

Backend = Callable[[np.ndarray, np.ndarray], np.ndarray]


class WindowClassifier:
    """Classify many texts at once with as little padding and as few forward passes as possible."""

    def __init__(
        self,
        tokenizer: object,
        backend: Backend,
        *,
        max_length: int,
        stride: int,
        truncate: bool,
        batch_tokens: int,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.prefix, self.suffix = _special_tokens_around(tokenizer)
        self.body = max_length - len(self.prefix) - len(self.suffix)
        if self.body < 1:
            raise ValueError(f"max_length={max_length} leaves no room for text tokens.")
        if not 0 <= stride < self.body:
            raise ValueError(
                f"stride={stride} must be at least 0 and below the {self.body} text tokens "
                f"that fit in a window of max_length={max_length}."
            )
        self.step = self.body - stride
        self.truncate = truncate
        self.batch_tokens = max(batch_tokens, max_length)
        self.pad_id = getattr(tokenizer, "pad_token_id", None) or 0

    def predict(self, texts: Sequence[str]) -> list[Optional[np.ndarray]]:
        """Probabilities for each text, or None for a text with no subword tokens."""
        owners: list[int] = []
        windows: list[list[int]] = []
        for index, ids in enumerate(self.encode(texts)):
            for window in self.windows(ids):
                owners.append(index)
                windows.append(window)
        results: list[Optional[np.ndarray]] = [None] * len(texts)
        if not windows:
            return results
        probs = self.classify_windows(windows)
        weights = np.fromiter((len(w) for w in windows), dtype=np.float64, count=len(windows))
        owner_array = np.asarray(owners)
        # Windows of one text are contiguous: reduce each run to a length-weighted mean.
        starts = np.flatnonzero(np.r_[True, owner_array[1:] != owner_array[:-1]])
        sums = np.add.reduceat(probs * weights[:, None], starts, axis=0)
        totals = np.add.reduceat(weights, starts)
        for start, summed, total in zip(starts, sums, totals):
            results[owners[start]] = (summed / total).astype(np.float32)
        return results

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return self._tokenize(texts, offsets=False)["input_ids"]

    def encode_with_offsets(
        self, texts: Sequence[str]
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """Subword ids as :meth:`encode` gives them, and each subword's character span."""
        encoded = self._tokenize(texts, offsets=True)
        return encoded["input_ids"], encoded["offset_mapping"]

    def _tokenize(self, texts: Sequence[str], *, offsets: bool) -> Any:
        return self.tokenizer(  # type: ignore[operator]
            list(texts),
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            return_offsets_mapping=offsets,
            verbose=False,
        )

    def windows(self, ids: list[int]) -> list[list[int]]:
        return [self.prefix + ids[start:end] + self.suffix for start, end in self.spans(len(ids))]

    def spans(self, n_ids: int) -> list[tuple[int, int]]:
        """The ``[start, end)`` ranges of a text's subwords that its windows hold, in order."""
        if n_ids <= self.body or (self.truncate and n_ids):
            return [(0, min(n_ids, self.body))] if n_ids else []
        spans = []
        for start in range(0, n_ids, self.step):
            spans.append((start, min(start + self.body, n_ids)))
            if start + self.body >= n_ids:
                break
        return spans

    def classify_windows(self, windows: list[list[int]]) -> np.ndarray:
        """Run the backend on length-sorted batches that each stay within the token budget."""
        out: Optional[np.ndarray] = None
        for batch in self.batches(windows):
            ids, mask = self.pad([windows[i] for i in batch])
            probs = self.backend(ids, mask)
            if out is None:
                out = np.empty((len(windows), probs.shape[1]), dtype=np.float32)
            out[batch] = probs
        assert out is not None
        return out

    def batches(self, windows: list[list[int]]) -> Iterator[list[int]]:
        """Indices of ``windows``, shortest first, cut into batches within the token budget."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        begin = 0
        while begin < len(order):
            # Sorted ascending, so the last window taken is the batch's longest.
            end = begin + 1
            while (
                end < len(order)
                and (end - begin + 1) * len(windows[order[end]]) <= self.batch_tokens
            ):
                end += 1
            yield order[begin:end]
            begin = end

    def pad(self, windows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        width = len(windows[-1])
        ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = window
            mask[row, : len(window)] = 1
        return ids, mask


def _special_tokens_around(tokenizer: object) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single text ([CLS] and [SEP] for BERT)."""
    sentinel = -7
    built = tokenizer.build_inputs_with_special_tokens([sentinel])  # type: ignore[attr-defined]
    at = built.index(sentinel)
    return list(built[:at]), list(built[at + 1 :])
