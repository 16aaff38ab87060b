"""How the student learns the teacher's answers: the softened targets and the training loop.

The loss is cross-entropy to the teacher's probabilities at a temperature ``T`` (:func:`soften`),
scaled by ``T**2`` as in Hinton et al. (2015) so that its gradients keep their size whatever
``T``, plus a share ``gold_weight`` of the usual loss where a text has gold labels. Texts are
windowed as the components window them and the loss is taken on the length-weighted mean over a
text's windows (:mod:`spacy_korsent.components.loss`). The held-out check, which keeps the best
student, is its :func:`~.measure.agreement` with the teacher.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import numpy as np

from ..components.loss import window_loss
from ..inference.engine import WindowClassifier
from .batching import epoch_bar, similar_length_batches
from .measure import agreement
from .recipe import Settings
from .teacher import TeacherLabels, TeacherSpec


def soften(probs: np.ndarray, temperature: float, *, multi_label: bool) -> np.ndarray:
    """The teacher's probabilities at ``temperature``: ``softmax(log p / T)``, or for a sigmoid
    per label ``sigmoid(logit p / T)``."""
    p = np.clip(probs.astype(np.float64), 1e-12, 1 - 1e-12)
    if multi_label:
        return 1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / temperature))
    z = np.log(p) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class StudentTrainer:
    """The student's training loop: windows as the components make them, AdamW, a linear
    warmup and decay, gradients clipped at 1.0, and the held-out check that finds the best."""

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
        self,
        train_rows: np.ndarray,
        val_rows: np.ndarray,
        on_best: Callable[[dict[str, Any], list[dict[str, Any]]], None],
    ) -> tuple[list[dict[str, Any]], Optional[KeyboardInterrupt]]:
        """Train; the evaluation log and what interrupted it (Ctrl-C, or
        :class:`~spacy_korsent.interrupts.Terminated`; None when it ran to its end). ``on_best``
        hears each check that beats the best so far, with the log up to it (to save the student
        then)."""
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
                        on_best(entry, history)
                    else:
                        stale += 1
                    if stale >= settings.patience:
                        return history, None
        except KeyboardInterrupt as interrupt:
            return history, interrupt
        return history, None

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
        return cross - entropy(target, multi_label=multi)

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


def entropy(p: np.ndarray, *, multi_label: bool) -> float:
    """The mean entropy of the targets (cross-entropy minus this is the KL divergence)."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    each = -q * np.log(q)
    if multi_label:
        each = each - (1 - q) * np.log(1 - q)
    return float(each.sum(axis=1).mean())
