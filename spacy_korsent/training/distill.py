"""Distillation: train a smaller student to give the teacher's answers on unlabelled texts.

1. The teacher labels every text once (:mod:`.teacher`: its spaCy component on any backend,
   cached on disk, so an interrupted run resumes).
2. A student is built from the teacher (:mod:`.student`: fewer layers, a smaller width).
3. It learns the teacher's probabilities softened by a temperature ``T``: cross-entropy to
   ``softmax(log p / T)`` (for a multi-label teacher, binary cross-entropy to
   ``sigmoid(logit p / T)``), scaled by ``T**2`` as in Hinton et al. (2015) so that its gradients
   keep their size whatever ``T``; where the files give gold labels, a share ``gold_weight`` of the
   loss is the usual loss on them. Texts are windowed exactly as the components window them, and
   the loss is taken on the length-weighted mean over a text's windows (:mod:`.loss`).
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..components.loss import window_loss
from ..files.labelled import LabelSet, describe_unknown, parse_label_map, sentiment_labels
from ..files.readers import InputError, Layout, Warn, read_records
from ..inference.engine import WindowClassifier
from ..inference.loading import load_config
from ..interrupts import signals_handled, whole
from ..metrics import multilabel_scores
from .batching import epoch_bar, similar_length_batches
from .recipe import Settings
from .student import INITS, build_student, parameters, shape_of, student_config
from .teacher import (
    TeacherLabels,
    TeacherSpec,
    classifier,
    label_texts,
    model_source,
    predict,
    teacher_pipeline,
)

if TYPE_CHECKING:
    from spacy.language import Language

REPORT = "distill.json"
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


@dataclass
class Corpus:
    """The texts to distil on, in file order without repeats, and their gold label values."""

    texts: list[str] = field(default_factory=list)
    gold: list[list[str]] = field(default_factory=list)
    """Each text's label values (an empty list: none)."""
    rows: int = 0
    empty: int = 0
    duplicates: int = 0


def read_corpus(
    sources: Sequence[tuple[Path | str, Layout]],
    *,
    text_column: str = "text",
    label_column: str | None = None,
    label_separator: str | None = None,
    warn: Warn | None = None,
    note: Warn | None = None,
) -> Corpus:
    """Every distinct non-empty text of the files (each read by the shared reader with its
    layout), with its label values.

    A row without a label is still used (the teacher labels it); a repeated text is used once.
    """
    corpus = Corpus()
    seen: set[str] = set()
    for path, layout in sources:
        table = layout.fmt in ("csv", "tsv")
        required = tuple(c for c in (text_column, label_column) if c) if table else ()
        for record in read_records(
            path, layout, text_column=text_column, required=required, warn=warn, note=note
        ):
            corpus.rows += 1
            text = record.row.get(text_column)
            if not isinstance(text, str) or not text.strip():
                corpus.empty += 1
                continue
            if text in seen:
                corpus.duplicates += 1
                continue
            seen.add(text)
            corpus.texts.append(text)
            labels = record.row.get(label_column) if label_column else None
            corpus.gold.append(_values(labels, label_separator))
    if not corpus.texts:
        names = ", ".join(str(path) for path, _ in sources)
        raise InputError(f"no texts in the field {text_column!r} of {names}.")
    return corpus


