"""The settings of ``korsent distill``: the student's shape and the training recipe.

Kept apart from :mod:`.distill` (which imports torch and spaCy) so that the command line can show
their defaults in ``--help`` without loading either.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """The student's shape and the recipe; the defaults suit a student started from the teacher."""

    layers: int | None = None
    hidden: int | None = None
    init: str = "teacher"
    temperature: float = 2.0
    gold_weight: float = 0.3
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    warmup: float = 0.06
    weight_decay: float = 0.01
    val_fraction: float = 0.05
    max_val: int = 10_000
    patience: int = 3
    eval_every: int | None = None
    seed: int = 42
    device: str | None = None
    threads: int | None = None
    speed_texts: int = 1000
    quiet: bool = False
