"""Calibration metrics against hand-computed cases, and fits that recover what made the data."""

import numpy as np
import pytest

from spacy_korsent.calibration import (
    NeutralBand,
    best_f1_threshold,
    fit_neutral_band,
    fit_temperature,
    fit_thresholds,
    log_loss,
    scale_probabilities,
)
from spacy_korsent.metrics import brier_score, expected_calibration_error, reliability_bins


def test_ece_matches_a_hand_computed_case():
    # Two bins of 5 (of 0.1 each): [0.2, 0.3) holds 0.2, 0.2, 0.2 (1 right of 3) and
    # [0.9, 1.0] holds 0.9, 1.0 (both right).
    confidence = [0.2, 0.2, 0.2, 0.9, 1.0]
    correct = [1, 0, 0, 1, 1]
    # bin 1: |0.2 - 1/3| * 3/5 = 0.08; bin 2: |0.95 - 1| * 2/5 = 0.02
    assert expected_calibration_error(confidence, correct, n_bins=10) == pytest.approx(0.10)
    bins = [b for b in reliability_bins(confidence, correct, n_bins=10) if b.size]
    assert [(b.low, b.size) for b in bins] == [(0.2, 3), (0.9, 2)]
    assert bins[0].accuracy == pytest.approx(1 / 3)
    assert bins[1].confidence == pytest.approx(0.95)


def test_ece_is_zero_when_confidence_is_the_hit_rate():
    confidence = [0.75] * 4
    assert expected_calibration_error(confidence, [1, 1, 1, 0]) == pytest.approx(0.0)


def test_brier_score_by_hand():
    probs = np.array([[0.8, 0.2], [0.4, 0.6]])
    truth = np.array([[1, 0], [1, 0]])
    # text 1: 0.04 + 0.04; text 2: 0.36 + 0.36 -> mean 0.4
    assert brier_score(probs, truth) == pytest.approx(0.4)
    # each (text, label) pair its own forecast: mean of the four squares
    assert brier_score(probs, truth, multi_label=True) == pytest.approx(0.2)


def test_scaling_by_one_changes_nothing_and_keeps_the_ranking():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert np.allclose(scale_probabilities(probs, 1.0, multi_label=False), probs)
    softer = scale_probabilities(probs, 2.0, multi_label=False)
    assert np.allclose(softer.sum(axis=1), 1.0)
    assert (softer.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert (softer.max(axis=1) < probs.max(axis=1)).all()
    with pytest.raises(ValueError, match="positive"):
        scale_probabilities(probs, 0.0, multi_label=False)


@pytest.mark.parametrize("multi_label", [False, True])
def test_temperature_fit_recovers_the_overconfidence_it_undoes(multi_label):
    rng = np.random.default_rng(0)
    n = 4000
    logits = rng.normal(0, 2, size=(n, 3))
    if multi_label:
        calibrated = 1 / (1 + np.exp(-logits))
        gold = rng.random((n, 3)) < calibrated
    else:
        calibrated = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        gold = np.array([rng.choice(3, p=row) for row in calibrated])
    overconfident = scale_probabilities(calibrated, 1 / 2.5, multi_label=multi_label)
    temperature = fit_temperature(overconfident, gold, multi_label=multi_label)
    assert temperature == pytest.approx(2.5, rel=0.1)
    fixed = scale_probabilities(overconfident, temperature, multi_label=multi_label)
    assert log_loss(fixed, gold, multi_label=multi_label) < log_loss(
        overconfident, gold, multi_label=multi_label
    )


def test_neutral_band_fit_finds_the_middle_class():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, size=3000)
    centres = np.array([0.1, 0.5, 0.9])
    p = np.clip(centres[gold] + rng.normal(0, 0.08, size=len(gold)), 0, 1)
    band = fit_neutral_band(p, gold)
    assert 0.2 < band.low < 0.4 and 0.6 < band.high < 0.8
    accuracy = (band.classify(p) == gold).mean()
    assert accuracy > 0.9


