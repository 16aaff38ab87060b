"""A Korean spaCy pipeline that needs no MeCab, optionally with a Korean sentence splitter."""

from __future__ import annotations

import importlib.util
import warnings

import spacy
from spacy.language import Language

from .sentencizer import KIWI_MISSING
from .tokenizer import TOKENIZER


def blank_korean(sentences: bool = False) -> Language:
    """``spacy.blank("ko")`` with spaCy's rule-based tokenizer instead of mecab-ko, in the form
    that takes time linear in the length of the text (``spacy_korsent.KoreanTokenizer.v1``,
    see ``components/tokenizer.py``): the same tokens, without spaCy's quadratic time on long
    runs of punctuation or emoji.

    With ``sentences``, a sentence splitter goes first: ``korean_sentencizer`` when kiwipiepy is
    installed, else spaCy's ``sentencizer`` (with a warning that says how to get the better one).
    """
    nlp = spacy.blank("ko", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER}}})
    if sentences:
        splitter = sentence_splitter()
        if splitter == "sentencizer":
            warnings.warn(KIWI_MISSING, stacklevel=2)
        nlp.add_pipe(splitter)
    return nlp


def sentence_splitter() -> str:
    """The best sentence splitter installed: ``korean_sentencizer``, else ``sentencizer``."""
    return "korean_sentencizer" if importlib.util.find_spec("kiwipiepy") else "sentencizer"
