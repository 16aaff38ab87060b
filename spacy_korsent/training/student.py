"""Students for distillation: a smaller model of the teacher's kind, started from its weights.

Two ways to be smaller, combinable:

- fewer layers at the same width (``layers``): the student keeps the teacher's embeddings, head
  and an evenly spaced subset of its layers, always including the last (4 of 12: layers 3, 6, 9
  and 12), as DistilBERT started from every other layer of BERT;
- a narrower model (``hidden``): the heads keep the teacher's head size (fewer heads), the
  feed-forward keeps its ratio to the width. The embedding matrices (words, positions, token
  types) are the teacher's projected onto the top principal directions of its word embeddings
  (an SVD), so that words the teacher holds close stay close; layers and head start fresh, as
  nothing of a wider layer fits a narrower one without a projection of every activation.

The vocabulary and tokenizer are the teacher's. Layers are found by the ``encoder.layer.N.`` names
of BERT, ELECTRA, RoBERTa and their kin; other architectures are refused with a message.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

INITS = ("teacher", "random")
_LAYER = re.compile(r"^(.*\bencoder\.layer\.)(\d+)(\..*)$")
_EMBEDDINGS = (
    "word_embeddings.weight",
    "position_embeddings.weight",
    "token_type_embeddings.weight",
)


@dataclass(frozen=True)
class Shape:
    """A model's size in the terms the options use."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    embedding: int

    def describe(self) -> str:
        wide = f", embeddings {self.embedding}" if self.embedding != self.hidden else ""
        layers = f"{self.layers} layer{'s' if self.layers != 1 else ''}"
        heads = f"{self.heads} head{'s' if self.heads != 1 else ''}"
        return f"{layers}, hidden {self.hidden}, {heads}{wide}"


def shape_of(config: Any) -> Shape:
    """The shape of a transformers config."""
    return Shape(
        layers=config.num_hidden_layers,
        hidden=config.hidden_size,
        heads=config.num_attention_heads,
        intermediate=config.intermediate_size,
        embedding=getattr(config, "embedding_size", config.hidden_size),
    )


def student_config(teacher: Any, *, layers: int | None, hidden: int | None) -> Any:
    """The teacher's config with fewer layers and/or a smaller width (None: the teacher's)."""
    shape = shape_of(teacher)
    layers = shape.layers if layers is None else layers
    hidden = shape.hidden if hidden is None else hidden
    if not 1 <= layers <= shape.layers:
        raise ValueError(
            f"layers must be between 1 and the teacher's {shape.layers}, not {layers}."
        )
    if not 8 <= hidden <= shape.hidden:
        raise ValueError(
            f"hidden must be between 8 and the teacher's {shape.hidden}, not {hidden}."
        )
    if (layers, hidden) == (shape.layers, shape.hidden):
        raise ValueError(
            f"the student would be the teacher's size ({shape.describe()}): give fewer layers "
            "or a smaller hidden size."
        )
    config = copy.deepcopy(teacher)
    config.num_hidden_layers = layers
    if hidden != shape.hidden:
        head_size = max(shape.hidden // shape.heads, 1)
        heads = max(hidden // head_size, 1)
        while hidden % heads:
            heads -= 1
        config.hidden_size = hidden
        config.num_attention_heads = heads
        config.intermediate_size = max(round(shape.intermediate * hidden / shape.hidden), 1)
        if hasattr(config, "embedding_size"):  # ELECTRA: embeddings may be narrower than layers
            config.embedding_size = min(shape.embedding, hidden)
    return config


def layer_map(teacher_layers: int, student_layers: int) -> list[int]:
    """The teacher's layer (0-based) each student layer starts from: evenly spaced, last kept."""
    step = teacher_layers / student_layers
    return [round((i + 1) * step) - 1 for i in range(student_layers)]


def build_student(
    teacher: Any,
    *,
    layers: int | None,
    hidden: int | None,
    init: str = "teacher",
    seed: int = 42,
) -> tuple[Any, dict[str, Any]]:
    """A student module for the teacher module, and a record of how it was initialised.

    ``init="random"`` starts every weight fresh (the baseline the teacher's start is measured
    against); ``"teacher"`` copies or projects what fits (see the module docstring).
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}.")
    config = student_config(teacher.config, layers=layers, hidden=hidden)
    torch.manual_seed(seed)
    student = AutoModelForSequenceClassification.from_config(config)
    mapping = layer_map(teacher.config.num_hidden_layers, config.num_hidden_layers)
    record: dict[str, Any] = {
        "init": init,
        "shape": shape_of(config).__dict__,
        "teacher_shape": shape_of(teacher.config).__dict__,
    }
    if init == "random":
        return student.eval(), record
    source = teacher.state_dict()
    target = student.state_dict()
    if not any(_LAYER.match(name) for name in source):
        raise ValueError(
            f"the teacher ({type(teacher).__name__}) names no layers encoder.layer.N; students "
            "are built for BERT, ELECTRA, RoBERTa and models named like them."
        )
    same_width = config.hidden_size == teacher.config.hidden_size
    projection, variance_kept = None, None
    copied, projected = 0, 0
    with torch.no_grad():
        for name, tensor in target.items():
            match = _LAYER.match(name)
            if match:
                if not same_width:
                    continue  # a narrower layer starts fresh
                origin = f"{match[1]}{mapping[int(match[2])]}{match[3]}"
            else:
                origin = name
            weight = source.get(origin)
            if weight is None:
                continue
            if weight.shape == tensor.shape and (same_width or ".embeddings." in name):
                tensor.copy_(weight)
                copied += 1
            elif _is_embedding(name) and weight.shape[0] == tensor.shape[0]:
                if projection is None:
                    words = _word_embeddings(source)
                    projection, variance_kept = _principal_directions(words, tensor.shape[1])
                tensor.copy_(weight @ projection)
                projected += 1
    record.update(
        layer_map=mapping if same_width else None,
        copied=copied,
        projected=projected,
        embedding_variance_kept=variance_kept,
    )
    return student.eval(), record


def _is_embedding(name: str) -> bool:
    return ".embeddings." in name and name.endswith(_EMBEDDINGS)


def _word_embeddings(state: dict[str, Any]) -> Any:
    return next(tensor for name, tensor in state.items() if name.endswith("word_embeddings.weight"))


def _principal_directions(embeddings: Any, width: int) -> tuple[Any, float]:
    """The ``width`` right singular vectors of the (centred) embedding matrix with the largest
    singular values, as a ``[teacher width, width]`` matrix, and their share of the variance."""
    import torch

    matrix = embeddings.detach().double()
    centred = matrix - matrix.mean(dim=0, keepdim=True)
    _, values, vectors = torch.linalg.svd(centred, full_matrices=False)
    energy = (values**2).numpy()
    directions = vectors[:width].T.to(embeddings.dtype).contiguous()
    return directions, float(np.sum(energy[:width]) / np.sum(energy))


def parameters(module: Any) -> int:
    """The module's parameter count."""
    return int(sum(p.numel() for p in module.parameters()))
