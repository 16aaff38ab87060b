"""spacy_korsent.evaluation from Python: typed reports, their JSON keys, plots, ValueErrors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES

from spacy_korsent.components.blank import blank_korean
from spacy_korsent.evaluation import (
    EmotionReport,
    MultiLabelReport,
    SentimentReport,
    evaluate_emotions,
    evaluate_sentiment,
)
from spacy_korsent.evaluation.plot import report_figure
from spacy_korsent.files.labelled import read_nsmc
from spacy_korsent.taxonomy import EMOTIONS, GROUP_NAMES, LABELS


def pipeline(factory: str, model: Path) -> Any:
    nlp = blank_korean()
    nlp.add_pipe(factory, config={"model": str(model)})
    return nlp


@pytest.fixture(scope="module")
def nsmc() -> Any:
    return read_nsmc(FIXTURES / "nsmc_test_2000.txt")


def test_sentiment_report_from_python_matches_the_predictions(sentiment_model_dir, nsmc) -> None:
    nlp = pipeline("korean_sentiment", sentiment_model_dir)
    texts, gold = nsmc.texts[:60], nsmc.labels[:60]
    # Labels as a file has them: names, NSMC's 0/1, and integers.
    labels = [["negative", "positive"][g] if i % 3 == 0 else (str(g) if i % 3 else g)
              for i, g in enumerate(gold)]  # fmt: skip
    seen: list[int] = []
    report = evaluate_sentiment(nlp, texts, labels, batch_size=16, progress=seen.append)

    pred = [int(doc._.sentiment["label"] == "positive") for doc in nlp.pipe(texts)]
    pairs = list(zip(gold, pred))
    tp, tn, fp, fn = (pairs.count(pair) for pair in ((1, 1), (0, 0), (0, 1), (1, 0)))
    assert isinstance(report, SentimentReport)
    assert report.accuracy == pytest.approx((tp + tn) / 60)
    assert report.confusion == [[tn, fp], [fn, tp]]
    assert report.precision == pytest.approx(tp / (tp + fp) if tp + fp else 0.0)
    assert report.speed.documents == 60 == sum(seen) and report.speed.unscored == 0
    assert report.model == str(sentiment_model_dir)
    matrix, names = report.table
    assert matrix.tolist() == report.confusion and names == ["negative", "positive"]
    data = report.to_dict()
    assert list(data)[:2] == ["task", "model"] and data["task"] == "sentiment"
    assert data["docs_per_second"] == pytest.approx(60 / data["seconds"])
    assert json.loads(json.dumps(data)) == data


def test_emotion_reports_single_label_with_groups_and_label_sets(emotion_model_dir) -> None:
    nlp = pipeline("korean_emotion", emotion_model_dir)
    texts = ["오늘 너무 기뻐요", "정말 화가 난다", "그냥 그래요", "슬퍼서 눈물이 나요"]
    gold = [0, 17, 33, 59]
    labels = [LABELS[0], EMOTIONS[17].gloss, 33, "59"]  # a name, a gloss, an index, its text

    report = evaluate_emotions(nlp, texts, labels)
    assert isinstance(report, EmotionReport)
    docs = list(nlp.pipe(texts))
    predicted = [LABELS.index(doc._.emotions["label"]) for doc in docs]
    assert report.accuracy == pytest.approx(np.mean([g == p for g, p in zip(gold, predicted)]))
    groups = [GROUP_NAMES.index(doc._.emotions["group"]) for doc in docs]
    assert report.group_accuracy == pytest.approx(
        np.mean([g // 10 == p for g, p in zip(gold, groups)])
    )
    assert np.array(report.group_confusion).sum() == 4 and report.groups == list(GROUP_NAMES)
    assert "confusion" not in report.to_dict() and "group_confusion" in report.to_dict()
    assert report.heading == "confusion matrix of the six emotion groups"

    several = evaluate_emotions(nlp, texts, [[0, 1], [17], [33, "34"], [59]])
    assert isinstance(several, MultiLabelReport)
    assert several.threshold is None  # a single-label model: its top label counts
    assert set(several.per_label) == set(LABELS)
    assert sum(scores.support for scores in several.per_label.values()) == 6
    assert several.to_dict()["threshold"] is None and several.table is None


def test_reports_draw(sentiment_model_dir, emotion_model_dir) -> None:
    sentiment = evaluate_sentiment(
        pipeline("korean_sentiment", sentiment_model_dir), ["좋다", "싫다"], [1, 0]
    )
    figure = report_figure(sentiment, "two texts")
    assert figure.axes[0].get_title().startswith("two texts\nsentiment confusion matrix: accuracy")
    nlp = pipeline("korean_emotion", emotion_model_dir)
    sets = evaluate_emotions(nlp, ["좋다", "싫다"], [[0, 1], [2]])
    figure = report_figure(sets, "two texts", warn=lambda message: None)
    assert "micro-F1" in figure.axes[0].get_title()


@pytest.mark.parametrize(
    "texts, labels, options, message",
    [
        (["좋다", "싫다"], [1], {}, "2 texts but 1 labels"),
        ([], [], {}, "no texts to evaluate"),
        ("좋다", "1", {}, "as sequences, not single strings"),
        (
            ["좋다"],
            ["5"],
            {},
            "not one of the classes ['negative', 'neutral', 'positive']: '5' (line 1)",
        ),
        (["좋다"], [["0", "1"]], {}, "2 labels (0, 1) where one is expected"),
        (["좋다"], [None], {}, "a label must be a string, an integer or a list"),
        ([7], ["1"], {}, "the texts must be strings, not int"),
        (["좋다"], ["1"], {"pipe": "sentiment"}, "has no pipe 'sentiment'"),
    ],
)
def test_bad_sentiment_input_is_a_value_error(
    sentiment_model_dir, texts, labels, options, message
) -> None:
    nlp = pipeline("korean_sentiment", sentiment_model_dir)
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate_sentiment(nlp, texts, labels, **options)


def test_bad_emotion_input_is_a_value_error(sentiment_model_dir, emotion_model_dir) -> None:
    nlp = pipeline("korean_emotion", emotion_model_dir)
    with pytest.raises(ValueError, match="is single-label"):
        evaluate_emotions(nlp, ["좋다"], ["기쁨"], threshold=0.3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        evaluate_emotions(nlp, ["좋다"], ["기쁨"], threshold=1.5)
    with pytest.raises(ValueError, match="'행복'"):
        evaluate_emotions(nlp, ["좋다"], ["행복"])
    sentiment_only = pipeline("korean_sentiment", sentiment_model_dir)
    with pytest.raises(ValueError, match=r"no korean_emotion component .* nlp.add_pipe"):
        evaluate_emotions(sentiment_only, ["좋다"], ["기쁨"])
