"""A blank Korean pipeline with the package's classifiers, built as a library user would build it.

The command line (``analyze``, ``evaluate``, ``calibrate``), ``analyze_frame``, the Ray engine and
the server all build their pipeline here, so each runs what ``blank_korean()`` + ``add_pipe`` runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, cast

from ..inference.backends import backend_kind
from ..inference.onnx_export import ExportError
from .registry import EMOTION, SENTIMENT, resolve_model

if TYPE_CHECKING:
    from spacy.language import Language

    from .classifier import KoreanClassifier

TASKS = {"sentiment": (SENTIMENT,), "emotion": (EMOTION,), "both": (SENTIMENT, EMOTION)}
"""The components of each analysis (``korsent analyze -t``, ``analyze_frame(task=)``)."""


class PipelineError(ValueError):
    """A model or setting the pipeline cannot be built with, said in one line."""


@dataclass(frozen=True)
class PipelineOptions:
    """The settings every component of a built pipeline gets (``korsent`` takes them as options)."""

    batch_size: int = 1024
    device: str | None = None
    backend: str = "torch"
    max_length: int | None = None
    truncate: bool = False
    calibration: bool = True
    """Apply the calibration saved with a model (``calibration.json``); False: the model's own
    probabilities and decisions (no temperature, no neutral band, no per-label thresholds)."""


NO_CALIBRATION = {
    SENTIMENT: {"temperature": 1.0, "neutral_band": []},
    EMOTION: {"temperature": 1.0, "thresholds": {}},
}
"""The settings that turn a saved calibration off, per component."""


def build_pipeline(
    models: dict[str, str | None],
    args: PipelineOptions,
    *,
    sentences: bool = False,
    note: Callable[[str], None] | None = None,
) -> Language:
    """A blank Korean pipeline with the given components (factory -> model), models loaded.

    A model of None keeps the factory's default hub id. Every model is found (or refused) before
    the first one loads, so a missing one fails within seconds. With ``sentences`` a sentence
    splitter goes first (``korean_sentencizer`` when kiwipiepy is installed, else spaCy's
    ``sentencizer``, which ``note`` hears about) and the components classify each sentence too.
    There is no limit on the length of a text: long texts are windowed like any other. A model's
    saved calibration applies unless ``args.calibration`` is False; ``note`` hears, once per
    component, which one applies.
    """
    from .blank import blank_korean, sentence_splitter
    from .emotion import DEFAULT_MODEL as EMOTION_MODEL
    from .sentencizer import KIWI_MISSING
    from .sentiment import DEFAULT_MODEL as SENTIMENT_MODEL

    try:  # a wrong name (from the library; the command line offers only choices) before models
        backend = backend_kind(args.backend)
    except ValueError as err:
        raise PipelineError(str(err)) from err
    if args.device:
        if backend.runtime != "torch" and not args.device.startswith("cpu"):
            raise PipelineError(
                f"backend {args.backend!r} runs on the CPU: leave the device out, or run "
                "backend 'torch' on the GPU."
            )
        _check_device(args.device)
    defaults = {SENTIMENT: SENTIMENT_MODEL, EMOTION: EMOTION_MODEL}
    models = {f: resolve_model(model or defaults[f]) for f, model in models.items()}
    nlp = blank_korean()
    nlp.max_length = sys.maxsize  # spaCy's limit guards its parser's memory; none runs here
    if sentences:
        splitter = sentence_splitter()
        if splitter == "sentencizer" and note is not None:
            note(KIWI_MISSING)
        nlp.add_pipe(splitter)
    for factory, model in models.items():
        config: dict[str, Any] = {
            "buffer_size": args.batch_size,
            "truncate": args.truncate,
            "device": args.device,
            "backend": args.backend,
            "sentences": sentences,
        }
        if args.max_length is not None:
            config["max_length"] = args.max_length
        if not args.calibration:
            config.update(NO_CALIBRATION[factory])
        config["model"] = model
        try:
            component = cast("KoreanClassifier", nlp.add_pipe(factory, config=config))
            component.initialize()
        # the components' checks of model and settings; a backend's missing extra or failed export
        except (ValueError, ImportError, ExportError) as err:
            raise PipelineError(str(err)) from err
        if note is not None and not component.calibration.empty:
            note(calibration_note(component))
    return nlp


def calibration_note(component: KoreanClassifier) -> str:
    """What a component applies of the calibration saved with its model, in one line."""
    values = component.calibration.to_dict()
    shown = []
    if "temperature" in values:
        shown.append(f"temperature {values['temperature']}")
    if "neutral_band" in values:
        low, high = values["neutral_band"]
        shown.append(f"neutral band [{low}, {high})")
    if "thresholds" in values:
        cuts = sorted(values["thresholds"].values())
        shown.append(f"{len(cuts)} per-label thresholds, {cuts[0]} to {cuts[-1]}")
    return (
        f"{component.name} applies the calibration saved with {component.model_name} "
        f"({', '.join(shown)}); --no-calibration (analyze_frame: calibration=False) shows the "
        "model's own probabilities."
    )


def _check_device(device: str) -> None:
    from ..inference.loading import check_device

    try:
        check_device(device)
    except ValueError as err:
        raise PipelineError(str(err)) from err
