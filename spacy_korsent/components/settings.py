"""The components' settings, each defined once: name, type, default and one line of documentation.

A setting is a field of :class:`ClassifierSettings` (both components) or of a component's own
subclass (:class:`EmotionSettings`). From these fields follow the factories' signatures, which
spaCy validates a config against, and their default configs (:mod:`.factories`), the component's
``settings``, and the docs' settings table (:func:`markdown_table`).
:meth:`ClassifierSettings.check` refuses values that cannot work, before any model loads: first
any value that is not of its field's type (:func:`check_fields`, strict: ``"yes"`` is not a bool,
``"ab"`` not a list, ``"5"`` not a number), then values out of range.

What a component keeps in its ``cfg`` (labels, activation, ...) is defined the same way
(:class:`SavedCfg`), and a ``cfg`` read from disk or bytes is checked by the same function and the
same label rules (:meth:`SavedCfg.checked`) before the component uses it.

Spellings of earlier versions are accepted with a :class:`FutureWarning` (:func:`upgraded`): the
precision is part of the backend's name (``dtype = "bfloat16"`` is ``backend = "torch-bfloat16"``),
``backend = "onnx"`` with ``quantize = true`` is ``backend = "onnx-int8"``, and with
``dtype = "bfloat16"`` it is ``backend = "openvino-bfloat16"``.
"""

import dataclasses
import json
import math
import typing
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any, Optional, Union

from ..calibration import check_values
from ..explain.attribution import METHODS, check_method
from ..inference.backends import BACKENDS, backend_kind


def setting(default: Any, doc: str) -> Any:
    """A settings field: its default (a fresh copy each time for a dict) and its documentation."""
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata={"doc": doc})
    return dataclasses.field(default=default, metadata={"doc": doc})


def _backends() -> str:
    return "; ".join(f'`"{kind.name}"`: {kind.summary}' for kind in BACKENDS.values())


