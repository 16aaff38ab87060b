"""The explanation page: escaped, self-contained, sentences shown; ``korsent analyze --html``."""

from __future__ import annotations

import json
import re
import sys
import types
from html import escape
from pathlib import Path

import pytest
from conftest import FIXTURES

import spacy_korsent
from spacy_korsent.cli import build_parser, main

MODEL = str(FIXTURES / "nsmc-koelectra-tiny")
HOSTILE = '<script>alert("x")</script> 이 영화 <b>최고</b> & "따옴표"'


@pytest.fixture(scope="module")
def nlp():
    nlp = spacy_korsent.blank_korean()
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("korean_sentiment", config={"model": MODEL, "sentences": True, "explain": True})
    return nlp


def shaded(html: str) -> list[float]:
    return [float(v) for v in re.findall(r'class="korsent-tok" data-attribution="([^"]+)"', html)]


def test_text_and_labels_are_escaped(make_nlp):
    nlp = make_nlp(
        ("korean_sentiment", {"model": MODEL, "explain": True, "labels": ["<i>neg", "pos&co"]})
    )
    doc = nlp(HOSTILE)
    html = spacy_korsent.render(doc, title="<title> & co")
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    text = re.sub(r"<[^>]+>", "", html.split("<body")[1])  # the page's text, tags removed
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; 이 영화 &lt;b&gt;최고" in text
    assert escape(doc._.sentiment["label"]) in html
    assert "<title>&lt;title&gt; &amp; co</title>" in html


def test_page_is_self_contained(nlp):
    html = spacy_korsent.render(nlp("정말 재밌어요"))
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert not re.search(r"(src|href)=|@import|url\(|<script|<link", html)
    assert "Noto Sans CJK KR" in html  # a Korean font stack


def test_every_token_is_shaded_with_its_attribution(nlp):
    docs = list(nlp.pipe(["스토리는 지루했지만 배우들 연기는 최고였다", "", "시간 낭비"]))
    html = spacy_korsent.render(docs)
    expected = [v for doc in docs for v in doc._.sentiment_attribution or ()]
    assert shaded(html) == pytest.approx(expected, rel=1e-5)
    assert html.count('<article class="korsent-doc">') == 3
    assert "positive" in html and "no text" in html  # the labels, and the doc without text


def test_sentence_labels_and_sentence_level_shading(nlp):
    doc = nlp("스토리는 지루했다. 그래도 배우들 연기는 최고였다!")
    sentences = list(doc.sents)
    html = spacy_korsent.render(doc)
    badges = re.findall(r'class="korsent-sent-label">(.*?)</span></span>', html)
    assert len(badges) == len(sentences) == 2
    for badge, sent in zip(badges, sentences):
        assert sent._.sentiment["label"] in badge
    by_sentence = spacy_korsent.render(doc, level="sentence")
    expected = [v for sent in sentences for v in sent._.sentiment_attribution]
    assert shaded(by_sentence) == pytest.approx(expected, rel=1e-5)
    assert shaded(html) == pytest.approx(doc._.sentiment_attribution, rel=1e-5)


def test_docs_without_attributions_are_shown_unshaded(make_nlp):
    plain = make_nlp(("korean_sentiment", {"model": MODEL}))
    html = spacy_korsent.render(plain("정말 재밌어요"))
    assert shaded(html) == [] and "정말 재밌어요" in html and "positive" in html


def test_fragment_options_and_errors(nlp):
    doc = nlp("재밌다")
    fragment = spacy_korsent.render([doc], page=False)
    assert fragment.startswith("<style>") and "<html" not in fragment
    assert "emotion" not in spacy_korsent.render(doc, task="sentiment").split("</style>")[1]
    with pytest.raises(ValueError, match="task must be one of 'sentiment', 'emotion'"):
        spacy_korsent.render(doc, task="sentiments")
    with pytest.raises(ValueError, match="level must be one of 'doc', 'sentence'"):
        spacy_korsent.render(doc, level="token")


def test_jupyter_displays_instead_of_returning(nlp, monkeypatch):
    shown = []
    display_module = types.ModuleType("IPython.display")
    display_module.HTML = lambda html: ("HTML", html)
    display_module.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    assert spacy_korsent.render(nlp("재밌다"), jupyter=True) is None
    [(kind, html)] = shown
    assert kind == "HTML" and html.startswith("<style>") and "재밌다" in html


def test_analyze_html_shows_the_first_rows_and_counts_the_rest(tmp_path: Path, capsys):
    texts = ["정말 재밌어요", "시간 낭비", "<b>최고</b>", "그냥 그래요", "또 볼래요"]
    page = tmp_path / "report.html"
    code = main(
        ["analyze", "--sentiment-model", MODEL, "--html", str(page), "--html-limit", "2", *texts]
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and [row["text"] for row in rows] == texts
    html = page.read_text(encoding="utf-8")
    assert html.count('<article class="korsent-doc">') == 2
    assert "The first 2 of 5 documents; the other 3 are not shown." in html
    assert "재밌어요</span>" in html and "그래요" not in html
    assert len(shaded(html)) == 4  # the two tokens of each of the first two rows
    assert build_parser().parse_args(["analyze", "--html", "x.html"]).html_limit == 1000


def doc_ids(html: str) -> list[str]:
    return re.findall(r'<div class="korsent-doc-id">([^<]*)</div>', html)


def test_analyze_html_heads_each_row_with_its_id_column(tmp_path: Path, capsys) -> None:
    source = tmp_path / "reviews.jsonl"
    rows = [{"id": "r-17", "text": "정말 재밌어요"}, {"text": "시간 낭비"},
            {"id": "<b>9</b>", "text": "또 볼래요"}]  # fmt: skip
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    page, output = tmp_path / "page.html", tmp_path / "out.jsonl"
    argv = ["analyze", "--sentiment-model", MODEL, "-i", str(source), "-o", str(output), "-q"]

    assert main([*argv, "--html", str(page)]) == 0
    escaped = "#3 · id &lt;b&gt;9&lt;/b&gt;"
    assert doc_ids(page.read_text("utf-8")) == ["#1 · id r-17", "#2", escaped]
    assert main([*argv, "--html", str(page), "--id-column", "text"]) == 0
    assert doc_ids(page.read_text("utf-8"))[1] == "#2 · text 시간 낭비"
    assert main(["analyze", "--sentiment-model", MODEL, "--html", str(page), "재밌다"]) == 0
    assert doc_ids(page.read_text("utf-8")) == ["#1"]  # texts as arguments have no ids
    capsys.readouterr()

    assert main([*argv, "--html", str(page), "--id-column", "review_id"]) == 2
    assert "no column 'review_id' for --id-column in the first row" in capsys.readouterr().err
    assert main([*argv, "--id-column", "id"]) == 2
    assert "give --html too" in capsys.readouterr().err
