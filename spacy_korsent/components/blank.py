"""A Korean spaCy pipeline that needs no MeCab."""

from __future__ import annotations

import spacy
from spacy.language import Language


def blank_korean() -> Language:
    """``spacy.blank("ko")`` with spaCy's rule-based tokenizer instead of mecab-ko."""
    return spacy.blank("ko", config={"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}})
