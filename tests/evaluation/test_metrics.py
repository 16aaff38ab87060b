"""Metric functions against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from spacy_korsent.metrics import (
    NO_PREDICTION,
    accuracy,
    confusion_matrix,
    group_accuracy,
    group_predictions,
    macro_f1,
    precision_recall_f1,
    predictions,
    top_k_accuracy,
)

# tp = 3 (rows 0-2), fn = 1 (row 3), fp = 2 (rows 4-5), tn = 4 (rows 6-9)
GOLD = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
PRED = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


def test_binary_metrics_by_hand() -> None:
    assert accuracy(GOLD, PRED) == pytest.approx(7 / 10)
    precision, recall, f1 = precision_recall_f1(GOLD, PRED, positive=1)
    assert precision == pytest.approx(3 / 5)
    assert recall == pytest.approx(3 / 4)
    assert f1 == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert confusion_matrix(GOLD, PRED, 2).tolist() == [[4, 2], [1, 3]]
    # The negative class seen as positive: precision 4/5, recall 4/6.
    assert precision_recall_f1(GOLD, PRED, positive=0)[:2] == pytest.approx((4 / 5, 4 / 6))


def test_missing_predictions_count_wrong_and_stay_out_of_the_matrix() -> None:
    pred = [1, NO_PREDICTION, 1, 0, 1, 1, 0, 0, 0, NO_PREDICTION]
    assert accuracy(GOLD, pred) == pytest.approx(5 / 10)
    assert confusion_matrix(GOLD, pred, 2).tolist() == [[3, 2], [1, 2]]
    assert precision_recall_f1(GOLD, pred) == pytest.approx((2 / 4, 2 / 4, 0.5))


def test_zero_denominators_give_zero() -> None:
    assert precision_recall_f1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)
    assert accuracy([], []) == 0.0
    assert macro_f1([], []) == 0.0
    with pytest.raises(ValueError, match="3 gold labels but 2 predictions"):
        accuracy([0, 1, 2], [0, 1])


def test_macro_f1_by_hand() -> None:
    gold = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    # class 0: P 1/2 R 1/2 F 1/2; class 1: P 2/3 R 1 F 4/5; class 2: P 1 R 1/2 F 2/3
    expected = (1 / 2 + 4 / 5 + 2 / 3) / 3
    assert macro_f1(gold, pred) == pytest.approx(expected)
    # Over a fixed label set a class that never occurs adds an F1 of 0.
    assert macro_f1(gold, pred, labels=[0, 1, 2, 3]) == pytest.approx(expected * 3 / 4)
    # A class only predicted (3) joins the default label set.
    assert macro_f1([0, 0], [0, 3]) == pytest.approx((2 / 3 + 0) / 2)


def test_top_k_accuracy_by_hand() -> None:
    probs = np.array(
        [
            [0.5, 0.3, 0.2],  # gold 0: rank 1
            [0.5, 0.3, 0.2],  # gold 1: rank 2
            [0.5, 0.3, 0.2],  # gold 2: rank 3
            [np.nan, np.nan, np.nan],  # no prediction: a miss at any k
        ]
    )
    gold = [0, 1, 2, 0]
    assert top_k_accuracy(gold, probs, 1) == pytest.approx(1 / 4)
    assert top_k_accuracy(gold, probs, 2) == pytest.approx(2 / 4)
    assert top_k_accuracy(gold, probs, 3) == pytest.approx(3 / 4)


def test_groups_sum_probability_like_the_component() -> None:
    # Two groups of three: class 0 is the single most probable, but group 1 holds more mass.
    probs = np.array(
        [
            [0.40, 0.00, 0.00, 0.20, 0.20, 0.20],
            [0.10, 0.30, 0.30, 0.10, 0.10, 0.10],
            [np.nan] * 6,
        ],
        dtype=np.float32,
    )
    assert predictions(probs).tolist() == [0, 1, NO_PREDICTION]
    assert group_predictions(probs, 3).tolist() == [1, 0, NO_PREDICTION]
    assert group_accuracy([4, 2, 0], probs, 3) == pytest.approx(2 / 3)
