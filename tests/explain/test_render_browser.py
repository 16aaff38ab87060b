"""The explanation page in a real browser: headless Chromium loads it, counts it, photographs it.

Needs Debian's ``chromium``, ``chromium-driver`` and ``fonts-noto-cjk`` (``.ci/run`` installs them)
and the ``selenium`` package (the ``test`` extra). Without them the test is skipped, except in CI
(``CI`` set), where it fails instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import chromium, console_errors, screenshot
from conftest import FIXTURES

import spacy_korsent

TEXTS = [
    "스토리는 지루했지만 배우들 연기는 최고였다. 다시 보고 싶다!",
    "완전 별로... 시간 낭비했다.",
    "<script>document.title = 'injected'</script> 이 영화 <b>최고</b>",
    "",
]


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture(scope="module")
def docs(emotion_model_dir):
    nlp = spacy_korsent.blank_korean()
    nlp.add_pipe("sentencizer")
    sentiment = {"model": str(FIXTURES / "nsmc-koelectra-tiny"), "sentences": True, "explain": True}
    nlp.add_pipe("korean_sentiment", config=sentiment)
    nlp.add_pipe("korean_emotion", config={"model": str(emotion_model_dir), "explain": True})
    return list(nlp.pipe(TEXTS))


def test_page_loads_and_shows_every_shaded_token(browser, docs, tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(spacy_korsent.render(docs, title="감성 분석"), encoding="utf-8")
    browser.get(page.as_uri())
    assert console_errors(browser) == []
    assert browser.title == "감성 분석"  # the injected script did not run
    # Each doc with text has one shaded row per task: its tokens, spaces included.
    expected = 2 * sum(len(doc) for doc in docs if doc.text)
    assert browser.execute_script("return document.querySelectorAll('.korsent-tok').length") == (
        expected
    )
    coloured = browser.execute_script(
        "return [...document.querySelectorAll('.korsent-tok')].filter("
        "t => !getComputedStyle(t).backgroundColor.endsWith(', 0)')).length"
    )
    rows = 2 * sum(1 for doc in docs if doc.text)
    assert rows <= coloured <= expected  # at least each row's strongest token
    sentence_badges = "return document.querySelectorAll('.korsent-sent-label').length"
    assert browser.execute_script(sentence_badges) == sum(
        len(list(doc.sents)) for doc in docs if doc.text
    )

    png, image = screenshot(browser)
    (tmp_path / "page.png").write_bytes(png)
    height = image.size[1]
    assert image.size == (1200, height) and height > 400
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text and shading, not a blank page
    pixels = list(image.getdata())
    orange = sum(1 for r, g, b in pixels if r > 200 and 90 < g < 200 and b < 120)
    purple = sum(1 for r, g, b in pixels if b > 120 and r < 170 and g < 140)
    assert orange > 500 and purple > 500  # both shades appear
