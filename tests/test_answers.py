"""One answer shape per kind (spacy_korsent.answers): what the components give is what the
kind says, and the page and the report read a neutral band's answer (score None) as such."""

from __future__ import annotations

import json

import pytest
from conftest import TINY_MODEL

from spacy_korsent import blank_korean, render
from spacy_korsent.answers import AnswerKind, emotion_kind, sentiment_kind, written_kind
from spacy_korsent.files.readers import InputError, Record
from spacy_korsent.report.aggregate import Corpus
from spacy_korsent.report.columns import find_columns

NEUTRAL = {"label": "neutral", "score": None, "scores": {"negative": 0.67, "positive": 0.33}}


def test_each_kind_has_its_name_and_labels():
    assert sentiment_kind(["negative", "positive"]).name == "two-class"
    band = sentiment_kind(["negative", "positive"], band=True)
    assert band.name == "neutral band" and band.decision_labels[-1] == "neutral"
    assert sentiment_kind(["bad", "good"], band=True).band is False  # a band is on p(positive)
    assert sentiment_kind(["negative", "neutral", "positive"]).name == "n-class"
    assert emotion_kind(["a", "b"]).name == "single-label"
    assert emotion_kind(["a", "b"], multi_label=True).name == "multi-label"


@pytest.mark.parametrize(
    "kind, answer, problem",
    [
        (sentiment_kind(["negative", "positive"]), NEUTRAL, "label 'neutral'"),
        (sentiment_kind(["negative", "positive"], band=True), {**NEUTRAL, "score": 0.5}, "score"),
        (
            sentiment_kind(["negative", "neutral", "positive"]),
            {"label": "neutral", "score": None, "scores": {}},
            "score None",
        ),
        (emotion_kind(["a", "b"]), {**emotion_kind(["a"]).empty(), "labels": ["a"]}, "labels"),
    ],
)
def test_an_answer_of_another_shape_is_refused(kind: AnswerKind, answer, problem):
    with pytest.raises(ValueError, match=problem):
        kind.check(answer)


def test_the_band_answer_and_every_empty_answer_have_their_kind_shape():
    sentiment_kind(["negative", "positive"], band=True).check(NEUTRAL)
    for kind in (sentiment_kind(["negative", "positive"]), emotion_kind(["a"], multi_label=True)):
        kind.check(kind.empty())


def test_the_page_shows_a_neutral_answer_by_what_put_it_in_the_band():
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(TINY_MODEL), "neutral_band": [0.0, 1.0]})
    doc = nlp("평범한 영화")
    assert doc._.sentiment["label"] == "neutral" and doc._.sentiment["score"] is None
    html = render(doc, jupyter=False)
    assert "p(positive) 0.33" in html and "in the neutral band; shaded towards negative" in html


def record(line: int, **row):
    return Record(line, {"text": "평범한 영화", **row})


def test_the_report_counts_the_band_answer_without_a_score_and_refuses_a_missing_one():
    scored = {"sentiment_negative": 0.6, "sentiment_positive": 0.4}
    rows = [
        record(1, sentiment="neutral", sentiment_score="", **scored),
        record(2, sentiment="negative", sentiment_score=0.6, **scored),
    ]
    columns = find_columns(rows[0].row, "out.csv", text="text")
    assert columns.answer_kind("sentiment") == written_kind("sentiment", ("negative", "positive"))
    corpus = Corpus(columns, "out.csv").add_all(rows)
    stats = corpus.tasks["sentiment"]
    assert stats.labels == {"neutral": 1, "negative": 1}
    assert stats.unscored == {"neutral": 1} and list(stats.histograms) == ["negative"]
    with pytest.raises(InputError, match="out.csv:3: sentiment_score is None"):
        corpus.add(record(3, sentiment="negative", sentiment_score=None, **scored))
    three = {**scored, "sentiment_neutral": 0.0}  # a trained neutral class has a probability
    corpus = Corpus(
        find_columns(
            {"text": "", "sentiment": "", "sentiment_score": "", **three}, "x", text="text"
        ),
        "x",
    )
    with pytest.raises(InputError, match="x:1: sentiment_score is ''"):
        corpus.add(record(1, sentiment="neutral", sentiment_score="", **three))
    assert json.dumps(NEUTRAL)  # plain data
