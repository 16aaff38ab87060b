"""Fitted values travel with the model: a neutral answer, a temperature and per-label thresholds
from settings or a model directory's calibration.json, through saving, DocBin, worker processes
and the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import spacy
from conftest import FIXTURES
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_korsent import blank_korean
from spacy_korsent.calibration import CALIBRATION_FILE, Calibration, NeutralBand
from spacy_korsent.evaluation import evaluate_emotions

NSMC_MODEL = FIXTURES / "nsmc-koelectra-tiny"
KOTE_MODEL = FIXTURES / "kote-koelectra-tiny"
# p(positive) by the NSMC test model: 0.989, 0.036, 0.13, 0.33, 0.171, 0.885
TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "그냥 그랬다",
    "볼만은 한데 좀 지루했다",
    "평범한 영화",
    "배우는 좋았는데 스토리가 아쉽다",
    "나쁘지 않았어요",
]
BAND = [0.1, 0.5]
EXPECTED = ["positive", "negative", "neutral", "neutral", "neutral", "positive"]


def sentiment(**settings):
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(NSMC_MODEL), **settings})
    return nlp


def results(docs):
    return [(doc._.sentiment, doc.cats) for doc in docs]


@pytest.fixture(scope="module")
def banded(tmp_path_factory):
    """A copy of the NSMC test model whose calibration.json holds a band and a temperature."""
    path = shutil.copytree(NSMC_MODEL, tmp_path_factory.mktemp("m") / "model")
    Calibration(temperature=1.0, neutral_band=NeutralBand(*BAND)).write(path)
    return path


def test_a_configured_band_answers_neutral_and_keeps_the_model_probabilities():
    plain = list(sentiment().pipe(TEXTS))
    docs = list(sentiment(neutral_band=BAND).pipe(TEXTS))
    assert [doc._.sentiment["label"] for doc in docs] == EXPECTED
    for doc, before in zip(docs, plain):
        assert doc._.sentiment["scores"] == before._.sentiment["scores"]
        neutral = doc._.sentiment["label"] == "neutral"
        assert doc._.sentiment["score"] is None if neutral else doc._.sentiment["score"] > 0.5
        assert doc.cats["neutral"] == float(neutral)
        assert max(doc.cats, key=doc.cats.__getitem__) == doc._.sentiment["label"]


def test_explanations_run_with_a_band_and_a_temperature():
    docs = list(sentiment(neutral_band=BAND, temperature=1.2, explain=True).pipe(TEXTS[:4]))
    assert [doc._.sentiment["label"] for doc in docs] == EXPECTED[:4]
    assert all(len(doc._.sentiment_attribution) == len(doc) for doc in docs)


def test_the_model_directory_calibration_applies_and_settings_win(banded):
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(banded)})
    assert [doc._.sentiment["label"] for doc in nlp.pipe(TEXTS)] == EXPECTED
    off = blank_korean()
    off.add_pipe("korean_sentiment", config={"model": str(banded), "neutral_band": []})
    assert "neutral" not in [doc._.sentiment["label"] for doc in off.pipe(TEXTS)]
    other = blank_korean()
    other.add_pipe("korean_sentiment", config={"model": str(banded), "neutral_band": [0.0, 0.5]})
    assert [doc._.sentiment["label"] for doc in other.pipe(TEXTS)][1:4] == ["neutral"] * 3


def test_a_temperature_softens_scores_and_cats_alike():
    plain = list(sentiment().pipe(TEXTS[:2]))
    soft = list(sentiment(temperature=3.0).pipe(TEXTS[:2]))
    for before, after in zip(plain, soft):
        assert after._.sentiment["label"] == before._.sentiment["label"]
        assert 0.5 < after._.sentiment["score"] < before._.sentiment["score"]
        assert after.cats["positive"] == pytest.approx(after._.sentiment["scores"]["positive"])


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"neutral_band": [0.6, 0.9]}, "0 <= low <= 0.5 <= high"),
        ({"neutral_band": [0.2]}, "neutral_band must be"),
        ({"temperature": 0.0}, "temperature must be a number"),
    ],
)
def test_values_that_cannot_work_are_refused_before_the_model_loads(settings, message):
    with pytest.raises(ValueError, match=message):
        sentiment(**settings)


def test_a_bad_calibration_file_is_refused_with_its_path(tmp_path):
    path = shutil.copytree(NSMC_MODEL, tmp_path / "m")
    (path / CALIBRATION_FILE).write_text('{"temprature": 1.2}', encoding="utf-8")
    with pytest.raises(ValueError, match="calibration.json: unknown keys"):
        blank_korean().add_pipe("korean_sentiment", config={"model": str(path)}).initialize()


def test_saving_loading_and_bytes_keep_the_band(banded, tmp_path):
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(banded)})
    before = results(nlp.pipe(TEXTS))
    nlp.to_disk(tmp_path / "pipeline")
    assert (tmp_path / "pipeline" / "korean_sentiment" / "model" / CALIBRATION_FILE).is_file()
    assert results(spacy.load(tmp_path / "pipeline").pipe(TEXTS)) == before
    fresh = blank_korean()
    fresh.add_pipe("korean_sentiment", config={"model": "/gone"})
    fresh.from_bytes(nlp.to_bytes())
    assert results(fresh.pipe(TEXTS)) == before
    docs = list(nlp.pipe(TEXTS))
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    assert results(DocBin().from_bytes(data).get_docs(nlp.vocab)) == before


@pytest.mark.slow
def test_two_worker_processes_answer_neutral_too(banded):
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(banded)})
    nlp("워밍업")
    labels = [doc._.sentiment["label"] for doc in nlp.pipe(TEXTS, n_process=2, batch_size=2)]
    assert labels == EXPECTED


def test_the_scorer_scores_three_ways_with_a_band():
    nlp = sentiment(neutral_band=BAND)
    gold = ["positive", "negative", "neutral", "neutral", "positive", "positive"]
    examples = []
    for text, label in zip(TEXTS, gold):
        reference = nlp.make_doc(text)
        names = ("negative", "neutral", "positive")
        reference.cats = {name: float(name == label) for name in names}
        examples.append(Example(nlp.make_doc(text), reference))
    scores = nlp.evaluate(examples)
    assert set(scores["sentiment_f_per_type"]) == {"negative", "neutral", "positive"}
    # 5 of 6 right: neutral P 2/3 R 1; positive P 1 R 2/3; negative P 1 R 1
    assert scores["sentiment_f_per_type"]["neutral"]["f"] == pytest.approx(0.8)
    assert scores["sentiment_score"] == pytest.approx((0.8 + 0.8 + 1.0) / 3)


def test_per_label_thresholds_decide_labels_and_scores(tmp_path):
    nlp = blank_korean()
    nlp.add_pipe(
        "korean_emotion", config={"model": str(KOTE_MODEL), "thresholds": {}, "threshold": 0.5}
    )
    text = "진짜 어이없고 짜증나네 돈이 아깝다"
    scores = dict(nlp(text).cats)
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    # The 3rd label gets a cut just under its score, every other label one above its own.
    cuts = {label: min(scores[label] + 0.01, 1.0) for label in ranked}
    cuts[ranked[2]] = scores[ranked[2]] - 0.001
    tuned = blank_korean()
    tuned.add_pipe("korean_emotion", config={"model": str(KOTE_MODEL), "thresholds": cuts})
    doc = tuned(text)
    assert doc._.emotions["labels"] == [ranked[2]]
    reference = tuned.make_doc(text)
    reference.cats = {label: float(label == ranked[2]) for label in scores}
    result = tuned.evaluate([Example(tuned.make_doc(text), reference)])
    assert result["emotion_micro_f"] == 1.0
    with pytest.raises(ValueError, match="labels the model"):
        bad = blank_korean()
        bad.add_pipe("korean_emotion", config={"model": str(KOTE_MODEL), "thresholds": {"x": 1}})
        bad.initialize()


def test_thresholds_on_a_sentiment_model_are_refused(tmp_path):
    path = shutil.copytree(NSMC_MODEL, tmp_path / "m")
    (path / CALIBRATION_FILE).write_text('{"thresholds": {"positive": 0.3}}', encoding="utf-8")
    with pytest.raises(ValueError, match="thresholds apply to multi-label emotion models"):
        blank_korean().add_pipe("korean_sentiment", config={"model": str(path)}).initialize()


def test_the_kote_test_model_beats_the_frequency_baseline_at_its_saved_thresholds():
    import numpy as np

    from spacy_korsent.metrics import multilabel_scores

    nlp = blank_korean()
    component = nlp.add_pipe("korean_emotion", config={"model": str(KOTE_MODEL)})
    assert component.calibration.thresholds  # committed by korsent calibrate
    labels = list(component.labels)
    lines = (FIXTURES / "kote_test_300.tsv").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines]
    gold = np.zeros((len(rows), len(labels)), dtype=bool)
    for i, (_, _, cell) in enumerate(rows):
        gold[i, [int(v) for v in cell.split(",")]] = True
    predicted = np.zeros_like(gold)
    for i, doc in enumerate(nlp.pipe([text for _, text, _ in rows])):
        predicted[i, [labels.index(label) for label in doc._.emotions["labels"]]] = True
    recorded = json.loads((KOTE_MODEL / "metrics.json").read_text())
    baseline = recorded["baseline_8_most_frequent"]["micro_f1"]
    micro_f1 = multilabel_scores(gold, predicted, labels)["micro_f1"]
    assert micro_f1 > baseline + 0.05
    # evaluation scores the labels the component gives, at the same saved thresholds
    texts = [text for _, text, _ in rows]
    golds = [[labels[int(v)] for v in cell.split(",")] for _, _, cell in rows]
    report = evaluate_emotions(nlp, texts, golds)
    assert report.thresholds == component.label_thresholds
    assert report.micro_f1 == pytest.approx(micro_f1)
    assert evaluate_emotions(nlp, texts, golds, threshold=0.5).thresholds is None


def korsent(*args):
    return subprocess.run(
        [sys.executable, "-m", "spacy_korsent", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


RATED = [  # a rating of 1-10 per review, as the Naver crawl has them
    ("이 영화 정말 재미있어요! 배우들 연기도 최고!", 10),
    ("완전 별로... 시간 낭비했다.", 1),
    ("그냥 그랬다", 6),
    ("볼만은 한데 좀 지루했다", 5),
    ("평범한 영화", 6),
    ("최악의 영화", 2),
    ("배우는 좋았는데 스토리가 아쉽다", 7),
    ("나쁘지 않았어요", 9),
    ("진짜 감동적이었다 추천", 10),
    ("돈 아깝다", 1),
]
RATINGS = ",".join(
    f"{r}={'negative' if r <= 4 else 'neutral' if r <= 8 else 'positive'}" for r in range(1, 11)
)


@pytest.mark.slow
def test_calibrate_writes_a_model_directory_that_every_command_applies(tmp_path):
    data = tmp_path / "rated.tsv"
    data.write_text("review\tstars\n" + "".join(f"{t}\t{r}\n" for t, r in RATED), encoding="utf-8")
    out = tmp_path / "calibrated"
    read = ["--text-column", "review", "--label-column", "stars", "--label-map", RATINGS]
    done = korsent("calibrate", "-m", NSMC_MODEL, "-i", data, *read, "-o", out, "-q")
    assert done.returncode == 0, done.stderr
    assert "three-way macro-F1" in done.stdout
    saved = json.loads((out / CALIBRATION_FILE).read_text())
    assert set(saved) == {"temperature", "neutral_band"}
    report = json.loads((out / "calibration_report.json").read_text())
    assert report["backend"] == "torch"  # what gave the probabilities fitted
    measures = report["measures"]["three-way macro-F1"]
    assert measures["after"] > measures["before"]
    assert (out / "model.safetensors").is_file() and (out / "metrics.json").is_file()
    analysed = korsent("analyze", "-t", "sentiment", "--sentiment-model", out, "평범한 영화")
    assert analysed.returncode == 0, analysed.stderr
    row = json.loads(analysed.stdout)
    low, high = saved["neutral_band"]
    p = row["sentiment_positive"]
    assert row["sentiment"] == ("neutral" if low <= p < high else row["sentiment"])
    assert "sentiment_neutral" not in row  # not a label of the model
    again = korsent("calibrate", "-m", NSMC_MODEL, "-i", data, *read, "-o", out, "-q")
    assert again.returncode == 2 and "add --overwrite" in again.stderr
    unknown = korsent("calibrate", "-m", NSMC_MODEL, "-i", data, *read[:4], "-o", tmp_path / "x")
    assert unknown.returncode == 2
    assert unknown.stderr.count("\n") == 1 and "--label-map" in unknown.stderr


@pytest.mark.slow
def test_calibrate_keeps_a_saved_pipeline_a_saved_pipeline(tmp_path):
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(NSMC_MODEL)})
    nlp.to_disk(tmp_path / "pipeline")
    data = tmp_path / "rated.jsonl"
    data.write_text(
        "".join(json.dumps({"text": t, "label": r}) + "\n" for t, r in RATED), encoding="utf-8"
    )
    out = tmp_path / "calibrated"
    done = korsent(
        "calibrate", "-m", tmp_path / "pipeline", "-i", data, "--label-map", RATINGS, "-o", out
    )
    assert done.returncode == 0, done.stderr
    loaded = spacy.load(out)
    fitted = json.loads((out / "korean_sentiment" / "model" / CALIBRATION_FILE).read_text())
    block = loaded.config["components"]["korean_sentiment"]
    assert block["neutral_band"] == fitted["neutral_band"]
    assert loaded.get_pipe("korean_sentiment").calibration.to_dict() == fitted
