"""What ``spacy evaluate`` prints for a pipeline with the components.

spaCy 3.8's ``evaluate`` prints a fixed list of keys (TOK, TAG, ..., TEXTCAT from ``cats_score``,
SPEED) and per-label tables from ``cats_f_per_type`` and ``cats_auc_per_type``; a component's own
keys (``sentiment_*``) only reach ``--output``. The scorer's ``textcat_keys`` puts the scores
under the textcat keys as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES
from spacy.cli.evaluate import evaluate
from spacy.tokens import DocBin

import spacy_korsent

MODEL = str(FIXTURES / "nsmc-koelectra-tiny")
GOLD = [("정말 재밌어요 최고", "positive"), ("시간 낭비 최악", "negative"),
        ("또 보고 싶다", "positive"), ("돈이 아깝다", "negative")]  # fmt: skip


def saved_pipeline(path: Path, scorer: dict) -> tuple[Path, Path]:
    nlp = spacy_korsent.blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": MODEL, "scorer": scorer})
    nlp.initialize()
    nlp.to_disk(path / "pipeline")
    docs = DocBin()
    for text, label in GOLD:
        doc = nlp.make_doc(text)
        doc.cats = {"positive": float(label == "positive"), "negative": float(label == "negative")}
        docs.add(doc)
    docs.to_disk(path / "dev.spacy")
    return path / "pipeline", path / "dev.spacy"


def test_spacy_evaluate_prints_the_sentiment_scores_with_textcat_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scorer = {"@scorers": "spacy_korsent.sentiment_scorer.v1", "textcat_keys": True}
    pipeline, dev = saved_pipeline(tmp_path, scorer)
    scores = evaluate(str(pipeline), dev, silent=False)
    out = capsys.readouterr().out
    assert "TEXTCAT (F (positive))" in out and "Textcat F" in out and "ROC AUC" in out
    assert scores["cats_score"] == scores["sentiment_score"]
    assert f"{scores['sentiment_score'] * 100:.2f}" in out
    for label in ("positive", "negative"):
        assert label in out.split("Textcat F")[1]


def test_without_textcat_keys_spacy_evaluate_prints_only_tokens_and_speed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline, dev = saved_pipeline(tmp_path, {"@scorers": "spacy_korsent.sentiment_scorer.v1"})
    scores = evaluate(str(pipeline), dev, silent=False)
    out = capsys.readouterr().out
    assert "TOK" in out and "SPEED" in out and "TEXTCAT" not in out
    assert "sentiment_score" in scores and "cats_score" not in scores
