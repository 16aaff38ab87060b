"""``korean_sentencizer``: sentence boundaries for Korean, from kiwipiepy's sentence splitter.

spaCy's rule-based ``sentencizer`` only splits after ``.``, ``!``, ``?`` and the like; Korean
reviews end sentences without punctuation (``재밌다 또 보고 싶다``), with ``...`` or ``ㅋㅋ``.
Kiwi (kiwipiepy) splits on its morphological analysis: sentence-final endings, ellipses and
laughter, while numbers such as ``3.5`` and quotations stay whole. Its character offsets are
mapped onto spaCy's tokens: a sentence starts at the first token that starts at or after Kiwi's
sentence start.

kiwipiepy is an optional dependency (``pip install 'spacy-korsent[kiwi]'``); without it the factory
raises an ImportError that says so. Kiwi is created lazily (about two seconds with its model) and
again in each forked worker of ``nlp.pipe(n_process=2)``.
"""

from __future__ import annotations

import os
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

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
        self._pid = 0

    def __call__(self, doc: Doc) -> Doc:
        starts = self.sentence_starts(doc.text)
        boundary = iter(starts)
        next_start = next(boundary, None)
        for token in doc:
            token.is_sent_start = token.i == 0 or (
                next_start is not None and token.idx >= next_start
            )
            if token.is_sent_start:
                while next_start is not None and next_start <= token.idx:
                    next_start = next(boundary, None)
        return doc

    def pipe(self, stream: Any, *, batch_size: int = 128) -> Any:
        for doc in stream:
            yield self(doc)

    def sentence_starts(self, text: str) -> list[int]:
        """Character offsets where Kiwi starts a sentence after the first one."""
        if not text.strip():
            return []
        sentences = self._splitter().split_into_sents(text, return_sub_sents=False)
        return [sentence.start for sentence in sentences[1:]]

    def _splitter(self) -> Any:
        if self._kiwi is None or self._pid != os.getpid():  # Kiwi's threads do not survive fork
            from kiwipiepy import Kiwi

            self._kiwi = Kiwi(num_workers=1)
            self._pid = os.getpid()
        return self._kiwi


@Language.factory("korean_sentencizer")
def make_korean_sentencizer(nlp: Language, name: str) -> KoreanSentencizer:
    return KoreanSentencizer(name)
