"""``korsent calibrate`` and ``korsent evaluate`` say which texts each calibration figure is on,
and give the same ECE and Brier score on the same texts: before calibration on the model,
after it on the calibrated model, on the negative/positive texts and on all of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, TINY_MODEL

from spacy_korsent.cli import main

LABEL_MAP = "0=negative,1=positive,n=neutral"


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """240 NSMC test reviews, every fourth relabelled neutral (the model knows two classes)."""
    _, *rows = (FIXTURES / "nsmc_test_2000.txt").read_text(encoding="utf-8").splitlines()
    lines = ["text\tlabel"]
    for n, row in enumerate(rows[:240]):
        _, text, label = row.split("\t")
        lines.append(f"{text}\t{'n' if n % 4 == 3 else label}")
    path = tmp_path_factory.mktemp("rated") / "rated.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def calibrate(path: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    argv = ["calibrate", "-q", "-m", str(TINY_MODEL), "-i", str(path), "-o", str(out), *extra]
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def evaluate(path: Path, model: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    argv = ["evaluate", "-q", str(path), "--model", str(model), "--json", "-", *extra]
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "-q"]) == 0
    return capsys.readouterr().out


def test_with_neutral_texts_both_give_both_figures_on_the_same_texts(
    rated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "calibrated"
    table = calibrate(rated, out, capsys, "--label-map", LABEL_MAP)
    report = json.loads((out / "calibration_report.json").read_text(encoding="utf-8"))
    measures = report["measures"]
    after = evaluate(rated, out, capsys, "--label-map", LABEL_MAP)
    before = evaluate(rated, TINY_MODEL, capsys, "--label-map", LABEL_MAP)

    classes = ["negative", "positive"]
    own = {"texts": 180, "classes": classes, "on": "on the 180 negative/positive texts"}
    every = {"texts": 240, "classes": None, "on": "on all 240 texts"}
    for name in ("ECE", "Brier score"):
        assert {k: measures[name][k] for k in own} == own
        assert {k: measures[f"{name} (all texts)"][k] for k in every} == every
    assert after["calibration_texts"] == every == before["calibration_texts"]
    assert {k: after["calibration_on_model_classes"][k] for k in own} == own
    for key, name in (("ece", "ECE"), ("brier", "Brier score")):
        for when, scores in (("before", before), ("after", after)):
            on_own = scores["calibration_on_model_classes"][key]
            assert measures[name][when] == pytest.approx(on_own, abs=1e-6), (name, when)
            assert measures[f"{name} (all texts)"][when] == pytest.approx(scores[key], abs=1e-6)

    assert f"{measures['ECE']['after']:.4f}  on the 180 negative/positive texts" in table
    assert f"{measures['ECE (all texts)']['after']:.4f}  on all 240 texts" in table
    text = printed(capsys, "evaluate", str(rated), "--model", str(out), "--label-map", LABEL_MAP)
    assert f"ECE             {after['ece']:.4f}  on all 240 texts" in text
    own_ece = after["calibration_on_model_classes"]["ece"]
    assert f"ECE             {own_ece:.4f}  on the 180 negative/positive texts" in text


def test_on_negative_positive_texts_both_give_one_figure_on_all_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, *rows = (FIXTURES / "nsmc_test_2000.txt").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "binary.tsv"
    path.write_text("id\ttext\tlabel\n" + "\n".join(rows[:150]) + "\n", encoding="utf-8")
    out = tmp_path / "calibrated"
    table = calibrate(path, out, capsys)
    measures = json.loads((out / "calibration_report.json").read_text())["measures"]
    scores = evaluate(path, out, capsys)
    assert "calibration_on_model_classes" not in scores
    assert scores["calibration_texts"]["on"] == measures["ECE"]["on"] == "on all 150 texts"
    assert measures["ECE"]["after"] == pytest.approx(scores["ece"], abs=1e-6)
    assert measures["Brier score"]["after"] == pytest.approx(scores["brier"], abs=1e-6)
    assert "ECE (all texts)" not in measures and "negative/positive texts" not in table