def _values(value: object, separator: str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    text = str(value).strip()
    parts = text.split(separator) if separator else [text]
    return [part.strip() for part in parts if part.strip()]


def gold_matrix(
    corpus: Corpus, labels: list[str], label_map: str | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Gold probabilities ``[texts, labels]`` and which texts have gold (None without gold).

    Values are read as ``korsent train`` reads them: names, NSMC's 0/1 for negative/positive,
    class indices, or through ``label_map``; an unknown value is an InputError naming it.
    """
    if not any(corpus.gold):
        return None
    mapping = parse_label_map(label_map)
    label_set = (
        sentiment_labels(mapping)
        if labels == ["negative", "positive"]
        else LabelSet(labels, label_map=mapping)
    )
    truth = np.zeros((len(corpus.texts), len(labels)), dtype=np.float32)
    known = np.zeros(len(corpus.texts), dtype=bool)
    unknown: dict[str, list[int]] = {}
    for row, values in enumerate(corpus.gold):
        for value in values:
            index = label_set.lookup(value)
            if index is None:
                unknown.setdefault(value, []).append(row + 1)
            else:
                truth[row, index], known[row] = 1.0, True
    if unknown:
        raise InputError(f"gold labels: {describe_unknown(unknown, labels)}")
    return truth, known


@dataclass
class Outcome:
    """What :func:`distill` did; ``report`` is what it wrote to ``distill.json``."""

    report: dict[str, Any]
    interrupted: bool


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
            "weights_bytes": _weights_bytes(Path(source)),
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
    trainer = _Trainer(student, tokenizer, corpus.texts, teacher, gold, spec, settings)
    history, interrupted = trainer.fit(train_rows, val_rows, output, report)
    report.update(history=history, interrupted=interrupted, best=trainer.best)
    if interrupted or trainer.best is None:
        if trainer.best is not None:
            _write_report(output, report)
        return Outcome(report, True)
    report["student"]["weights_bytes"] = _weights_bytes(output)
    report.update(_measure(output, spec, corpus, teacher, gold, val_rows, settings))
    _write_report(output, report)
    return Outcome(report, False)


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


def soften(probs: np.ndarray, temperature: float, *, multi_label: bool) -> np.ndarray:
    """The teacher's probabilities at ``temperature``: ``softmax(log p / T)``, or for a sigmoid
    per label ``sigmoid(logit p / T)``."""
    p = np.clip(probs.astype(np.float64), 1e-12, 1 - 1e-12)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / temperature))
    z = np.log(p) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


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


class _Trainer:
    """The student's training loop: windows as the components make them, AdamW, a linear
    warmup and decay, gradients clipped at 1.0, the held-out check, and the best student saved."""

    def __init__(
        self,
        student: Any,
        tokenizer: Any,
        texts: list[str],
        teacher: TeacherLabels,
        gold: tuple[np.ndarray, np.ndarray] | None,
        spec: TeacherSpec,
        settings: Settings,
    ) -> None:
        import torch

        self.device = torch.device(settings.device or "cpu")
        self.student = student.to(self.device)
        self.tokenizer = tokenizer
        self.texts = texts
        self.teacher = teacher
        self.settings = settings
        self.soft = soften(teacher.probs, settings.temperature, multi_label=teacher.multi_label)
        self.gold = gold if gold is not None and settings.gold_weight > 0 else None
        self.engine = WindowClassifier(
            tokenizer,
            None,
            max_length=spec.max_length,
            stride=32 if spec.max_length > 64 else spec.max_length // 4,
            truncate=False,
            batch_tokens=4096,
            multi_label=teacher.multi_label,
        )
        self.ids = self.engine.encode(texts)
        self.best: dict[str, Any] | None = None

    def fit(
        self, train_rows: np.ndarray, val_rows: np.ndarray, output: Path, report: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], bool]:
        """Train; the evaluation log and whether it was interrupted."""
        import torch

        settings = self.settings
        lengths = np.fromiter((len(self.ids[i]) for i in train_rows), dtype=np.int64)
        rng = np.random.default_rng(settings.seed)
        steps_per_epoch = -(-len(train_rows) // settings.batch_size)
        total = settings.epochs * steps_per_epoch
        optimizer, schedule = self._optimizer(total)
        history: list[dict[str, Any]] = []
        stale, step, seen_loss, seen = 0, 0, 0.0, 0
        started = time.perf_counter()
        try:
            for epoch in range(1, settings.epochs + 1):
                batches = similar_length_batches(lengths, settings.batch_size, rng)
                bar = epoch_bar(batches, epoch, settings.epochs, quiet=settings.quiet)
                for batch in bar:
                    self.student.train()
                    loss = self._step(train_rows[batch])
                    torch.nn.utils.clip_grad_norm_(self.student.parameters(), 1.0)
                    optimizer.step()
                    schedule.step()
                    optimizer.zero_grad(set_to_none=True)
                    step += 1
                    seen_loss, seen = seen_loss + loss, seen + 1
                    bar.set_postfix(kl=f"{seen_loss / seen:.4f}", refresh=False)
                    end_of_epoch = step % steps_per_epoch == 0
                    due = settings.eval_every and step % settings.eval_every == 0
                    if not (end_of_epoch or due):
                        continue
                    entry = {
                        "step": step,
                        "epoch": round(step / steps_per_epoch, 3),
                        "train_kl": seen_loss / seen,
                        **self._evaluate(val_rows),
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                    seen_loss, seen = 0.0, 0
                    history.append(entry)
                    if self._improves(entry):
                        self.best, stale = entry, 0
                        record = {**report, "best": entry, "history": history}
                        save_student(self.student, self.tokenizer, output, record)
                    else:
                        stale += 1
                    if stale >= settings.patience:
                        return history, False
        except KeyboardInterrupt:
            return history, True
        return history, False

    def _optimizer(self, total: int) -> tuple[Any, Any]:
        import torch

        decayed: list[Any] = []
        plain: list[Any] = []
        for name, parameter in self.student.named_parameters():
            (plain if name.endswith("bias") or "LayerNorm" in name else decayed).append(parameter)
        optimizer = torch.optim.AdamW(
            [
                {"params": decayed, "weight_decay": self.settings.weight_decay},
                {"params": plain, "weight_decay": 0.0},
            ],
            lr=self.settings.lr,
        )
        warm = max(int(self.settings.warmup * total), 1)

        def factor(step: int) -> float:
            return min((step + 1) / warm, max(0.0, (total - step) / max(total - warm, 1)))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    def _step(self, rows: np.ndarray) -> float:
        """Forward and backward on the texts ``rows``; the soft loss (KL at the temperature)."""
        import torch

        windows, owners = [], []
        for position, row in enumerate(rows):
            for window in self.engine.windows(self.ids[row]):
                windows.append(window)
                owners.append(position)
        ids, mask = self.engine.pad(windows)
        logits = self.student(
            input_ids=torch.from_numpy(ids).to(self.device),
            attention_mask=torch.from_numpy(mask).to(self.device),
        ).logits
        z = logits.detach().double().cpu().numpy()
        lengths = [len(window) for window in windows]
        multi = self.teacher.multi_label
        temperature, weight = self.settings.temperature, self.settings.gold_weight
        target = self.soft[rows]
        every = np.ones_like(target, dtype=bool)
        cross, d_soft = window_loss(
            z / temperature, owners, lengths, target, every, multi_label=multi
        )
        # d/dz of T**2 * CE(z / T) is T * (the gradient at z / T).
        grad = d_soft.astype(np.float64) * temperature
        if self.gold is not None and self.gold[1][rows].any():
            # A text with gold: (1 - weight) * soft + weight * gold; one without: soft alone.
            truth, known = self.gold[0][rows], self.gold[1][rows]
            mask = np.broadcast_to(known[:, None], target.shape)
            _, d_gold = window_loss(z, owners, lengths, truth, mask, multi_label=multi)
            share = known.sum() / len(rows)  # window_loss averages over the texts with gold
            grad = grad * np.where(known[owners], 1 - weight, 1.0)[:, None]
            grad = grad + weight * share * d_gold
        logits.backward(torch.from_numpy(grad.astype(np.float32)).to(self.device))
        return cross - _entropy(target, multi_label=multi)

    def _evaluate(self, rows: np.ndarray) -> dict[str, float]:
        """Agreement and KL of the student with the teacher on the held-out texts (fp32 torch)."""
        from ..inference.torch_backend import TorchBackend

        self.engine.backend = TorchBackend(self.student, self.device)
        try:
            predicted = self.engine.predict([self.texts[i] for i in rows])
        finally:
            self.engine.backend = None
        student = np.stack([p for p in predicted if p is not None])
        return agreement(
            student,
            self.teacher.probs[rows],
            multi_label=self.teacher.multi_label,
            threshold=self.teacher.threshold,
        )

    def _improves(self, entry: dict[str, Any]) -> bool:
        best = self.best
        return best is None or (entry["agreement"], -entry["kl"]) > (best["agreement"], -best["kl"])


def _entropy(p: np.ndarray, *, multi_label: bool) -> float:
    """The mean entropy of the targets (cross-entropy minus this is the KL divergence)."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    each = -q * np.log(q)
    if multi_label:
        each = each - (1 - q) * np.log(1 - q)
    return float(each.sum(axis=1).mean())


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


def _weights_bytes(folder: Path) -> int | None:
    if not folder.is_dir():
        return None
    return sum(file.stat().st_size for p in WEIGHT_PATTERNS for file in folder.glob(p))


# --- the final measurements ----------------------------------------------------------------


def _measure(
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