def test_neutral_band_classifies_at_its_edges():
    band = NeutralBand(0.3, 0.7)
    assert band.classify(np.array([0.0, 0.29, 0.3, 0.69, 0.7, 1.0])).tolist() == [0, 0, 1, 1, 2, 2]


def test_neutral_band_needs_all_three_classes():
    with pytest.raises(ValueError, match="negative, neutral and positive"):
        fit_neutral_band(np.array([0.1, 0.9]), np.array([0, 2]))


def test_best_f1_threshold_by_hand():
    scores = np.array([0.9, 0.8, 0.6, 0.4, 0.2])
    truth = np.array([1, 1, 0, 1, 0], dtype=bool)
    # predicting the top 2: F1 = 2*2/(2+3) = 0.8; top 4: 2*3/(4+3) = 0.857 -> cut between 0.4, 0.2
    assert best_f1_threshold(scores, truth) == pytest.approx(0.3)
    assert best_f1_threshold(scores, np.zeros(5, dtype=bool)) == 1.0


def test_rare_labels_share_the_global_threshold():
    rng = np.random.default_rng(2)
    n = 500
    common = rng.random(n) < 0.4
    rare = np.zeros(n, dtype=bool)
    rare[:3] = True
    gold = np.stack([common, rare], axis=1)
    probs = np.stack(
        [np.clip(common * 0.3 + rng.random(n) * 0.5, 0, 1), np.clip(rng.random(n) * 0.4, 0, 1)],
        axis=1,
    )
    thresholds = fit_thresholds(probs, gold, ["common", "rare"])
    assert thresholds.fitted == ["common"]
    assert thresholds.per_label["rare"] == thresholds.shared
    assert 0.2 < thresholds.per_label["common"] < 0.6


def test_a_fitted_band_holds_one_half_even_when_the_data_pulls_it_away():
    # Negative texts up to 0.58, neutral ones 0.6 to 0.8: the perfect band [0.59, 0.85) would
    # call texts at 0.52-0.58 negative although the model's top class for them is positive.
    p = np.array([0.1, 0.2, 0.52, 0.55, 0.58, 0.6, 0.7, 0.8, 0.9, 0.95])
    gold = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2])
    band = fit_neutral_band(p, gold)
    assert band.low <= 0.5 <= band.high
    assert band.classify(p).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]


def test_thresholds_of_labels_with_little_evidence_stay_near_the_shared_one():
    rng = np.random.default_rng(1)
    probs = rng.uniform(size=(400, 2))
    gold = probs > np.array([0.3, 0.7])  # label a is gold above 0.3, label b above 0.7
    own = fit_thresholds(probs, gold, ["a", "b"], prior=0)
    drawn = fit_thresholds(probs, gold, ["a", "b"], prior=50)
    for label in ("a", "b"):
        assert own.per_label[label] == pytest.approx({"a": 0.3, "b": 0.7}[label], abs=0.02)
        between = sorted([own.per_label[label], drawn.shared])
        assert between[0] <= drawn.per_label[label] <= between[1]
        assert drawn.per_label[label] != own.per_label[label]


def test_a_calibration_round_trips_through_its_file_and_settings_override_it(tmp_path):
    from spacy_korsent.calibration import Calibration

    saved = Calibration(1.3, NeutralBand(0.2, 0.7), None)
    saved.write(tmp_path)
    assert Calibration.read(tmp_path) == saved
    assert saved.overridden({"temperature": None, "neutral_band": None}) == saved
    assert saved.overridden({"temperature": 1.0, "neutral_band": []}).empty
    assert saved.overridden({"neutral_band": [0.4, 0.6]}).neutral_band == NeutralBand(0.4, 0.6)
    Calibration().write(tmp_path)  # nothing to save: the old file goes
    assert not (tmp_path / "calibration.json").exists()
    (tmp_path / "calibration.json").write_text("[1]", encoding="utf-8")
    with pytest.raises(ValueError, match="a calibration is a JSON object"):
        Calibration.read(tmp_path)
