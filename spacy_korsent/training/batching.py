"""Batches of texts of similar lengths, for ``korsent train``, ``korsent distill`` and (as a
registered batcher) ``spacy train``: little padding, yet a different order every epoch."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Callable, Optional

import numpy as np
from spacy.training import Example
from spacy.util import registry

from ..components.registry import resolve_model
from ..inference.loading import load_tokenizer


def similar_length_batches(
    lengths: np.ndarray, size: int, rng: np.random.Generator | None, *, pool: int = 50
) -> list[np.ndarray]:
    """Index batches of similar lengths; shuffled (with ``rng``) or in length order.

    Shuffled: a random permutation is cut into pools of ``pool`` batches, each pool is sorted by
    length and cut into batches, and the batches are shuffled, so padding stays small while every
    epoch sees a different order.
    """
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + size] for i in range(0, len(order), size)]
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    for start in range(0, len(order), size * pool):
        chunk = order[start : start + size * pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
    return [batches[i] for i in rng.permutation(len(batches))]


def epoch_bar(batches: list[np.ndarray], epoch: int, epochs: int, *, quiet: bool) -> Any:
    """The batches of one epoch with a progress bar on a terminal's standard error (none when
    ``quiet`` or not a terminal)."""
    from tqdm import tqdm

    return tqdm(
        batches,
        desc=f"epoch {epoch}/{epochs}",
        unit="batch",
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


@registry.batchers("spacy_korsent.batch_by_length.v1")
def configure_batch_by_length(
    size: int = 32, pool: int = 50, tokenizer: Optional[str] = None
) -> Callable[[Iterable[Example]], Iterator[list[Example]]]:
    """``spacy train``'s batcher for these components: ``size`` examples a batch, of similar
    lengths within each pool of ``pool`` batches (as ``korsent train`` batches).

    Lengths are counted in the subword tokens of ``tokenizer`` (the component's model, a hub id
    or directory: ``${components.korean_sentiment.model}`` in a config), as the model sees them;
    without it, in characters. On NSMC, batches of similar subword counts pad to 1.05 times the
    real tokens, of similar characters to 1.4 times, of similar spaCy token counts to 2.0 times,
    and spaCy's own ``batch_by_sequence`` (random order) to 3.2 times.
    """
    count = _subword_counter(tokenizer) if tokenizer else None

    def batch(examples: Iterable[Example]) -> Iterator[list[Example]]:
        items = list(examples)
        texts = [eg.predicted.text for eg in items]
        lengths = np.fromiter(
            count(texts) if count else map(len, texts), dtype=np.int64, count=len(items)
        )
        rng = np.random.default_rng(random.getrandbits(32))  # spacy train seeds ``random``
        for indices in similar_length_batches(lengths, size, rng, pool=pool):
            yield [items[i] for i in indices]

    return batch


def _subword_counter(tokenizer: str) -> Callable[[list[str]], Iterator[int]]:
    """Count each text's subword tokens with the tokenizer of ``tokenizer`` (loaded at once, so
    a wrong name fails when the config is read)."""
    loaded = load_tokenizer(resolve_model(tokenizer))

    def count(texts: list[str]) -> Iterator[int]:
        for start in range(0, len(texts), 4096):
            encoded = loaded(texts[start : start + 4096], add_special_tokens=True)["input_ids"]
            yield from map(len, encoded)

    return count