@dataclasses.dataclass
class ClassifierSettings:
    """The settings both components take (besides ``model`` and ``scorer``)."""

    labels: Optional[list[str]] = setting(
        None, "names for the model's classes, in class order; overrides the model's `id2label`"
    )
    max_length: int = setting(
        128,
        "subword tokens per window, special tokens included (the model card's setting; at most "
        "the model's limit, 512 for both defaults)",
    )
    stride: int = setting(32, "tokens shared by consecutive windows of a long text")
    truncate: bool = setting(
        False, "classify only the first window of a long text (faster, ignores the rest)"
    )
    batch_tokens: int = setting(
        1024,
        "token budget of one forward pass (batch size x padded length); about 512 tokens per CPU "
        "thread suits CPUs, raise it on a GPU",
    )
    buffer_size: int = setting(
        1024, "docs of a stream bucketed by length together (at least `nlp.pipe`'s `batch_size`)"
    )
    device: Optional[str] = setting(
        None,
        '`"cpu"`, `"cuda"`, `"cuda:1"`; `null` follows `spacy.prefer_gpu()` / `require_gpu()`, '
        "else CPU (torch backend)",
    )
    backend: str = setting(
        "torch",
        f"what runs the model, and at which precision: {_backends()}. A precision the hardware "
        "would only emulate is refused, with what to use instead. See "
        "[Speed](speed.md)",
    )
    n_threads: Optional[int] = setting(
        None,
        "threads per process; on CPU each batch is split into this many single-threaded shards "
        "run side by side. `null`: torch's thread count (the cores for onnx and openvino), and "
        "half the cores in each `nlp.pipe(n_process=2)` worker",
    )
    sentences: bool = setting(
        False,
        "also classify each sentence (`span._.sentiment` / `span._.emotions`); needs an earlier "
        "component that sets sentence boundaries",
    )
    set_cats: bool = setting(True, "write every label's probability to `doc.cats`")
    mixed_precision: bool = setting(
        False, "train under CUDA autocast with a gradient scaler (`spacy train` on a GPU)"
    )
    grad_scaler_config: dict = setting(
        {}, "settings of that gradient scaler (`init_scale`, `growth_interval`, ...)"
    )
    explain: bool = setting(
        False,
        "attribute each prediction to the doc's tokens (see [Explanations](explanations.md))",
    )
    explain_method: str = setting(
        METHODS[0],
        '`"occlusion"` (every backend) or `"integrated_gradients"` (torch backend only)',
    )
    explain_steps: int = setting(
        32, "steps of the integrated-gradients path (ignored by occlusion)"
    )
    temperature: Optional[float] = setting(
        None,
        "divide the model's logits by this (above 1: less sure) before `scores`, `doc.cats` and "
        "the decisions; `null`: the model directory's `calibration.json` (see "
        "[Calibration](calibration.md)), else none; `1`: "
        "none",
    )

    @property
    def forced_multi_label(self) -> Optional[bool]:
        """True or False where a setting decides multi-label, None where the model does."""
        return None

    def check(self) -> None:
        """Refuse values that cannot work (a ValueError that says what to write instead)."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        check_fields(values, type(self))
        if self.labels is not None:
            check_labels(self.labels)
        for name in ("max_length", "batch_tokens", "buffer_size", "explain_steps"):
            check_at_least(name, getattr(self, name), 1)
        if self.n_threads is not None:
            check_at_least("n_threads", self.n_threads, 1, "; null: as many as the cores allow")
        backend_kind(self.backend)
        check_method(self.explain_method, self.backend)
        check_values(**self.calibration_values())

    def calibration_values(self) -> dict[str, Any]:
        """The calibration these settings give (None where the model directory's applies)."""
        return {"temperature": self.temperature}


@dataclasses.dataclass
class SentimentSettings(ClassifierSettings):
    """``korean_sentiment``'s settings: the shared ones and these."""

    neutral_band: Optional[list[float]] = setting(
        None,
        '`[low, high]`: a two-class model answers `"neutral"` when p(positive) is at least '
        "`low` and below `high` (`0 <= low <= 0.5 <= high <= 1`); `null`: the model directory's "
        "`calibration.json`, else none; `[]`: none",
    )

    def calibration_values(self) -> dict[str, Any]:
        return {**super().calibration_values(), "neutral_band": self.neutral_band}


@dataclasses.dataclass
class EmotionSettings(ClassifierSettings):
    """``korean_emotion``'s settings: the shared ones and these."""

    top_k: int = setting(3, "how many emotions `top` lists")
    threshold: Optional[float] = setting(
        None,
        "leave out of `top` emotions below this score; for a multi-label model also the score at "
        "which a label is predicted (`labels`; `null`: 0.5)",
    )
    multi_label: Optional[bool] = setting(
        None,
        "`true`: a sigmoid per label (several emotions per text); `false`: a softmax; `null`: "
        "the model config's `problem_type`, or the training data",
    )
    thresholds: Optional[dict[str, float]] = setting(
        None,
        "`{label: score}`: a multi-label model predicts a label at or above its own threshold "
        "(labels not listed: `threshold`); `null`: the model directory's `calibration.json`, "
        "else none; `{}`: none",
    )
    groups: Optional[dict[str, str]] = setting(
        None, "`{label: group}` for models other than the default, whose six groups are built in"
    )

    @property
    def forced_multi_label(self) -> Optional[bool]:
        return self.multi_label

    def check(self) -> None:
        super().check()
        check_at_least("top_k", self.top_k, 1)
        if self.threshold is not None:
            check_probability("threshold", self.threshold)

    def calibration_values(self) -> dict[str, Any]:
        return {**super().calibration_values(), "thresholds": self.thresholds}


@dataclasses.dataclass
class SavedCfg:
    """What a classifier keeps in its ``cfg`` dict, and saves as its ``cfg`` file."""

    labels: list[str]
    """The model's classes in order (empty until the model is loaded)."""
    positive_label: Optional[str]
    multi_label: bool
    source: str
    """The hub id or directory the model came from."""
    onnx_quantized: Optional[bool]
    """Whether the saved ``model.onnx`` is int8 (null: no export saved)."""
    int8_activations: Optional[str]
    """How the saved int8 ``model.onnx`` quantizes activations: ``"per token"``. Null or absent
    (int8 exports of spacy-korsent 0.4 and earlier, one scale per batch): that export is not
    used, the weights are exported again."""
    gold_names: dict[str, str]
    """Class: the gold cat that stands for it (see the components' ``initialize``)."""

    @classmethod
    def checked(cls, values: object) -> dict[str, Any]:
        """The fields of a ``cfg`` read from disk or bytes, each checked; keys of no field are
        left out (earlier versions kept settings there: they come from the config now)."""
        if not isinstance(values, dict):
            raise ValueError(f"must be a JSON object, not {_shown(values)}.")
        known = {field.name for field in dataclasses.fields(cls)}
        kept = {key: value for key, value in values.items() if key in known}
        check_fields(kept, cls)
        cls.check_values(kept)
        return kept

    @classmethod
    def check_values(cls, values: dict[str, Any]) -> None:
        labels = values.get("labels") or []
        if labels:  # empty: not loaded when saved, the model's config names them
            check_labels(labels)
        positive = values.get("positive_label")
        if positive is not None and positive not in labels:
            raise ValueError(f"positive_label must be one of the labels, not {_shown(positive)}.")


@dataclasses.dataclass
class EmotionCfg(SavedCfg):
    """``korean_emotion``'s ``cfg``: the shared fields and these."""

    threshold: float
    """The score at which a multi-label model's label is predicted."""

    @classmethod
    def check_values(cls, values: dict[str, Any]) -> None:
        super().check_values(values)
        if "threshold" in values:
            check_probability("threshold", values["threshold"])


def check_fields(values: dict[str, Any], cls: type) -> None:
    """Refuse a value in ``values`` that is not of the type its field in ``cls`` is annotated
    with (a ValueError naming the field and the type), without converting anything."""
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if not _is_a(value, hints[name]):
            raise ValueError(f"{name} must be {_described(hints[name])}, not {_shown(value)}.")


def _is_a(value: Any, kind: Any) -> bool:
    """Whether ``value`` is a ``kind`` (a field annotation) as JSON and config files write it."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Union:
        return any(_is_a(value, arg) for arg in args)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if kind is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_is_a(item, args[0]) for item in value)
    if kind is dict or origin is dict:
        key, item = args or (str, Any)
        return isinstance(value, dict) and all(
            _is_a(k, key) and _is_a(v, item) for k, v in value.items()
        )
    return kind is Any


def _described(kind: Any) -> str:
    """``kind`` in words, as a config file writes such values."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is Union:
        return " or ".join(_described(arg) for arg in args)
    if origin is list:
        return f"a list of {_plural(args[0])}"
    if kind is dict or origin is dict:
        key, item = args or (str, Any)
        return f"a table of {_plural(key)} to {_plural(item)}"
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    return words.get(kind, "null" if kind is type(None) else "anything")


def _plural(kind: Any) -> str:
    """``strings`` for ``str``: what a list or table of ``kind`` holds."""
    return {int: "whole numbers", float: "numbers", str: "strings"}.get(kind, "values")


def _shown(value: Any) -> str:
    """``value`` for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_labels(labels: list[str]) -> None:
    """A classifier's class names: at least two, distinct, none empty."""
    repeated = sorted(label for label, count in Counter(labels).items() if count > 1)
    if len(labels) < 2 or repeated or not all(label.strip() for label in labels):
        problem = f"{repeated[0]!r} twice" if repeated else _shown(labels)
        raise ValueError(
            f"labels must name at least two classes, each once and none empty, not {problem}."
        )


def check_at_least(name: str, value: int, least: int, note: str = "") -> None:
    if value < least:
        raise ValueError(f"{name} must be at least {least}{note}, not {value}.")


def check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie between 0 and 1, not {value}.")


@dataclasses.dataclass(frozen=True)
class Deprecated:
    """A setting of earlier versions that a config may still hold."""

    type: Any
    doc: str
    """What replaced it."""


DEPRECATED: dict[str, Deprecated] = {
    "dtype": Deprecated(
        Optional[str],
        'deprecated: the precision is part of `backend` (`"torch-bfloat16"` instead of '
        '`dtype = "bfloat16"`)',
    ),
    "quantize": Deprecated(
        Optional[bool],
        'deprecated: `backend = "onnx-int8"` instead of `backend = "onnx"` with `quantize = true`',
    ),
}
"""Settings of earlier versions, each with what replaced it. They stay in the factories'
signatures (default null), so that old configs and saved pipelines load."""


def upgraded(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` in today's spelling: ``quantize`` and ``dtype`` of spacy-korsent 0.2 folded into
    ``backend``, with one FutureWarning, or a ValueError for a combination that cannot run.

    ``quantize = true`` needed ``backend = "onnx"`` and excluded bfloat16; OpenVINO was
    ``backend = "onnx"`` with ``dtype = "bfloat16"``; any other precision joins the backend's name.
    """
    values = dict(values)
    given = {key: values.pop(key, None) for key in DEPRECATED}
    old = {key: value for key, value in given.items() if value is not None}
    if not old:
        return values
    backend, dtype = str(values.get("backend")), old.get("dtype", "float32")
    precisions = dict.fromkeys(kind.dtype for kind in BACKENDS.values())
    if dtype not in precisions:
        raise ValueError(
            f"{name}: dtype must be one of {', '.join(map(repr, precisions))}, not {dtype!r}; "
            "today the precision is part of the backend's name (backend='torch-bfloat16')."
        )
    if old.get("quantize"):
        if backend != "onnx":
            raise ValueError(
                f"{name}: quantize=true needs backend='onnx'; today both are written "
                "backend='onnx-int8'."
            )
        if dtype != "float32":
            raise ValueError(
                f"{name}: quantize=true (int8, fastest) and dtype={dtype!r} are two ways to speed "
                "up the model: choose one, backend='onnx-int8' or a backend named for the "
                f"precision ({_running(dtype)})."
            )
        values["backend"] = "onnx-int8"
    elif dtype != "float32":
        values["backend"] = _with_precision(name, backend, dtype)
    written = " and ".join(f"{key} = {config_value(value)}" for key, value in old.items())
    new = values["backend"]
    _deprecated(
        name,
        f'backend = "{backend}" with {written}',
        f'backend = "{new}"' if new != backend else f'backend = "{new}" alone',
    )
    return values


def _with_precision(name: str, backend: str, dtype: str) -> str:
    """The backend that runs ``backend``'s model at ``dtype`` (not float32), for 0.2's ``dtype``."""
    kind = BACKENDS.get(backend)
    if kind is not None and kind.dtype != "float32":
        if kind.dtype != dtype:
            raise ValueError(
                f"{name}: backend={backend!r} names its precision, {kind.dtype}; remove "
                f"dtype={dtype!r}."
            )
        return backend
    runtime = "openvino" if backend == "onnx" and dtype == "bfloat16" else backend
    combined = f"{runtime}-{dtype}"
    if combined not in BACKENDS:
        raise ValueError(
            f"{name}: dtype={dtype!r} with backend={backend!r} cannot run; the precision is now "
            f"part of the backend's name: {_running(dtype)}."
        )
    return combined


def _running(dtype: str) -> str:
    """``backend='torch-bfloat16' or 'openvino-bfloat16'``: the backends that run ``dtype``."""
    able = [kind.name for kind in BACKENDS.values() if kind.dtype == dtype]
    return f"backend={' or '.join(map(repr, able))}"


def _deprecated(name: str, old: str, new: str) -> None:
    warnings.warn(
        f"{name}: {old} is the spelling of spacy-korsent 0.2 and will stop working; write {new} "
        "(in a saved pipeline: in its config.cfg).",
        FutureWarning,
        stacklevel=3,
    )


def settings_fields(cls: type[ClassifierSettings]) -> Iterator[dataclasses.Field]:
    """The fields of ``cls``, a component's own first (as they appear in its config)."""
    shared = [field.name for field in dataclasses.fields(ClassifierSettings)]
    own = [field for field in dataclasses.fields(cls) if field.name not in shared]
    yield from own
    yield from dataclasses.fields(ClassifierSettings)


def default_value(field: dataclasses.Field) -> Any:
    """A field's default."""
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def config_value(value: Any) -> str:
    """A value as a config file (and the docs) writes it: JSON, ``null`` for None."""
    return json.dumps(value, ensure_ascii=False)
