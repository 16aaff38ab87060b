"""What each classifier declares once (:class:`ComponentSpec`), apart from the classes that use it.

The component classes read their spec and the factories register from it; keeping it in a module
of its own lets both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .settings import ClassifierSettings, SavedCfg, default_value, settings_fields

Scorer = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class ComponentSpec:
    """What a classifier declares once: its names, settings, defaults and output fields."""

    factory: str
    """The factory name, e.g. ``korean_sentiment``."""
    task: str
    """The analysis, as :mod:`spacy_korsent.answers` names it: ``sentiment`` or ``emotion``."""
    extension: str
    """The Doc/Span extension with the results, e.g. ``sentiment``."""
    attribution_extension: str
    """The Doc/Span/Token extension with token attributions, e.g. ``sentiment_attribution``."""
    settings: type[ClassifierSettings]
    default_model: str
    scorer: str
    """The registered scorer of ``nlp.evaluate()``, e.g. ``spacy_korsent.sentiment_scorer.v1``."""
    score_weight: str
    """The score ``spacy train`` selects the best model by, e.g. ``sentiment_score``."""
    saved_cfg: type[SavedCfg] = SavedCfg
    """What the component keeps in its ``cfg``: the fields a saved ``cfg`` is checked against."""

    @property
    def assigns(self) -> list[str]:
        return [f"doc._.{self.extension}", f"span._.{self.extension}", "doc.cats"]

    def default_config(self) -> dict[str, Any]:
        """The factory's default config: ``model``, the settings, ``scorer``."""
        return {
            "model": self.default_model,
            **{field.name: default_value(field) for field in settings_fields(self.settings)},
            "scorer": {"@scorers": self.scorer},
        }
