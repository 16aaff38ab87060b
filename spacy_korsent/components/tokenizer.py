"""spaCy's rule-based tokenizer, in time linear in the length of the text.

spaCy's ``Tokenizer`` splits a text at whitespace and then peels prefixes and suffixes off each
whitespace-free chunk one at a time; every step copies the rest of the chunk, hashes it and runs
the suffix expression over it (explosion/spaCy#1768, #4362). A chunk that is one long run of
affixes (20,000 ``!``, an emoji run) therefore costs time quadratic in its length: 12 kB of ``!``
take about a minute, holding the GIL.

``KoreanTokenizer`` is that tokenizer with the same rules and settings, and it gives the same
tokens: ordinary chunks (up to ``LONG_CHUNK`` characters) go to spaCy's code unchanged, and a
longer chunk is split by the same algorithm written over positions instead of copies, with every
affix expression run on a bounded window of the chunk. Pre-splitting long runs before spaCy's
rules would be simpler but would change tokens: a run of ``.`` is one token, and ``ab!!!cd``
(``!`` being no infix) is one token too, however long.

The window is exact for affix rules that decide within ``WINDOW_MARGIN`` characters past what they
match, as spaCy's punctuation rules do (their lookarounds read one character; open-ended ones
such as ``\\.\\.+`` reach the window's edge, and the window then grows until they do not). A
``token_match`` (Korean has none) is still called on the rest of the chunk at every step, as spaCy
does, since a window could change its answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Optional, cast

import numpy
from spacy.attrs import NORM, ORTH, SPACY, intify_attrs
from spacy.language import Language, create_tokenizer
from spacy.matcher import PhraseMatcher
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import registry
from thinc.types import Ints2d

LONG_CHUNK = 64
"""Chunks longer than this many characters are split by ``KoreanTokenizer`` itself: spaCy's code
costs up to about 2e-7 * length**2 seconds per chunk, a millisecond at this length."""

WINDOW = 16
"""Characters an affix expression sees at first."""

WINDOW_MARGIN = 8
"""A match that ends (prefix) or starts (suffix) closer than this to the window's inner edge is
looked for again in a window twice the size."""

TOKENIZER = "spacy_korsent.KoreanTokenizer.v1"
"""Its name in spaCy's registry (``@tokenizers``); importing this module registers it."""


Word = tuple[str, Optional[str]]
"""A token's text and the norm a special case gives it (None: the lexeme's own)."""


