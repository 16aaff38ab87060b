"""The words that set each label apart: Korean word forms, counted in bounded memory, ranked.

**Words.** Korean writes a content word and its particles or endings as one whitespace-separated
unit (어절): 연기는, 연기가, 연기도 are one word, 연기. The report splits on whitespace and
punctuation and strips the common particles and verb endings from the end of each unit, so that
those forms count together and the table shows a word an analyst recognizes. Character bigrams
would need no list of endings, but rank fragments (기는, 는데) that say little on their own; a
morphological analyser (Kiwi) would be more exact but costs more than the rest of the report on
200,000 rows. Latin letters are lower-cased and runs of one character (ㅋㅋㅋㅋ) shortened to two.

**Bounded counting.** Each word's count per label is exact until the table holds ``capacity``
words; then the rarer half is dropped (a word dropped can come back, counted from then on), so
memory stays the same on any number of rows while the frequent words — the only ones that can
reach a ranking's minimum count — keep their counts. The report says when words were dropped.

**Ranking.** Counts are ranked by the log-odds ratio with an informative Dirichlet prior (Monroe,
Colaresi and Quinn 2008, "Fightin' Words"): the z-score of a word's log-odds in one label against
all the others, with the word's count in the whole corpus as its prior, which keeps rare words
from topping the list by chance. Attributions, when rows carry them, are ranked by their mean
(towards the row's label) over the word's occurrences, with the same minimum count.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_SPLIT = re.compile(r"[^\w]+")
_REPEATS = re.compile(r"(.)\1{2,}")

SUFFIXES = (
    # particles (연기는, 영화가, 배우들), then verb and adjective endings (지루했지만, 좋았다)
    "하겠습니다",
    "했습니다",
    "했었는데",
    "까지도",
    "부터는",
    "습니다",
    "았는데",
    "았어요",
    "았지만",
    "었는데",
    "었어요",
    "었지만",
    "에게서",
    "에서는",
    "에서도",
    "였는데",
    "였어요",
    "였지만",
    "으로는",
    "으로도",
    "이네요",
    "이라도",
    "이었다",
    "입니다",
    "하고요",
    "하네요",
    "하는데",
    "하다가",
    "하였다",
    "하지만",
    "합니다",
    "해서요",
    "했네요",
    "했는데",
    "했어요",
    "했지만",
    "까지",
    "네요",
    "는데",
    "니까",
    "라도",
    "마저",
    "면서",
    "밖에",
    "보다",
    "부터",
    "아요",
    "았다",
    "았던",
    "어요",
    "었다",
    "었던",
    "에게",
    "에서",
    "였다",
    "으니",
    "으로",
    "으면",
    "은데",
    "이나",
    "이다",
    "이라",
    "이랑",
    "조차",
    "지만",
    "지요",
    "처럼",
    "하게",
    "하고",
    "하는",
    "하니",
    "하다",
    "하던",
    "하면",
    "한테",
    "해서",
    "해요",
    "했다",
    "했던",
    "가",
    "과",
    "나",
    "는",
    "다",
    "도",
    "들",
    "랑",
    "로",
    "를",
    "만",
    "에",
    "와",
    "요",
    "은",
    "을",
    "의",
    "이",
    "죠",
)
"""Stripped from the end of a unit, the longest that fits first."""
_STRIP = re.compile("(.+?)(" + "|".join(SUFFIXES) + ")")


def words(text: str) -> list[str]:
    """The word forms of a text, each once (a review that repeats a word counts once)."""
    units = _SPLIT.split(_REPEATS.sub(r"\1\1", text.lower()))
    return [word for word in dict.fromkeys(map(stem, units)) if word and not word.isdigit()]


@lru_cache(maxsize=1 << 16)
def stem(unit: str) -> str:
    """A whitespace unit without its final particle or ending.

    A one-syllable suffix is stripped only from a unit that keeps two syllables (영화가 -> 영화,
    but 평가, 정도, 불만 stay whole), a longer one from any (좋았다 -> 좋).
    """
    if len(unit) < 2 or not ("가" <= unit[-1] <= "힣"):
        return unit
    match = _STRIP.fullmatch(unit)
    if match is None:
        return unit
    kept, suffix = match.groups()
    return kept if len(kept) >= 2 or len(suffix) >= 2 else unit


@dataclass(frozen=True)
class Ranked:
    """A word's standing in one label: its score (z or mean attribution), count in the label,
    count in the whole corpus."""

    word: str
    score: float
    count: int
    total: int


class WordTable:
    """Per label, how many rows hold each word (and optionally the sum of a weight per word),
    for at most ``2 * capacity`` words at a time."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self.counts: dict[str, Counter[str]] = {}
        self.weights: dict[str, dict[str, float]] = {}
        self.vocabulary: set[str] = set()
        self.pruned = 0
        """How many times the rarer half was dropped."""

    def add(self, label: str, tokens: list[str]) -> None:
        """Count each of a row's words under its label."""
        counts = self.counts.get(label)
        if counts is None:
            counts = self.counts[label] = Counter()
        counts.update(tokens)
        self._grown(tokens)

    def add_weighted(self, label: str, pairs: Iterable[tuple[str, float]]) -> None:
        """Count a row's words under its label, adding each occurrence's weight (attribution)."""
        weights = self.weights.setdefault(label, {})
        counts = self.counts.setdefault(label, Counter())
        tokens = []
        for token, weight in pairs:
            tokens.append(token)
            weights[token] = weights.get(token, 0.0) + weight
        counts.update(tokens)
        self._grown(tokens)

    @property
    def totals(self) -> Counter[str]:
        """Each word's count over all labels."""
        totals: Counter[str] = Counter()
        for counts in self.counts.values():
            totals.update(counts)
        return totals

    def _grown(self, tokens: list[str]) -> None:
        self.vocabulary.update(tokens)
        if len(self.vocabulary) > 2 * self.capacity:
            kept = {word for word, _ in self.totals.most_common(self.capacity)}
            for label, counts in self.counts.items():
                self.counts[label] = Counter({w: n for w, n in counts.items() if w in kept})
            for label, weights in self.weights.items():
                self.weights[label] = {w: v for w, v in weights.items() if w in kept}
            self.vocabulary = kept
            self.pruned += 1

    def distinctive(self, label: str, *, top: int = 15, min_count: int = 5) -> list[Ranked]:
        """The ``top`` words of ``label`` by the z-score of their log-odds against every other
        label (informative Dirichlet prior: the corpus counts), among words it holds at least
        ``min_count`` times; only words with a positive z (more typical of the label)."""
        counts = self.counts.get(label, Counter())
        totals = self.totals
        n_label = sum(counts.values())
        n_all = sum(totals.values())
        n_rest = n_all - n_label
        if not n_label or not n_rest:
            return []
        ranked = []
        for word, y_label in counts.items():
            if y_label < min_count:
                continue
            prior = totals[word]  # alpha_w, with alpha_0 = n_all
            y_rest = prior - y_label
            delta = math.log((y_label + prior) / (n_label + n_all - y_label - prior)) - math.log(
                (y_rest + prior) / (n_rest + n_all - y_rest - prior)
            )
            z = delta / math.sqrt(1 / (y_label + prior) + 1 / (y_rest + prior))
            if z > 0:
                ranked.append(Ranked(word, z, y_label, prior))
        ranked.sort(key=lambda r: (-r.score, r.word))
        return ranked[:top]

    def by_weight(self, label: str, *, top: int = 15, min_count: int = 5) -> list[Ranked]:
        """The ``top`` words of ``label`` by mean weight per occurrence (attribution towards the
        label), among words seen at least ``min_count`` times in it; only positive means."""
        counts = self.counts.get(label, Counter())
        totals = self.totals
        ranked = [
            Ranked(word, total / counts[word], counts[word], totals[word])
            for word, total in self.weights.get(label, {}).items()
            if counts[word] >= min_count and total > 0
        ]
        ranked.sort(key=lambda r: (-r.score, r.word))
        return ranked[:top]
