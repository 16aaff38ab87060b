"""How good, fast and small a distilled student is: the figures of ``distill.json``.

Agreement with the teacher (also the held-out check that picks the best student while it
trains), gold scores of both where the texts have gold labels, both models' documents per second
through their components on the same backend, and the size of their weights.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..metrics import multilabel_scores
from .corpus import Corpus
from .recipe import Settings
from .teacher import TeacherLabels, TeacherSpec, predict, teacher_pipeline

if TYPE_CHECKING:
    from spacy.language import Language

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


def agreement(
    student: np.ndarray, teacher: np.ndarray, *, multi_label: bool, threshold: float | None
) -> dict[str, float]:
    """How often the student gives the teacher's answer.

    ``agreement`` is the share of texts with the teacher's top label (single-label), or the
    micro-F1 of the student's label decisions against the teacher's (multi-label, at the teacher's
    threshold; ``exact`` is then the share of texts with the teacher's whole label set). ``kl``:
    the mean KL divergence from the teacher's probabilities to the student's.
    """
    same_top = float((student.argmax(axis=1) == teacher.argmax(axis=1)).mean())
    s, t = np.clip(student, 1e-12, 1 - 1e-12), np.clip(teacher, 1e-12, 1 - 1e-12)
    if not multi_label:
        kl = float(np.mean(np.sum(t * (np.log(t) - np.log(s)), axis=1)))
        return {"agreement": same_top, "kl": kl}
    cut = 0.5 if threshold is None else threshold
    decisions = multilabel_scores(teacher >= cut, student >= cut, [""] * teacher.shape[1])
    kl = t * (np.log(t) - np.log(s)) + (1 - t) * (np.log(1 - t) - np.log(1 - s))
    return {
        "agreement": decisions["micro_f1"],
        "exact": decisions["exact_match"],
        "top": same_top,
        "kl": float(np.mean(kl.sum(axis=1))),
    }


def measure_student(
    output: Path,
    spec: TeacherSpec,
    corpus: Corpus,
    teacher: TeacherLabels,
    gold: tuple[np.ndarray, np.ndarray] | None,
    val_rows: np.ndarray,
    settings: Settings,
) -> dict[str, Any]:
    """The saved student through its component on the teacher's backend: held-out agreement,
    gold scores, and both models' speed on the same texts."""
    student_spec = TeacherSpec(str(output), spec.backend, spec.max_length, spec.device)
    student_nlp = teacher_pipeline(student_spec)
    texts = [corpus.texts[i] for i in val_rows]
    student_probs = predict(student_nlp, texts)
    teacher_probs = teacher.probs[val_rows]
    held_out: dict[str, Any] = {
        "texts": len(texts),
        "backend": spec.backend,
        **agreement(
            student_probs,
            teacher_probs,
            multi_label=teacher.multi_label,
            threshold=teacher.threshold,
        ),
    }
    if gold is not None and gold[1][val_rows].any():
        truth, known = gold[0][val_rows], gold[1][val_rows]
        held_out["with_gold"] = int(known.sum())
        held_out["teacher_gold"] = _gold_score(teacher_probs[known], truth[known], teacher)
        held_out["student_gold"] = _gold_score(student_probs[known], truth[known], teacher)
    measured: dict[str, Any] = {"held_out": held_out}
    sample = texts[: settings.speed_texts]
    if sample:
        teacher_nlp = teacher_pipeline(spec)
        speed: dict[str, Any] = {
            "backend": spec.backend,
            "texts": len(sample),
            "teacher_docs_per_s": docs_per_second(teacher_nlp, sample),
            "student_docs_per_s": docs_per_second(student_nlp, sample),
        }
        speed["speedup"] = speed["student_docs_per_s"] / speed["teacher_docs_per_s"]
        measured["speed"] = speed
        if spec.backend != "torch":
            exact = teacher_pipeline(TeacherSpec(**{**spec.__dict__, "backend": "torch"}))
            torch_probs = predict(exact, sample)
            measured["teacher_labels_vs_torch"] = agreement(
                teacher_probs[: len(sample)],
                torch_probs,
                multi_label=teacher.multi_label,
                threshold=teacher.threshold,
            ) | {"texts": len(sample)}
    return measured


def _gold_score(probs: np.ndarray, truth: np.ndarray, teacher: TeacherLabels) -> dict[str, float]:
    if not teacher.multi_label:
        return {"accuracy": float((probs.argmax(axis=1) == truth.argmax(axis=1)).mean())}
    cut = 0.5 if teacher.threshold is None else teacher.threshold
    scores = multilabel_scores(truth >= 0.5, probs >= cut, teacher.labels)
    return {key: scores[key] for key in ("micro_f1", "macro_f1", "exact_match")}


def docs_per_second(nlp: Language, texts: Sequence[str]) -> float:
    """Documents per second through the pipeline (after a warm-up on a few of them)."""
    with nlp.memory_zone():
        list(nlp.pipe(texts[:16]))
    started = time.perf_counter()
    with nlp.memory_zone():
        for _ in nlp.pipe(texts):
            pass
    return len(texts) / (time.perf_counter() - started)


def weights_bytes(folder: Path) -> int | None:
    """The size of the model's weight files in ``folder`` (None without the folder)."""
    if not folder.is_dir():
        return None
    return sum(file.stat().st_size for p in WEIGHT_PATTERNS for file in folder.glob(p))
