"""Turn texts into class probabilities: subword windows, length-sorted token-budget batches.

The engine is backend-neutral: a backend (:class:`~.backends.Backend`) is any callable that maps
padded ``input_ids`` and ``attention_mask`` (int64 arrays of shape ``[batch, length]``) to logits
``[batch, labels]``. The engine turns them into probabilities: a softmax over the labels, or for
multi-label models a sigmoid per label. Texts longer than one window are split into overlapping
windows of subword tokens; each window is classified and the text's probabilities are the mean
over its windows weighted by their lengths (:func:`window_means`; training takes its loss on the
same mean).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np

from .backends import Backend


class WindowClassifier:
    """Classify many texts at once with as little padding and as few forward passes as possible."""

    def __init__(
        self,
        tokenizer: Any,
        backend: Optional[Backend],
        *,
        max_length: int,
        stride: int,
        truncate: bool,
        batch_tokens: int,
        multi_label: bool = False,
    ) -> None:
        self.tokenizer = tokenizer
        self.backend = backend
        self.multi_label = multi_label
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
        # The first call turns off a truncation or padding saved with the tokenizer, which changes
        # the tokenizer shared by every thread ("Already borrowed" in a thread encoding then):
        # make that call now, while one thread builds the engine.
        self.encode(["."])

    def predict(self, texts: Sequence[str]) -> list[Optional[np.ndarray]]:
        """Probabilities for each text, or None for a text with no subword tokens."""
        windows, owners = self.split(texts)
        results: list[Optional[np.ndarray]] = [None] * len(texts)
        if not windows:
            return results
        probs = self.probabilities(windows)
        means = window_means(probs, owners, [len(window) for window in windows])
        for owner, mean in zip(sorted(set(owners)), means):
            results[owner] = mean.astype(np.float32)
        return results

    def split(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Every text's windows (special tokens included), in text order, and for each window the
        index of its text. A text without subword tokens has no window."""
        windows: list[list[int]] = []
        owners: list[int] = []
        for index, ids in enumerate(self.encode(texts)):
            for window in self.windows(ids):
                windows.append(window)
                owners.append(index)
        return windows, owners

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return self._tokenize(texts, offsets=False)["input_ids"]

    def encode_with_offsets(
        self, texts: Sequence[str]
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """Subword ids as :meth:`encode` gives them, and each subword's character span."""
        encoded = self._tokenize(texts, offsets=True)
        return encoded["input_ids"], encoded["offset_mapping"]

    def _tokenize(self, texts: Sequence[str], *, offsets: bool) -> Any:
        return self.tokenizer(
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

    def probabilities(self, windows: list[list[int]]) -> np.ndarray:
        """Probabilities of each window (softmax, or a sigmoid per label for multi-label)."""
        return activate(self.classify_windows(windows), multi_label=self.multi_label)

    def classify_windows(self, windows: list[list[int]]) -> np.ndarray:
        """Logits of each window: the backend on length-sorted batches within the token budget."""
        out: Optional[np.ndarray] = None
        for batch in self.batches(windows):
            ids, mask = self.pad([windows[i] for i in batch])
            assert self.backend is not None, "the engine has no backend yet"
            logits = self.backend(ids, mask)
            if out is None:
                out = np.empty((len(windows), logits.shape[1]), dtype=np.float32)
            out[batch] = logits
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
        """Ids padded to the longest window, and the attention mask."""
        width = max(map(len, windows))
        ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = window
            mask[row, : len(window)] = 1
        return ids, mask


def _special_tokens_around(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a single text ([CLS] and [SEP] for BERT)."""
    sentinel = -7
    built = tokenizer.build_inputs_with_special_tokens([sentinel])
    at = built.index(sentinel)
    return list(built[:at]), list(built[at + 1 :])


def activate(logits: np.ndarray, *, multi_label: bool) -> np.ndarray:
    """Probabilities from logits: a sigmoid per label, or a softmax over the labels."""
    logits = logits.astype(np.float64)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def window_means(values: np.ndarray, owners: Sequence[int], lengths: Sequence[int]) -> np.ndarray:
    """Length-weighted means of the rows of ``values`` that belong to one text, in text order.

    ``owners[i]`` is the text of row ``i``; a text's rows are contiguous and texts ascend.
    """
    weights = np.asarray(lengths, dtype=np.float64)
    owner_array = np.asarray(owners)
    starts = np.flatnonzero(np.r_[True, owner_array[1:] != owner_array[:-1]])
    sums = np.add.reduceat(values * weights[:, None], starts, axis=0)
    return sums / np.add.reduceat(weights, starts)[:, None]
