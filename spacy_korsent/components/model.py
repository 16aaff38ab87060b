"""The components' Thinc model: a Hugging Face sequence classifier in spacy-transformers' HFWrapper.

The wrapper (``model_cls=AutoModelForSequenceClassification``, so the checkpoint keeps its head)
lets spaCy's ``[training.optimizer]`` drive the torch weights, with mixed precision and a gradient
scaler on GPUs. The model maps a batch of padded windows to their logits. Predictions do not go
through it: the component's engine runs the same torch module with length bucketing and shard
threads, or runs its ONNX export.

The torch module is loaded lazily by the component and set with :func:`set_module`; until then
the wrapper holds none.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional, cast

import numpy as np
from spacy_transformers.layers.hf_shim import HFShim
from thinc.api import ArgsKwargs, Model, torch2xp, xp2torch
from thinc.types import Floats2d, Ints2d

Windows = tuple[np.ndarray, np.ndarray]
"""A batch of windows: ``input_ids`` and ``attention_mask``, int64 arrays ``[windows, length]``."""


def classifier_model(
    *, mixed_precision: bool = False, grad_scaler_config: Optional[dict] = None
) -> Model[Windows, Floats2d]:
    """HFWrapper's model, without a module yet, mapping windows to logits (with the shim below)."""
    from spacy_transformers.data_classes import HFObjects
    from thinc.layers.pytorchwrapper import forward
    from transformers import AutoModelForSequenceClassification

    shim = InPlaceHFShim(
        HFObjects(None, None, None, {}, {}),
        mixed_precision=mixed_precision,
        grad_scaler_config=dict(grad_scaler_config or {}),  # the shim writes into it
        model_cls=AutoModelForSequenceClassification,
    )
    return Model(
        "hf-pytorch",
        forward,
        attrs={"convert_inputs": _windows_to_torch, "convert_outputs": _logits_from_torch},
        shims=[shim],
        dims={"nI": None, "nO": None},
    )


class InPlaceHFShim(HFShim):
    """spacy-transformers' HFShim whose optimizer step writes each parameter in place.

    thinc's step wraps every updated parameter in a new tensor through DLPack; with numpy 2 and
    torch 2.13 that keeps one copy of the weights alive per step (a from-scratch NSMC run grew to
    18 GB and was killed). On CPU thinc's optimizer already updates the weights in place through
    their numpy view, so nothing needs writing back; elsewhere the result is copied in.
    """

    def finish_update(self, optimizer: Any) -> None:
        import torch

        for name, param in self._model.named_parameters():
            if param.grad is None:
                continue
            if not self._grad_scaler.found_inf:  # an overflow skips the step (mixed precision)
                weights, _ = optimizer((self.id, name), torch2xp(param.data), torch2xp(param.grad))
                if _address(weights) != param.data_ptr():
                    with torch.no_grad():
                        param.copy_(xp2torch(weights, device=param.device))
            param.grad.zero_()
        self._grad_scaler.update()


def _address(array: Any) -> int:
    """Where an array's data starts in memory (numpy or CuPy)."""
    interface = getattr(array, "__cuda_array_interface__", None) or array.__array_interface__
    return int(interface["data"][0])


def get_module(model: Model) -> Any:
    """The torch module inside ``model``, or None before one is set."""
    return cast(Any, model.shims[0])._model


def uses_mixed_precision(model: Model) -> bool:
    """Whether ``model`` trains under CUDA autocast with a gradient scaler."""
    return bool(cast(Any, model.shims[0])._mixed_precision)


def set_module(model: Model, module: Any, tokenizer: Any) -> None:
    """Put a loaded transformers sequence classifier (and its tokenizer) into ``model``."""
    from spacy_transformers.data_classes import HFObjects

    shim = cast(Any, model.shims[0])  # an HFShim; spacy-transformers sets these two the same way
    shim._model = module
    shim._hfmodel = HFObjects(tokenizer, module, None, {}, {})


def with_new_head(module: Any, labels: list[str], *, multi_label: bool) -> Any:
    """A sequence classifier with ``module``'s encoder and a fresh head for ``labels``.

    The head (every weight outside the base model: ELECTRA's two-layer head, BERT's linear one) is
    drawn as transformers initialises a new model; the encoder's weights are copied over.
    """
    from transformers import AutoModelForSequenceClassification

    config = copy.deepcopy(module.config)
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: index for index, label in enumerate(labels)}
    config.problem_type = problem_type(multi_label)
    fresh = AutoModelForSequenceClassification.from_config(config)
    fresh.base_model.load_state_dict(module.base_model.state_dict())
    return fresh.to(next(module.parameters()).device)


def problem_type(multi_label: bool) -> str:
    """The transformers config's name for exclusive or multi-label classes."""
    return "multi_label_classification" if multi_label else "single_label_classification"


def _windows_to_torch(
    model: Model, windows: Windows, is_train: bool
) -> tuple[ArgsKwargs, Callable[[Any], None]]:
    device = cast(Any, model.shims[0]).device
    ids, mask = windows
    kwargs = {
        "input_ids": xp2torch(cast(Ints2d, ids), device=device),
        "attention_mask": xp2torch(cast(Ints2d, mask), device=device),
    }
    return ArgsKwargs(args=(), kwargs=kwargs), lambda d_inputs: None  # token ids have no gradient


def _logits_from_torch(
    model: Model, windows_and_output: tuple[Windows, Any], is_train: bool
) -> tuple[Floats2d, Callable[[Floats2d], ArgsKwargs]]:
    device = cast(Any, model.shims[0]).device
    logits = windows_and_output[1].logits

    def backprop(d_logits: Floats2d) -> ArgsKwargs:
        d_torch = xp2torch(d_logits, device=device).to(logits.dtype)
        return ArgsKwargs(args=((logits,),), kwargs={"grad_tensors": (d_torch,)})

    return cast(Floats2d, torch2xp(logits.detach().float())), backprop
