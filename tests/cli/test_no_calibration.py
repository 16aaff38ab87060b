"""A model's saved calibration: ``korsent analyze`` says once that it applies, and
``--no-calibration`` (``analyze_frame(calibration=False)``) gives the model's own answers, the
same as the model without a ``calibration.json``."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from conftest import FIXTURES, TINY_MODEL

from spacy_korsent.calibration import CALIBRATION_FILE, Calibration, NeutralBand
from spacy_korsent.cli import main

KOTE_MODEL = FIXTURES / "kote-koelectra-tiny"
TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "평범한 영화",
    "완전 별로... 시간 낭비했다.",
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sentiment test model with a temperature and band saved, and both test models
    without any calibration.json (the raw models)."""
    root = tmp_path_factory.mktemp("models")
    calibrated = shutil.copytree(TINY_MODEL, root / "calibrated")
    Calibration(temperature=1.5, neutral_band=NeutralBand(0.1, 0.5)).write(calibrated)
    raw_kote = shutil.copytree(KOTE_MODEL, root / "kote-raw")
    (raw_kote / CALIBRATION_FILE).unlink()
    return {"sentiment": calibrated, "emotion": KOTE_MODEL, "emotion-raw": raw_kote}


def analyze(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[list[dict], list[str]]:
    code = main(["analyze", "-q", *map(str, argv), *TEXTS])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()], err.splitlines()


def test_analyze_says_once_that_the_saved_calibration_applies(
    models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rows, err = analyze(capsys, "--sentiment-model", models["sentiment"])
    assert err == [
        f"korsent analyze: note: korean_sentiment applies the calibration saved with "
        f"{models['sentiment']} (temperature 1.5, neutral band [0.1, 0.5)); --no-calibration "
        "(analyze_frame: calibration=False) shows the model's own probabilities."
    ]
    assert "neutral" in [row["sentiment"] for row in rows]
    _, err = analyze(capsys, "-t", "emotion", "--emotion-model", models["emotion"])
    assert len(err) == 1 and "korean_emotion applies the calibration saved with" in err[0]
    assert "44 per-label thresholds" in err[0]
    _, err = analyze(capsys, "--sentiment-model", TINY_MODEL)  # nothing saved: nothing said
    assert err == []


def test_no_calibration_gives_the_model_without_its_calibration(
    models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    raw, _ = analyze(capsys, "--sentiment-model", TINY_MODEL)
    rows, err = analyze(capsys, "--sentiment-model", models["sentiment"], "--no-calibration")
    assert err == [] and rows == raw
    assert "neutral" not in [row["sentiment"] for row in rows]
    kote = ["-t", "emotion", "--no-calibration", "--emotion-model"]
    rows, err = analyze(capsys, *kote, models["emotion"])
    raw, _ = analyze(capsys, *kote[:-2], "--emotion-model", models["emotion-raw"])
    assert err == [] and rows == raw


def test_analyze_frame_takes_calibration_as_the_command_takes_no_calibration(
    models: dict[str, Path],
) -> None:
    pd = pytest.importorskip("pandas")
    from spacy_korsent import blank_korean
    from spacy_korsent.integrations.pandas import analyze_frame

    frame = pd.DataFrame({"text": TEXTS})
    given = {"sentiment_model": str(models["sentiment"]), "progress": False}
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        calibrated = analyze_frame(frame, **given)
    assert [str(w.message) for w in heard if "applies the calibration" in str(w.message)]
    assert "neutral" in calibrated["sentiment"].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to say
        own = analyze_frame(frame, **given, calibration=False)
    raw = analyze_frame(frame, sentiment_model=str(TINY_MODEL), progress=False)
    pd.testing.assert_frame_equal(own, raw)
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(models["sentiment"])})
    with pytest.raises(ValueError, match="calibration build a pipeline"):
        analyze_frame(frame, nlp=nlp, calibration=False)
