"""The runtimes a component can run its model on, chosen in one place by the ``backend`` setting.

A backend maps padded ``input_ids`` and ``attention_mask`` (int64 ``[batch, length]``) to logits
``[batch, labels]`` (:class:`Backend`). Each is a module of its own (:mod:`.torch_backend`,
:mod:`.onnx_backend`, :mod:`.openvino_backend`); :data:`BACKENDS` says what each needs (the torch
module, or an ONNX export of it, float32 or int8), the precision it runs (part of its name:
``torch-bfloat16``) and whether it can give gradients, and :func:`open_backend` builds one.
Nothing else compares backend names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol, runtime_checkable

import numpy as np

from .parallel import Forward
from .precision import unsupported

if TYPE_CHECKING:
    import torch


class Backend(Protocol):
    """What the window engine runs: logits for a batch of padded windows."""

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class GradientBackend(Protocol):
    """A backend that holds the torch module, so that gradients can be taken through it."""

    model: Any
    """The transformers sequence classifier the backend runs."""

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...

    def run_sharded(
        self, forward: Forward, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> np.ndarray:
        """``forward`` on a batch, split and threaded as the backend runs its own passes."""
        ...


class ModelSource(Protocol):
    """Where a backend gets the model: the torch module, or an ONNX export of its weights."""

    def module(self) -> Any: ...

    def export(self, *, int8: bool) -> Path: ...


@dataclass(frozen=True)
class BackendKind:
    """One value of the ``backend`` setting and what it means: a runtime at one precision."""

    name: str
    summary: str
    """What it runs, for the docs' settings table and error messages."""
    runtime: str
    """What runs the model: ``"torch"``, ``"onnx"`` (ONNX Runtime) or ``"openvino"``."""
    export: Optional[str]
    """None: it runs the torch module; ``"float32"`` or ``"int8"``: an ONNX export of that kind."""
    dtype: str = "float32"
    """The precision of its matrix multiplications (see :mod:`.precision`)."""
    gradients: bool = False
    """Whether it can give gradients (``explain_method = "integrated_gradients"``)."""
    extra: Optional[str] = None
    """The package extra it needs, if any."""


_BF16 = "on a CPU with AVX512-BF16 or AMX (see [bfloat16 on CPU](speed.md#bfloat16-on-cpu))"

BACKENDS: dict[str, BackendKind] = {
    kind.name: kind
    for kind in (
        BackendKind(
            "torch",
            "the transformers model run by torch (CPU or GPU)",
            "torch",
            export=None,
            gradients=True,
        ),
        BackendKind(
            "torch-bfloat16",
            f"the same under bfloat16 autocast, {_BF16} or a GPU from Ampere on",
            "torch",
            export=None,
            dtype="bfloat16",
            gradients=True,
        ),
        BackendKind(
            "torch-float16",
            "the same under float16 autocast, on a CUDA GPU",
            "torch",
            export=None,
            dtype="float16",
            gradients=True,
        ),
        BackendKind(
            "onnx",
            "its ONNX export run by ONNX Runtime on CPU",
            "onnx",
            export="float32",
            extra="onnx",
        ),
        BackendKind(
            "onnx-int8",
            "its ONNX export with int8 weights (dynamic quantization) run by ONNX Runtime on CPU",
            "onnx",
            export="int8",
            extra="onnx",
        ),
        BackendKind(
            "openvino",
            "its ONNX export compiled by OpenVINO on CPU",
            "openvino",
            export="float32",
            extra="openvino",
        ),
        BackendKind(
            "openvino-bfloat16",
            f"the same compiled for bfloat16 (ONNX Runtime has none), {_BF16}",
            "openvino",
            export="float32",
            dtype="bfloat16",
            extra="openvino",
        ),
    )
}
"""Every backend by name, the default first. A precision is part of the name, so that a runtime
cannot be written with a precision it does not run."""


def backend_kind(name: str) -> BackendKind:
    """The backend called ``name``; a ValueError that lists the choices otherwise."""
    kind = BACKENDS.get(name)
    if kind is None:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {name!r}.")
    return kind


def open_backend(
    name: str,
    source: ModelSource,
    *,
    device: Callable[[], torch.device],
    n_threads: Optional[int],
) -> Backend:
    """The backend ``name`` over ``source``'s model (exported first where it runs an export).

    A precision the hardware would only emulate is refused first, before any export.
    """
    import torch

    kind = backend_kind(name)
    runs_on = device() if kind.runtime == "torch" else torch.device("cpu")
    refusal = unsupported(kind.name, kind.dtype, runs_on)
    if refusal:
        raise ValueError(refusal)
    if kind.runtime == "torch":
        from .torch_backend import TorchBackend

        return TorchBackend(source.module(), runs_on, dtype=kind.dtype, n_threads=n_threads)
    export = source.export(int8=kind.export == "int8")
    if kind.runtime == "openvino":
        from .openvino_backend import OpenVinoBackend

        return OpenVinoBackend(export, dtype=kind.dtype, n_threads=n_threads)
    from .onnx_backend import OnnxBackend

    return OnnxBackend(export, n_threads=n_threads)
