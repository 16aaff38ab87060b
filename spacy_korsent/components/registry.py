"""Which classifier components there are, and how a saved one is laid out on disk.

Each classifier is a module of its own (a :class:`~.classifier.KoreanClassifier` subclass with its
:class:`~.spec.ComponentSpec`: factory name, extensions, settings, scorer, output fields).
This module lists them, without importing them: adding a third classifier is its module and one
line in :data:`CLASSIFIERS`. Whoever needs the factory names (the command line, the Ray
integration, the result fields, finding a model in a saved pipeline) asks here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..inference.loading import ModelNotFoundError, resolve_source

if TYPE_CHECKING:
    from .spec import ComponentSpec

CLASSIFIERS: dict[str, str] = {
    "korean_sentiment": "spacy_korsent.components.sentiment",
    "korean_emotion": "spacy_korsent.components.emotion",
}
"""Factory name -> the module that defines the component (and registers its factory)."""

SENTIMENT, EMOTION = CLASSIFIERS

MODEL_DIR = "model"
"""A saved component's model: a Hugging Face directory (weights, config, tokenizer)."""
EXPORT_FILE = "model.onnx"
"""A saved component's ONNX export of the same weights (ONNX backends)."""
CFG_FILE = "cfg"
"""A saved component's labels and state (JSON)."""
LEGACY_CFG_FILE = "cfg.json"
"""What spacy-korsent 0.1 called ``cfg``."""


def spec(factory: str) -> ComponentSpec:
    """The spec of the classifier made by ``factory`` (importing its module, which registers it)."""
    module = importlib.import_module(CLASSIFIERS[factory])
    return module.SPEC


def specs() -> list[ComponentSpec]:
    """Every classifier's spec, in the order of :data:`CLASSIFIERS`."""
    return [spec(factory) for factory in CLASSIFIERS]


def resolve_model(name: str | Path) -> str:
    """Where to load the model ``name`` from: as :func:`~..inference.loading.resolve_source`, and
    a pipeline saved with ``nlp.to_disk()`` (or one of its component directories) stands for the
    Hugging Face model its classifier saved in ``<component>/model/``.

    A pipeline with several such components is refused with the subdirectories to choose from.
    """
    path = Path(name).expanduser()
    return resolve_source(saved_model_dir(path) if path.is_dir() else name)


def saved_model_dir(path: Path) -> Path:
    """The model directory a local directory stands for (itself unless it is a pipeline's)."""
    if (path / "config.json").is_file() or not (
        (path / "config.cfg").is_file() or (path / MODEL_DIR / "config.json").is_file()
    ):
        return path
    if (path / MODEL_DIR / "config.json").is_file():  # a component directory
        return path / MODEL_DIR
    components = _saved_classifiers(path)
    if len(components) == 1:
        return path / components[0] / MODEL_DIR
    choices = " or ".join(str(path / name / MODEL_DIR) for name in components)
    reason = (
        f"it has {len(components)} model components: pass {choices}"
        if components
        else (f"it has none of the components {', '.join(CLASSIFIERS)}")
    )
    raise ModelNotFoundError(f"{path} is a spaCy pipeline, not a model directory; {reason}.")


def _saved_classifiers(path: Path) -> list[str]:
    """Names of the pipeline's classifiers whose directory holds a saved model."""
    from spacy.util import load_config

    blocks = load_config(path / "config.cfg").get("components", {})
    return [
        name
        for name, block in blocks.items()
        if block.get("factory") in CLASSIFIERS and (path / name / MODEL_DIR).is_dir()
    ]
