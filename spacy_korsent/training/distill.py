"""Distillation: train a smaller student to give the teacher's answers on unlabelled texts.

This module runs the steps below and writes the student and its report; the texts are
:mod:`.corpus`'s, the training :mod:`.soft_targets`'s, the figures :mod:`.measure`'s.

1. The teacher labels every text once (:mod:`.teacher`: its spaCy component on any backend,
   cached on disk, so an interrupted run resumes).
2. A student is built from the teacher (:mod:`.student`: fewer layers, a smaller width).
3. It learns the teacher's probabilities softened by a temperature ``T``: cross-entropy to
   ``softmax(log p / T)`` (for a multi-label teacher, binary cross-entropy to
   ``sigmoid(logit p / T)``), scaled by ``T**2`` as in Hinton et al. (2015) so that its gradients
   keep their size whatever ``T``; where the files give gold labels, a share ``gold_weight`` of the
   loss is the usual loss on them. Texts are windowed exactly as the components window them, and
   the loss is taken on the length-weighted mean over a text's windows (:mod:`.soft_targets`).
4. A held-out part of the texts decides which student is best: the one that agrees most with the
   teacher. It is written, atomically, whenever it improves, so Ctrl-C or SIGTERM keeps it.
5. ``distill.json`` beside the student reports agreement, gold accuracy of both where known,
   the speed of both on the same backend, and their sizes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..files.readers import InputError
from ..inference.loading import load_config
from ..interrupts import signals_handled, whole
from .corpus import Corpus, gold_matrix
from .measure import measure_student, weights_bytes
from .recipe import Settings
from .soft_targets import StudentTrainer
from .student import INITS, build_student, parameters, shape_of, student_config
from .teacher import (
    TeacherLabels,
    TeacherSpec,
    classifier,
    label_texts,
    model_source,
    teacher_pipeline,
)

REPORT = "distill.json"


@dataclass
class Outcome:
    """What :func:`distill` did; ``report`` is what it wrote to ``distill.json``."""

    report: dict[str, Any]
    interrupted: Optional[KeyboardInterrupt]
    """What stopped the run early (Ctrl-C, or :class:`~spacy_korsent.interrupts.Terminated`)."""


def distill(
    corpus: Corpus,
    spec: TeacherSpec,
    output: Path,
    settings: Settings,
    *,
    cache_root: Path,
    label_map: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Outcome:
    """Label, build, train and report (see the module docstring); the student goes to ``output``.

    Interrupted (Ctrl-C or SIGTERM) while the teacher labels: KeyboardInterrupt, with the labels
    done so far cached. While the student trains: the best student so far stays in ``output``
    and the outcome says ``interrupted``.
    """
    import torch

    check_settings(settings)
    say = log or (lambda message: None)
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        with signals_handled():  # SIGTERM too raises KeyboardInterrupt (Terminated)
            nlp = None
            if any(corpus.gold):  # bad gold labels fail before the teacher labels anything
                nlp = teacher_pipeline(spec)
                gold_matrix(corpus, list(classifier(nlp).labels), label_map)
            source = model_source(spec)
            student_config(load_config(source), layers=settings.layers, hidden=settings.hidden)
            started = time.perf_counter()
            teacher = label_texts(spec, corpus.texts, cache_root, quiet=settings.quiet, nlp=nlp)
            del nlp
            labelling = time.perf_counter() - started
            say(
                f"teacher labels: {len(corpus.texts):,} texts ({teacher.reused:,} from the cache "
                f"{teacher.cache}, the rest in {labelling:.0f}s)"
            )
            return _train_and_report(corpus, spec, teacher, output, settings, label_map, say)
    finally:
        torch.set_num_threads(threads)


def check_settings(settings: Settings) -> None:
    """A ValueError for a setting that cannot work, before anything slow starts."""
    problems = []
    if settings.temperature <= 0:
        problems.append(f"temperature must be above 0, not {settings.temperature}")
    if not 0 <= settings.gold_weight < 1:
        problems.append(f"gold_weight must be at least 0 and below 1, not {settings.gold_weight}")
    if not 0 < settings.val_fraction < 1:
        problems.append(f"val_fraction must lie between 0 and 1, not {settings.val_fraction}")
    if settings.init not in INITS:
        problems.append(f"init must be one of {', '.join(INITS)}, not {settings.init!r}")
    for name in ("epochs", "batch_size", "patience", "max_val"):
        if getattr(settings, name) < 1:
            problems.append(f"{name} must be at least 1, not {getattr(settings, name)}")
    if settings.lr <= 0:
        problems.append(f"lr must be above 0, not {settings.lr}")
    if problems:
        raise ValueError("; ".join(problems) + ".")


def _train_and_report(
    corpus: Corpus,
    spec: TeacherSpec,
    teacher: TeacherLabels,
    output: Path,
    settings: Settings,
    label_map: str | None,
    say: Callable[[str], None],
) -> Outcome:
    from ..inference.loading import load_model, load_tokenizer

    gold = gold_matrix(corpus, teacher.labels, label_map)
    usable = np.flatnonzero(~np.isnan(teacher.probs).any(axis=1))
    train_rows, val_rows = _split(usable, settings)
    source = model_source(spec)
    tokenizer = load_tokenizer(source)
    teacher_module = load_model(source)
    student, init = build_student(
        teacher_module,
        layers=settings.layers,
        hidden=settings.hidden,
        init=settings.init,
        seed=settings.seed,
    )
    _label_student(student, teacher)
    say(
        f"student: {shape_of(student.config).describe()} ({parameters(student):,} parameters; "
        f"the teacher: {shape_of(teacher_module.config).describe()}, "
        f"{parameters(teacher_module):,}); training on {len(train_rows):,} texts, "
        f"{len(val_rows):,} held out"
    )
    report: dict[str, Any] = {
        "teacher": {
            "source": spec.source,
            "labels": teacher.labels,
            "multi_label": teacher.multi_label,
            "threshold": teacher.threshold,
            "shape": shape_of(teacher_module.config).__dict__,
            "parameters": parameters(teacher_module),
            "weights_bytes": weights_bytes(Path(source)),
        },
        "student": {**init, "parameters": parameters(student)},
        "teacher_labels": {
            "backend": spec.backend,
            "max_length": spec.max_length,
            "cache": str(teacher.cache),
            "from_cache": teacher.reused,
        },
        "data": {
            "rows": corpus.rows,
            "texts": len(corpus.texts),
            "empty": corpus.empty,
            "duplicates": corpus.duplicates,
            "without_tokens": int(len(corpus.texts) - len(usable)),
            "train": len(train_rows),
            "held_out": len(val_rows),
            "with_gold": int(gold[1].sum()) if gold is not None else 0,
        },
        "settings": asdict(settings),
    }
    del teacher_module
    trainer = StudentTrainer(student, tokenizer, corpus.texts, teacher, gold, spec, settings)

    def save_best(best: dict[str, Any], history: list[dict[str, Any]]) -> None:
        record = {**report, "best": best, "history": history}
        save_student(trainer.student, tokenizer, output, record)

    history, interrupted = trainer.fit(train_rows, val_rows, save_best)
    report.update(history=history, interrupted=interrupted is not None, best=trainer.best)
    if interrupted is not None or trainer.best is None:
        if trainer.best is not None:
            _write_report(output, report)
        return Outcome(report, interrupted)
    report["student"]["weights_bytes"] = weights_bytes(output)
    report.update(measure_student(output, spec, corpus, teacher, gold, val_rows, settings))
    _write_report(output, report)
    return Outcome(report, None)


def _split(rows: np.ndarray, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random held-out part (``val_fraction``, at most ``max_val``) and the rest."""
    n_val = min(settings.max_val, max(1, round(len(rows) * settings.val_fraction)))
    if len(rows) - n_val < 1:
        raise InputError(
            f"{len(rows)} texts with subword tokens are too few to train on and hold some out."
        )
    order = np.random.default_rng(settings.seed).permutation(rows)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _label_student(student: Any, teacher: TeacherLabels) -> None:
    """The student's config names the teacher component's labels (which may differ from the
    teacher model's own names, e.g. LABEL_0/LABEL_1 read as negative/positive)."""
    from ..components.model import problem_type

    config = student.config
    config.id2label = dict(enumerate(teacher.labels))
    config.label2id = {label: index for index, label in enumerate(teacher.labels)}
    config.problem_type = problem_type(teacher.multi_label)


def save_student(student: Any, tokenizer: Any, output: Path, report: dict[str, Any]) -> None:
    """Write the student (a Hugging Face model directory with ``distill.json``) in a temporary
    directory beside ``output``, then rename it into place: ``output`` always holds a whole one."""
    from ..inference.loading import save_pretrained

    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.new-", dir=output.parent))
    try:
        save_pretrained(tokenizer, student, staging)
        _write_report(staging, report)
        old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
        with whole():  # Ctrl-C or SIGTERM between the two renames would leave no student
            if output.exists():
                os.replace(output, old / "student")
            os.replace(staging, output)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_report(folder: Path, report: dict[str, Any]) -> None:
    path = folder / REPORT
    temporary = path.with_name(f".{REPORT}.tmp")
    temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)
