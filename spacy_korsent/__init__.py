"""Korean sentiment and emotion analysis for spaCy pipelines, backed by Hugging Face models.

spaCy finds the ``korean_sentiment`` and ``korean_emotion`` factories through entry points, so this
module imports nothing heavy: the names below load on first use. (spaCy itself imports torch when
it is installed; transformers loads only when a component loads its model.)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.5.0"

_LAZY = {
    "SentimentClassifier": "components.sentiment",
    "EmotionClassifier": "components.emotion",
    "ModelNotFoundError": "inference.errors",
    "blank_korean": "components.blank",
    "KoreanTokenizer": "components.tokenizer",
    "render": "explain.render",
    "analyze_frame": "integrations.pandas",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
