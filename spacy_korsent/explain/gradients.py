"""Integrated gradients over the input embeddings, on the torch backend.

For each window, the path runs from a baseline (every text subword replaced by the padding
token's embedding, the special tokens kept) to the window's own embeddings, in ``steps`` equal
parts; the gradient of the target's probability is taken at the middle of each part (the midpoint
rule). A subword's score is its embedding difference times the mean gradient, summed over the
embedding dimensions; the scores of a spaCy token's subwords are added up, and windows are
weighted as the text's probability averages them. Within each window the scores add up to
``p_window(target) - p_baseline(target)`` (completeness), up to the error of ``steps`` parts.

Cost: ``steps`` forward and backward passes per window (a backward pass costs about two forward
passes). The passes run like the backend's own: in row shards on single-threaded torch, side by
side in the process's shard threads (on a busy CPU, torch's own threading is many times slower).
The gradients need the torch model: only a backend that holds it (:class:`GradientBackend`) can
run this method.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from ..inference.backends import GradientBackend
from ..inference.engine import WindowClassifier
from .subwords import Offsets, text_windows

NEEDS_TORCH = (
    "the integrated_gradients method needs the torch backend (gradients of the torch model); "
    "the ONNX and OpenVINO backends have none. Use backend='torch', or "
    "explain_method='occlusion', which works on every backend."
)


def integrated_gradients(
    classifier: WindowClassifier,
    texts: Sequence[str],
    token_offsets: Sequence[Offsets],
    targets: Sequence[int],
    *,
    steps: int = 32,
) -> list[np.ndarray]:
    """Integrated-gradients attributions towards ``targets``, one value per spaCy token."""
    if steps < 1:
        raise ValueError(f"integrated_gradients needs at least 1 step, not {steps}.")
    path = _IntegratedPath(classifier, steps)
    prepared = text_windows(classifier, texts, token_offsets)
    attributions = [np.zeros(text.n_tokens, dtype=np.float64) for text in prepared]
    jobs = [(index, w) for index, text in enumerate(prepared) for w in range(len(text.spans))]
    windows = [prepared[index].window(classifier, w) for index, w in jobs]
    first = len(classifier.prefix)
    for batch in classifier.batches(windows):
        # One target per run, so that a shard of rows knows its target from the run alone.
        for target in sorted({targets[jobs[i][0]] for i in batch}):
            rows = [i for i in batch if targets[jobs[i][0]] == target]
            scores = path.scores([windows[i] for i in rows], target)
            for i, window_scores in zip(rows, scores):
                index, w = jobs[i]
                text = prepared[index]
                start, end = text.spans[w]
                body, owners = window_scores[first : first + end - start], text.owners[start:end]
                owned = owners >= 0
                np.add.at(attributions[index], owners[owned], text.weights[w] * body[owned])
    return attributions


class _IntegratedPath:
    """Integrated gradients of batches of windows through a sequence-classification model."""

    def __init__(self, classifier: WindowClassifier, steps: int) -> None:
        import torch
        from transformers import PreTrainedModel

        backend = classifier.backend
        if not isinstance(backend, GradientBackend) or not isinstance(
            backend.model, PreTrainedModel
        ):
            raise ValueError(NEEDS_TORCH)
        self.run = backend.run_sharded
        self.classifier = classifier
        model = self.model = backend.model
        self.embed = model.get_input_embeddings()
        self.device = next(model.parameters()).device
        self.steps = steps
        multi_label = classifier.multi_label
        self.activation: Any = torch.sigmoid if multi_label else lambda x: torch.softmax(x, -1)

    def scores(self, windows: list[list[int]], target: int) -> list[np.ndarray]:
        """One score per position of each window (0 for the special tokens)."""
        if self.model.training:
            self.model.eval()  # as the torch backend does: spaCy's training loop leaves it training
        ids, mask = self.classifier.pad(windows)
        # Steps a pass: the whole batch's rows for that many steps fill about ``batch_tokens``.
        per_pass = max(1, self.classifier.batch_tokens // ids.size)
        shard_scores = partial(
            self._shard_scores, target=target, width=ids.shape[1], per_pass=per_pass
        )
        scores = self.run(shard_scores, ids, mask)
        return [scores[row, : len(window)] for row, window in enumerate(windows)]

    def _shard_scores(
        self, ids: np.ndarray, mask: np.ndarray, *, target: int, width: int, per_pass: int
    ) -> np.ndarray:
        """Scores of a shard of rows, padded with zeros to the batch's ``width``; the steps run
        ``per_pass`` at a time."""
        import torch

        classifier = self.classifier
        baseline = ids.copy()
        lengths = mask.sum(axis=1)
        for row, length in enumerate(lengths):
            baseline[row, len(classifier.prefix) : length - len(classifier.suffix)] = (
                classifier.pad_id
            )
        with torch.no_grad():
            inputs = self.embed(torch.from_numpy(ids).to(self.device))
            origin = self.embed(torch.from_numpy(baseline).to(self.device))
        difference = inputs - origin
        attention = torch.from_numpy(mask).to(self.device)
        gradient_sum = torch.zeros_like(inputs, dtype=torch.float32)
        for first in range(0, self.steps, per_pass):
            count = min(per_pass, self.steps - first)
            alphas = (torch.arange(first, first + count, device=self.device) + 0.5) / self.steps
            # Rows are (step, window) pairs, step-major: row % len(ids) is the window.
            path = origin.repeat(count, 1, 1) + alphas.to(inputs.dtype).repeat_interleave(len(ids))[
                :, None, None
            ] * difference.repeat(count, 1, 1)
            path.requires_grad_(True)
            with torch.enable_grad():
                logits = self.model(inputs_embeds=path, attention_mask=attention.repeat(count, 1))
                probs = self.activation(logits.logits.float())
                (gradients,) = torch.autograd.grad(probs[:, target].sum(), path)
            gradient_sum += gradients.float().reshape(count, *inputs.shape).sum(0)
        scores = np.zeros((len(ids), width), dtype=np.float64)
        shard = (difference.float() * gradient_sum / self.steps).sum(-1).cpu().numpy()
        scores[:, : ids.shape[1]] = shard
        return scores
