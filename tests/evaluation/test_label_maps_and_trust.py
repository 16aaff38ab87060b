"""Issue 19: rated data as labels (ranges in --label-map), evaluation that shows how far the
probabilities can be trusted (ECE, Brier, reliability, three-way scores), and fine-tuning on 0/1
labels that keeps a negative/positive checkpoint's head."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_korsent.cli import main
from spacy_korsent.components.blank import blank_korean
from spacy_korsent.components.classifier import DocPrediction
from spacy_korsent.evaluation import evaluate_emotions, evaluate_sentiment
from spacy_korsent.evaluation.plot import report_figure
from spacy_korsent.files.labelled import LabelSet, parse_label_map, read_nsmc
from spacy_korsent.files.readers import InputError

TINY = FIXTURES / "nsmc-koelectra-tiny"
RATINGS = "1-4=negative,5-8=neutral,9-10=positive"


def korsent(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path: Path, rows: list[tuple[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def rated(path: Path, n: int = 30) -> Path:
    """NSMC reviews with ratings: 1-4 for negative, 9-10 for positive, 5-8 for every fifth."""
    data = read_nsmc(FIXTURES / "nsmc_train_600.txt")
    rows: list[tuple[str, object]] = []
    for i, (text, label) in enumerate(zip(data.texts[:n], data.labels[:n])):
        rating: object = (
            [5, 6.0, "7", 8][i % 4] if i % 5 == 0 else (9 + i % 2 if label else 1 + i % 4)
        )
        rows.append((text, rating))
    return write_csv(path, rows)


def head_weights(model_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    weights = load_file(model_dir / "model.safetensors")
    return {key: value for key, value in weights.items() if key.startswith("classifier.")}


# --- point 3: ranges in label maps ---------------------------------------------------------------


def test_ranges_map_ratings_inclusively_and_numbers_by_value() -> None:
    ratings = LabelSet(["negative", "neutral", "positive"], label_map=parse_label_map(RATINGS))
    assert [ratings.lookup(v) for v in ("1", "4", "4.0", "04", "5", "8.0", "9", "10")] == [
        0, 0, 0, 0, 1, 1, 2, 2,
    ]  # fmt: skip
    assert [ratings.lookup(v) for v in ("0", "8.5", "11", "negative", "four")] == [
        None, None, None, 0, None,
    ]  # fmt: skip
    halves = parse_label_map("0.5-2.5=negative,3-5=positive, pos = positive")
    assert [halves.lookup(v) for v in ("0.5", "2.5", "2.7", "3", "pos")] == [
        "negative", "negative", None, "positive", "positive",
    ]  # fmt: skip
    plain = parse_label_map("very-bad=negative,1=negative,5=positive")
    assert plain.lookup("very-bad") == "negative" and plain.lookup("5.0") == "positive"
    assert parse_label_map("1-2=negative,2-3=negative").lookup("2") == "negative"  # same class


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1-5=negative,5-8=neutral", "5-8=neutral and 1-5=negative overlap"),
        ("1-4=negative,4=positive", "4=positive and 1-4=negative overlap"),
        ("1=negative,1=positive", "1 is mapped to both negative and positive"),
        ("4-1=negative", "the range runs from high to low; write 1-4"),
        ("1-4", "write VALUE=CLASS pairs"),
    ],
)
def test_bad_label_maps_are_refused_clearly(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_label_map(spec)


def test_convert_maps_ratings_by_range_and_reports_values_outside_them(capsys, tmp_path) -> None:
    source = rated(tmp_path / "ratings.csv", 20)
    code, _, err = korsent(capsys, "convert", source, tmp_path / "r.spacy", "--label-map", RATINGS)
    assert code == 0 and "labels negative, neutral, positive" in err
    docs = list(DocBin().from_disk(tmp_path / "r.spacy").get_docs(blank_korean().vocab))
    ratings = [row[1] for row in csv.reader(source.open(encoding="utf-8"))][1:]
    expected = ["negative" if float(r) <= 4 else "neutral" if float(r) <= 8 else "positive"
                for r in ratings]  # fmt: skip
    assert [max(doc.cats, key=doc.cats.get) for doc in docs] == expected
    code, _, err = korsent(
        capsys, "convert", source, tmp_path / "x.spacy", "--label-map", "1-4=negative,9-10=positive"
    )
    assert code == 2 and "labels that are not one of the classes" in err and "'5' (line 2)" in err


def test_evaluate_scores_rated_reviews_three_ways(capsys, tmp_path) -> None:
    """A negative/positive model never answers neutral: its neutral F1 is 0, and macro-F1 is the
    mean over the three classes."""
    source = rated(tmp_path / "ratings.csv", 40)
    code, out, err = korsent(
        capsys, "evaluate", source, "-m", TINY, "--label-map", RATINGS, "--json", "-", "-q"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["labels"] == ["negative", "neutral", "positive"] and report["backend"] == "torch"
    per_class = report["per_class"]
    assert per_class["neutral"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 8}
    assert report["macro_f1"] == pytest.approx(np.mean([c["f1"] for c in per_class.values()]))
    confusion = np.array(report["confusion"])
    assert confusion.shape == (3, 3) and confusion[:, 1].sum() == 0 and confusion.sum() == 40
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 40)
    assert 0 <= report["ece"] <= 1 and 0 <= report["brier"] <= 2
    code, out, _ = korsent(capsys, "evaluate", source, "-m", TINY, "--label-map", RATINGS, "-q")
    assert code == 0
    for line in ("macro-F1", "ECE", "Brier score", "neutral   0.0000"):
        assert line in out


def test_a_three_class_model_is_scored_three_ways(capsys, tmp_path) -> None:
    from conftest import build_model_dir

    three = dict(enumerate(["negative", "neutral", "positive"]))
    model = build_model_dir(tmp_path / "three", arch="electra", num_labels=3, id2label=three)
    source = write_csv(tmp_path / "gold.csv", [("좋다", 1), ("싫다", 0), ("그냥", "neutral")])
    code, out, err = korsent(capsys, "evaluate", source, "--model", model, "--json", "-", "-q")
    assert code == 0, err
    report = json.loads(out)
    assert report["labels"] == ["negative", "neutral", "positive"] and report["backend"] == "torch"
    assert np.array(report["confusion"]).sum() == 3 and set(report["per_class"]) == set(
        three.values()
    )


# --- point 4: calibration in the reports ---------------------------------------------------------


def fixed_pipeline(probabilities: dict[str, list[float]]) -> Any:
    """korean_sentiment on the tiny model, answering the given p(negative), p(positive)."""
    nlp = blank_korean()
    component = nlp.add_pipe("korean_sentiment", config={"model": str(TINY)})
    component.initialize()
    component.predict = lambda docs: [  # type: ignore[method-assign]
        DocPrediction(np.array(probabilities[doc.text], dtype=np.float32), []) for doc in docs
    ]
    return nlp


def test_ece_and_brier_of_the_report_match_a_hand_computed_case() -> None:
    texts = {"a": [0.1, 0.9], "b": [0.1, 0.9], "c": [0.4, 0.6], "d": [0.8, 0.2]}
    gold = ["positive", "negative", "positive", "negative"]
    report = evaluate_sentiment(fixed_pipeline(texts), list(texts), gold)
    # Top-class confidences 0.9, 0.9 (one right), 0.6 (right), 0.8 (right); 15 bins of 1/15:
    # 0.9 falls in bin 13, 0.6 in bin 9, 0.8 in bin 12.
    # ECE = 2/4 |0.9 - 0.5| + 1/4 |0.6 - 1| + 1/4 |0.8 - 1| = 0.2 + 0.1 + 0.05 = 0.35
    assert report.calibration is not None
    assert report.calibration.ece == pytest.approx(0.35, abs=1e-6)
    # Brier (summed over the two classes): 2*0.01, 2*0.81, 2*0.16, 2*0.04 -> mean 0.51
    assert report.calibration.brier == pytest.approx(0.51, abs=1e-6)
    bins = {b.low: b for b in report.calibration.reliability if b.size}
    assert [(round(low * 15), b.size, b.accuracy) for low, b in bins.items()] == [
        (9, 1, 1.0), (12, 1, 1.0), (13, 2, 0.5),
    ]  # fmt: skip
    assert report.accuracy == 0.75
    data = report.to_dict()
    assert data["ece"] == pytest.approx(0.35) and data["brier"] == pytest.approx(0.51)
    assert data["reliability"][13] == {
        "low": pytest.approx(13 / 15), "high": pytest.approx(14 / 15), "size": 2,
        "confidence": pytest.approx(0.9), "accuracy": 0.5,
    }  # fmt: skip
    assert json.loads(json.dumps(data)) == data


def test_multi_label_reports_calibrate_every_text_label_pair() -> None:
    from spacy_korsent.metrics import brier_score, expected_calibration_error

    nlp = blank_korean()
    nlp.add_pipe("korean_emotion", config={"model": str(FIXTURES / "kote-koelectra-tiny")})

    rows = [line.split("\t") for line in (FIXTURES / "kote_test_300.tsv").read_text().splitlines()]
    texts, gold = [r[1] for r in rows[:40]], [r[2].split(",") for r in rows[:40]]
    report = evaluate_emotions(nlp, texts, gold)
    names = list(nlp.get_pipe("korean_emotion").labels)
    probs = np.array([[doc.cats[name] for name in names] for doc in nlp.pipe(texts)])
    truth = np.zeros(probs.shape)
    for row, labels in enumerate(gold):
        truth[row, [int(label) for label in labels]] = 1
    assert report.calibration is not None
    assert report.calibration.ece == pytest.approx(
        expected_calibration_error(probs.ravel(), truth.ravel()), abs=1e-6
    )
    assert report.calibration.brier == pytest.approx(
        brier_score(probs, truth, multi_label=True), abs=1e-6
    )
    assert sum(b.size for b in report.calibration.reliability) == probs.size


def test_the_plot_draws_the_reliability_diagram_beside_the_matrix(capsys, tmp_path) -> None:
    texts = {"a": [0.1, 0.9], "b": [0.1, 0.9], "c": [0.4, 0.6], "d": [0.8, 0.2]}
    report = evaluate_sentiment(fixed_pipeline(texts), list(texts), [1, 0, 1, 0])
    figure = report_figure(report, "four texts")
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[0].startswith("four texts\nsentiment confusion matrix")
    diagram = next(axes for axes in figure.axes if axes.get_title().startswith("reliability"))
    assert "ECE 0.3500, Brier 0.5100" in diagram.get_title()
    assert sorted(round(bar.get_height(), 2) for bar in diagram.patches) == [0.5, 1.0, 1.0]
    png = tmp_path / "plot.png"
    code, _, err = korsent(
        capsys, "evaluate", FIXTURES / "nsmc_test_2000.txt", "-m", TINY, "--plot", png, "-q"
    )
    assert code == 0 and "the confusion matrix and the reliability diagram" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- point 5: 0/1 labels keep a negative/positive checkpoint's head ------------------------------


def nsmc_rows(n: int) -> list[tuple[str, object]]:
    data = read_nsmc(FIXTURES / "nsmc_train_600.txt")
    return list(zip(data.texts[:n], data.labels[:n]))


def test_train_on_0_1_labels_keeps_the_checkpoints_head(capsys, tmp_path) -> None:
    source = write_csv(tmp_path / "train.csv", nsmc_rows(40))
    out_dir = tmp_path / "model"
    code, out, err = korsent(
        capsys, "train", source, "--model", TINY, "-o", out_dir, "--epochs", "1",
        "--lr", "0", "--threads", "1", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert "the labels 0, 1 are read as negative, positive" in err
    assert "with its classification head (negative, positive)" in err
    config = json.loads((out_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    start, now = head_weights(TINY), head_weights(out_dir)
    assert start and all(np.array_equal(start[key], now[key]) for key in start)


def test_train_says_when_it_replaces_the_head(capsys, tmp_path) -> None:
    source = rated(tmp_path / "ratings.csv", 30)
    out_dir = tmp_path / "model"
    code, out, err = korsent(
        capsys, "train", source, "--model", TINY, "-o", out_dir, "--epochs", "1",
        "--label-map", RATINGS, "--threads", "1", "-q",
    )  # fmt: skip
    assert code == 0, err
    replaced = [line for line in err.splitlines() if "replacing the classification head" in line]
    assert replaced == [
        f"replacing the classification head of {TINY} (classes negative, positive) with a new, "
        "untrained one for negative, neutral, positive"
    ]
    config = json.loads((out_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}


@pytest.mark.parametrize("spelling", [("0", "1"), ("LABEL_0", "LABEL_1")])
def test_spacy_train_reads_gold_0_1_as_the_checkpoints_classes(spelling, caplog) -> None:
    from spacy_korsent.components.model import get_module

    nlp = blank_korean()
    component = nlp.add_pipe("korean_sentiment", config={"model": str(TINY)})
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {spelling[0]: 1.0 - y, spelling[1]: y}})
        for text, y in nsmc_rows(8)
    ]
    with caplog.at_level(logging.INFO, logger="spacy"):
        nlp.initialize(lambda: examples)
    assert f"the gold labels {', '.join(spelling)} are read as negative, positive" in caplog.text
    assert "keeping its head" in caplog.text and component.labels == ("negative", "positive")
    now = get_module(component.model).state_dict()
    assert all(np.array_equal(w, now[key].numpy()) for key, w in head_weights(TINY).items())
    truth, known = component.gold(examples)
    assert known.all() and truth[:, 1].tolist() == [float(y) for _, y in nsmc_rows(8)]
    assert component.update(examples, sgd=nlp.create_optimizer())["korean_sentiment"] > 0
    scores = nlp.evaluate(examples)
    assert set(scores["sentiment_f_per_type"]) == {"negative", "positive"}


def test_convert_writes_0_1_so_that_spacy_train_keeps_the_head(capsys, tmp_path) -> None:
    source = write_csv(tmp_path / "train.csv", nsmc_rows(12))
    code, _, err = korsent(capsys, "convert", source, tmp_path / "train.spacy")
    assert code == 0 and "korean_sentiment reads them as negative/positive" in err
    nlp = blank_korean()
    component = nlp.add_pipe("korean_sentiment", config={"model": str(TINY)})
    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(nlp.vocab))
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in docs]
    nlp.initialize(lambda: examples)
    assert component.labels == ("negative", "positive")
    from spacy_korsent.components.model import get_module

    now = get_module(component.model).state_dict()
    assert all(np.array_equal(w, now[key].numpy()) for key, w in head_weights(TINY).items())