class KoreanTokenizer(Tokenizer):
    """spaCy's ``Tokenizer`` (same rules, serialization and pickling) in linear time; see the
    module's docstring for how."""

    long_chunk: int = LONG_CHUNK
    """Whitespace-free chunks longer than this are split here rather than by spaCy's code."""

    def __call__(self, text: str) -> Doc:
        long_chunks = list(_chunks_longer_than(self.long_chunk).finditer(text))
        if not long_chunks:
            return super().__call__(text)
        docs: list[Doc] = []
        start = 0
        for chunk in long_chunks:
            if chunk.start() > start:
                docs.append(super().__call__(text[start : chunk.start()]))
            end = chunk.end()
            # One space after a chunk is its last token's whitespace, as in spaCy; any further
            # whitespace begins the next piece, which spaCy tokenizes as it would in place.
            spaced = text.startswith(" ", end)
            docs.append(self._long_chunk_doc(chunk.group(), spaced))
            start = end + spaced
        if start < len(text):
            docs.append(super().__call__(text[start:]))
        return self._joined(docs) if len(docs) > 1 else docs[0]

    def _joined(self, docs: list[Doc]) -> Doc:
        """One doc of the pieces' tokens, whitespace and norms (all a tokenizer sets; faster
        than ``Doc.from_docs``, which costs more per token than the tokenization itself)."""
        columns = numpy.concatenate([doc.to_array([ORTH, NORM, SPACY]) for doc in docs])
        strings = self.vocab.strings
        joined = Doc(
            self.vocab,
            words=[strings[orth] for orth in columns[:, 0].tolist()],
            spaces=columns[:, 2].astype(bool).tolist(),
        )
        joined.from_array([NORM], cast(Ints2d, columns[:, 1:2]))
        return joined

    def add_special_case(self, string: str, substrings: Any) -> None:
        # spaCy adds every special case through here, also when rules or expressions change.
        super().add_special_case(string, substrings)
        self._special_cases_version = getattr(self, "_special_cases_version", 0) + 1

    def _long_chunk_doc(self, chunk: str, spaced: bool) -> Doc:
        """The doc spaCy makes of ``chunk``: affixes split, then special cases applied."""
        rules, matcher = self._special_cases()
        words = self._split(chunk, rules)
        doc = self._doc(words, spaced)
        applied = self._apply_special_cases(doc, words, rules, matcher)
        return doc if applied is words else self._doc(applied, spaced)

    def _doc(self, words: list[Word], spaced: bool) -> Doc:
        spaces = [False] * len(words)
        spaces[-1] = spaced
        doc = Doc(self.vocab, words=[text for text, _ in words], spaces=spaces)
        for i, (_, norm) in enumerate(words):
            if norm is not None:
                doc[i].norm_ = norm
        return doc

    def _split(self, chunk: str, rules: dict[str, list[Word]]) -> list[Word]:
        """The tokens of a whitespace-free chunk before special cases spanning several tokens
        are put back: spaCy's ``_split_affixes`` and ``_attach_tokens``, over positions."""
        longest_rule = max(map(len, rules), default=0)

        def is_rule(begin: int, end: int) -> bool:
            return 0 < end - begin <= longest_rule and chunk[begin:end] in rules

        prefixes: list[Word] = []
        suffixes: list[Word] = []
        begin, end, last_size = 0, len(chunk), -1
        while begin < end and end - begin != last_size:
            if self.token_match and self.token_match(chunk[begin:end]):
                break
            if is_rule(begin, end):
                break
            last_size = end - begin
            pre_len = self._prefix_length(chunk, begin, end)
            if pre_len and is_rule(begin + pre_len, end):
                prefixes.append((chunk[begin : begin + pre_len], None))
                begin += pre_len
                break
            suf_len = self._suffix_length(chunk, begin + pre_len, end)
            if suf_len and is_rule(begin, end - suf_len):
                suffixes.append((chunk[end - suf_len : end], None))
                end -= suf_len
                break
            if pre_len and suf_len and pre_len + suf_len <= end - begin:
                prefixes.append((chunk[begin : begin + pre_len], None))
                suffixes.append((chunk[end - suf_len : end], None))
                begin, end = begin + pre_len, end - suf_len
            elif pre_len:
                prefixes.append((chunk[begin : begin + pre_len], None))
                begin += pre_len
            elif suf_len:
                suffixes.append((chunk[end - suf_len : end], None))
                end -= suf_len
        suffixes.reverse()
        return [*prefixes, *self._attach(chunk[begin:end], rules), *suffixes]

    def _attach(self, middle: str, rules: dict[str, list[Word]]) -> list[Word]:
        """What is left between the affixes: a special case, a token or URL match, or the pieces
        between infixes."""
        if not middle:
            return []
        if middle in rules:
            return rules[middle]
        if (self.token_match and self.token_match(middle)) or (
            self.url_match and self.url_match(middle)
        ):
            return [(middle, None)]
        texts: list[str] = []
        start = 0
        for match in self.find_infix(middle) or ():
            infix_start, infix_end = match.start(), match.end()
            if infix_start == 0:
                continue
            if infix_start != start:
                texts.append(middle[start:infix_start])
            if infix_start != infix_end:
                texts.append(middle[infix_start:infix_end])
            start = infix_end
        if middle[start:]:
            texts.append(middle[start:])
        return [(text, None) for text in texts]

    def _prefix_length(self, chunk: str, begin: int, end: int) -> int:
        """``find_prefix(chunk[begin:end])``, reading a bounded window of it."""
        width = WINDOW
        while True:
            window = chunk[begin : min(end, begin + width)]
            length: int = self.find_prefix(window) or 0
            if begin + width >= end or length <= len(window) - WINDOW_MARGIN:
                return length
            width *= 2

    def _suffix_length(self, chunk: str, begin: int, end: int) -> int:
        """``find_suffix(chunk[begin:end])``, reading a bounded window of it."""
        if begin >= end:
            return 0
        width = WINDOW
        while True:
            window = chunk[max(begin, end - width) : end]
            length: int = self.find_suffix(window) or 0
            if end - width <= begin or length <= len(window) - WINDOW_MARGIN:
                return length
            width *= 2

    def _apply_special_cases(
        self, doc: Doc, words: list[Word], rules: dict[str, list[Word]], matcher: PhraseMatcher
    ) -> list[Word]:
        """spaCy's ``_apply_special_cases``: special cases that the affix rules split into
        several tokens (``:)`` into ``:`` and ``)``) are put back, longest and then leftmost
        first, where neither their first nor their last token is taken yet."""
        matches = sorted(
            ((start, end, self.vocab.strings[key]) for key, start, end in matcher(doc)),
            key=lambda match: (match[0] - match[1], match[0]),
        )
        taken: set[int] = set()
        chosen: dict[int, tuple[int, str]] = {}
        for start, end, text in matches:
            if start not in taken and end - 1 not in taken:
                chosen[start] = (end, text)
            taken.update(range(start, end))
        if not chosen:
            return words
        applied: list[Word] = []
        i = 0
        while i < len(words):
            if i in chosen:
                end, text = chosen[i]
                applied.extend(rules[text])
                i = end
            else:
                applied.append(words[i])
                i += 1
        return applied

    def _special_cases(self) -> tuple[dict[str, list[Word]], PhraseMatcher]:
        """The special cases as words, and the phrase matcher of those the affix rules split
        (spaCy's ``_special_matcher``, which Python cannot reach); built again after any change
        to the rules or expressions."""
        key = (
            getattr(self, "_special_cases_version", 0), len(self.rules), self.prefix_search,
            self.suffix_search, self.infix_finditer, self.token_match, self.url_match,
            self.faster_heuristics,
        )  # fmt: skip
        cached = getattr(self, "_special_cases_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        rules = {text: _rule_words(tokens) for text, tokens in self.rules.items()}
        matcher = PhraseMatcher(self.vocab)
        for text in rules:
            if not self.faster_heuristics or (
                self.find_prefix(text)
                or self.find_infix(text)
                or self.find_suffix(text)
                or " " in text
            ):
                split = [word for word, _ in self._split(text, {})]
                matcher.add(text, [Doc(self.vocab, words=split)])
        self._special_cases_cache = (key, rules, matcher)
        return rules, matcher


@functools.cache
def _chunks_longer_than(length: int) -> re.Pattern[str]:
    """Runs of more than ``length`` characters without whitespace (``\\s`` is ``str.isspace``,
    what spaCy splits at)."""
    return re.compile(rf"\S{{{length + 1},}}")


def _rule_words(tokens: list[dict]) -> list[Word]:
    """A special case's tokens (attributes by name or by ID) as texts and norms."""
    return [(attrs[ORTH], attrs.get(NORM)) for attrs in (intify_attrs(token) for token in tokens)]


@registry.tokenizers(TOKENIZER)
def create_korean_tokenizer() -> Callable[[Language], KoreanTokenizer]:
    """``spacy.Tokenizer.v1``'s tokenizer (the language's rules), in linear time."""

    def make(nlp: Language) -> KoreanTokenizer:
        rule_based = create_tokenizer()(nlp)
        return KoreanTokenizer(
            nlp.vocab,
            rules=rule_based.rules,
            prefix_search=rule_based.prefix_search,
            suffix_search=rule_based.suffix_search,
            infix_finditer=rule_based.infix_finditer,
            token_match=rule_based.token_match,
            url_match=rule_based.url_match,
        )

    return make
