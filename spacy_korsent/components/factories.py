"""The classifiers' spaCy factories, built from each component's spec and settings definition.

spaCy validates a component's config against its factory's signature, and fills ``nlp.config``
from the factory's default config. Both follow here from the settings dataclass
(:mod:`.settings`): :func:`register_component` gives the factory an explicit ``__signature__``
(``nlp``, ``name``, ``model``, each setting, ``scorer``, then the deprecated spellings) and
registers it with ``Language.factory``. :func:`markdown_table` writes the docs' settings table
(``docs/components.md``, at build time) from the same definitions.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from spacy.language import Language

from .model import classifier_model
from .settings import (
    DEPRECATED,
    config_value,
    default_value,
    settings_fields,
    upgraded,
)
from .spec import ComponentSpec, Scorer

if TYPE_CHECKING:
    from .classifier import KoreanClassifier


def register_component(cls: type[KoreanClassifier]) -> Callable[..., KoreanClassifier]:
    """Register the factory of ``cls`` (per ``cls.spec``) with spaCy and return it."""
    spec = cls.spec

    def make(nlp: Language, name: str, **config: Any) -> KoreanClassifier:
        config = upgraded(name, config)
        model, scorer = config.pop("model"), config.pop("scorer")
        settings = spec.settings(**config)
        try:
            settings.check()
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        thinc_model = classifier_model(
            mixed_precision=settings.mixed_precision,
            grad_scaler_config=settings.grad_scaler_config,
        )
        return cls(nlp.vocab, thinc_model, name, source=model, settings=settings, scorer=scorer)

    make.__name__ = make.__qualname__ = f"make_{spec.extension}"
    make.__module__ = cls.__module__
    make.__doc__ = f"The ``{spec.factory}`` factory: a {cls.__name__} for ``model``."
    make.__signature__ = factory_signature(spec)  # type: ignore[attr-defined]
    make.__annotations__ = {
        name: parameter.annotation
        for name, parameter in make.__signature__.parameters.items()  # type: ignore[attr-defined]
    }
    return Language.factory(
        spec.factory,
        assigns=spec.assigns,
        default_config=spec.default_config(),
        default_score_weights={spec.score_weight: 1.0},
    )(make)


def factory_signature(spec: ComponentSpec) -> inspect.Signature:
    """``(nlp, name, model, <settings>, scorer, <deprecated>)``, annotated as the settings are."""
    hints = typing.get_type_hints(spec.settings)
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("nlp", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Language),
        inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
        inspect.Parameter("model", keyword, annotation=str),
        *(
            inspect.Parameter(field.name, keyword, annotation=hints[field.name])
            for field in settings_fields(spec.settings)
        ),
        inspect.Parameter("scorer", keyword, annotation=Optional[Scorer]),
        *(
            inspect.Parameter(name, keyword, annotation=old.type, default=None)
            for name, old in DEPRECATED.items()
        ),
    ]
    return inspect.Signature(parameters)


def markdown_table(specs: list[ComponentSpec]) -> str:
    """The docs' settings table: every setting of ``specs``, with default and meaning.

    A setting of only some components says which (``top_k`` (emotion)); one whose default differs
    between components lists each (``model``, ``scorer``).
    """
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]

    def row(name: str, owners: list[ComponentSpec], default: str, doc: str) -> None:
        only = f" ({', '.join(s.factory.replace('korean_', '') for s in owners)})"
        label = f"`{name}`" + (only if len(owners) < len(specs) else "")
        rows.append(f"| {label} | {default} | {doc} |")

    models = " / ".join(f"`{config_value(spec.default_model)}`" for spec in specs)
    row("model", specs, models, "hub id or local directory of a sequence-classification model")
    seen: dict[str, list[ComponentSpec]] = {}
    fields: dict[str, dataclasses.Field] = {}
    for spec in specs:
        for field in settings_fields(spec.settings):
            seen.setdefault(field.name, []).append(spec)
            fields[field.name] = field
    for name, owners in seen.items():
        field = fields[name]
        row(name, owners, f"`{config_value(default_value(field))}`", field.metadata["doc"])
    scorers = " / ".join(f"`{spec.scorer}`" for spec in specs)
    row("scorer", specs, scorers, "scorer used by `nlp.evaluate()`")
    for name, old in DEPRECATED.items():
        row(name, specs, "`null`", old.doc)
    return "\n".join(rows)
