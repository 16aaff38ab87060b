"""The training loss of both components, on the probabilities they predict.

A text's probabilities are the length-weighted mean of its windows' probabilities (softmax, or a
sigmoid per label for multi-label models), exactly as predicted; the loss is cross-entropy on that
mean (binary cross-entropy per label for multi-label models), and its gradient flows back to every
window's logits. For a text of one window this is the usual ``p - t``.

Everything is computed in float64 from the logits, without clipping probabilities: a confidently
wrong window keeps its full gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TINY = 1e-300


def window_loss(
    logits: np.ndarray,
    owners: Sequence[int],
    lengths: Sequence[int],
    truth: np.ndarray,
    known: np.ndarray,
    *,
    multi_label: bool,
) -> tuple[float, np.ndarray]:
    """The mean loss over the texts with windows, and its gradient for ``logits``.

    ``logits``: ``[windows, labels]``; ``owners[i]``: the text (row of ``truth``) of window ``i``,
    contiguous and ascending; ``lengths[i]``: its tokens. ``truth``: gold probabilities ``[texts,
    labels]``; ``known``: which of them the gold annotates. A missing label gives no gradient; a
    text with no known label (for exclusive labels: no gold class) is left out.
    """
    z = np.asarray(logits, dtype=np.float64)
    owner = np.asarray(owners)
    first = np.r_[True, owner[1:] != owner[:-1]]
    segment = np.cumsum(first) - 1  # the position of each window's text among the texts here
    starts = np.flatnonzero(first)
    weights = np.asarray(lengths, dtype=np.float64)
    share = (weights / np.add.reduceat(weights, starts)[segment])[:, None]
    t = np.asarray(truth, dtype=np.float64)[owner[starts]]
    mask = np.asarray(known, dtype=bool)[owner[starts]]
    if multi_label:
        p, q = _sigmoid(z), _sigmoid(-z)  # q = 1 - p without cancellation
        mean_p = np.add.reduceat(p * share, starts, axis=0)
        mean_q = np.add.reduceat(q * share, starts, axis=0)
        used = mask.any(axis=1)
        losses = -(t * _log(mean_p) + (1 - t) * _log(mean_q)) * mask
        # dL/dmean = (mean_p - t) / (mean_p * mean_q); through each window's sigmoid: share * p * q
        g = np.where(mask, (mean_p - t) / np.maximum(mean_p * mean_q, TINY), 0.0)
        d_z = share * p * q * g[segment]
    else:
        t = np.where(mask, t, 0.0)
        totals = t.sum(axis=1)
        used = totals > 0
        t = t / np.where(used, totals, 1.0)[:, None]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        mean = np.add.reduceat(p * share, starts, axis=0)
        losses = -(t * _log(mean))
        # dL/dmean = -t / mean; through each window's softmax: share * p * (g - <g, p>)
        g = (-t / np.maximum(mean, TINY))[segment]
        d_z = share * p * (g - (g * p).sum(axis=1, keepdims=True))
    n_used = max(int(used.sum()), 1)
    d_z *= (used[segment] / n_used)[:, None]
    return float(losses[used].sum() / n_used), d_z.astype(np.float32)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _log(x: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x, TINY))
