"""``korean_sentencizer``: sentence boundaries for Korean, from kiwipiepy's sentence splitter.

spaCy's rule-based ``sentencizer`` only splits after ``.``, ``!``, ``?`` and the like; Korean
reviews end sentences without punctuation (``재밌다 또 보고 싶다``), with ``...`` or ``ㅋㅋ``.
Kiwi (kiwipiepy) splits on its morphological analysis: sentence-final endings, ellipses and
laughter, while numbers such as ``3.5`` and quotations stay whole. Its character offsets are
mapped onto spaCy's tokens: a sentence starts at the first token that starts at or after Kiwi's
sentence start. Kiwi's time grows faster than the length of its input, so a long text is given to
it in pieces of about :data:`PIECE_CHARS` characters, cut at line breaks or spaces (a cut is not a
sentence boundary by itself).

kiwipiepy is an optional dependency (``pip install 'spacy-korsent[kiwi]'``); without it the factory
raises an ImportError that says so. Kiwi is created lazily (about two seconds with its model) and
single-threaded: a Kiwi with worker threads hangs in the forked workers of
``nlp.pipe(n_process=2)``, and the classifiers keep the cores busy anyway.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from spacy.language import Language
from spacy.tokens import Doc

from ..inference import loading

PIECE_CHARS = 5000

KIWI_MISSING = (
    "korean_sentencizer needs kiwipiepy: pip install 'spacy-korsent[kiwi]' "
    "(or use spaCy's rule-based 'sentencizer')."
)


class KoreanSentencizer:
    """Set ``token.is_sent_start`` from Kiwi's sentence boundaries."""

    def __init__(self, name: str = "korean_sentencizer") -> None:
        try:
            import kiwipiepy  # noqa: F401
        except ImportError as err:
            raise ImportError(KIWI_MISSING) from err
        self.name = name
        self._kiwi: Any = None

    def __call__(self, doc: Doc) -> Doc:
        if not len(doc):
            return doc
        token_starts = doc.to_array("IDX").astype(np.int64)
        first_tokens = np.searchsorted(token_starts, self.sentence_starts(doc.text), side="left")
        flags: Any = np.full((len(doc), 1), -1, dtype=np.int64)  # -1: not a sentence start
        flags[first_tokens[first_tokens < len(doc)], 0] = 1
        flags[0, 0] = 1
        # Set all at once: token.is_sent_start costs a scan of the doc per token.
        return doc.from_array(["SENT_START"], flags.astype(np.uint64))

    def pipe(self, stream: Any, *, batch_size: int = 128) -> Any:
        for doc in stream:
            yield self(doc)

    def sentence_starts(self, text: str) -> list[int]:
        """Character offsets where Kiwi starts a sentence after the first one."""
        starts: list[int] = []
        for offset, piece in _pieces(text):
            if piece.strip():
                sentences = self._splitter().split_into_sents(piece, return_sub_sents=False)
                starts.extend(offset + sentence.start for sentence in sentences[1:])
        return starts

    def _splitter(self) -> Any:
        if self._kiwi is not None:
            return self._kiwi
        with loading.LOAD_LOCK:  # threads serving their first requests at once make one Kiwi
            if self._kiwi is None:
                from kiwipiepy import Kiwi

                # num_workers=0 ("changed in 0.21" warning): one thread, as wanted here.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._kiwi = Kiwi(num_workers=0)
        return self._kiwi


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """``text`` in pieces of at most about PIECE_CHARS characters, with their offsets."""
    start = 0
    while len(text) - start > PIECE_CHARS:
        window = text[start : start + PIECE_CHARS]
        cut = window.rfind("\n") + 1 or window.rfind(" ") + 1 or len(window)
        yield start, text[start : start + cut]
        start += cut
    yield start, text[start:]


@Language.factory("korean_sentencizer")
def make_korean_sentencizer(nlp: Language, name: str) -> KoreanSentencizer:
    return KoreanSentencizer(name)
