"""``korean_sentencizer`` on hand-made Korean review endings, and where the package uses it."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import spacy

from spacy_korsent import blank_korean

NO_PERIOD = "배우는 좋았는데 스토리가 별로였음 그래도 볼만함"
QUOTED = '그가 "정말 좋다. 최고야"라고 말했다.'


@pytest.fixture(scope="module")
def nlp() -> spacy.language.Language:
    return blank_korean(sentences=True)


def sentences(nlp: spacy.language.Language, text: str) -> list[str]:
    return [sent.text for sent in nlp(text).sents]


def test_blank_korean_picks_the_korean_splitter(nlp) -> None:
    assert nlp.pipe_names == ["korean_sentencizer"]
    assert blank_korean().pipe_names == []


@pytest.mark.parametrize(
    "text, expected",
    [
        # An ellipsis ends a sentence; spaCy's sentencizer keeps all three together.
        ("정말 재밌어요... 또 보고 싶다", ["정말 재밌어요...", "또 보고 싶다"]),
        # Sentence-final endings without punctuation.
        (NO_PERIOD, ["배우는 좋았는데 스토리가 별로였음", "그래도 볼만함"]),
        ("첫 줄이다\n둘째 줄 이야기", ["첫 줄이다\n", "둘째 줄 이야기"]),  # spaCy keeps the \n
        # Laughter ends a sentence.
        ("ㅋㅋㅋㅋ 웃기다 ㅋㅋ 진짜 웃겨", ["ㅋㅋㅋㅋ 웃기다 ㅋㅋ", "진짜 웃겨"]),
        # Numbers with a decimal point and a quotation stay whole.
        ("평점 3.5점 줍니다. 그냥 그래요", ["평점 3.5점 줍니다.", "그냥 그래요"]),
        (QUOTED + " 나도 동의함", [QUOTED, "나도 동의함"]),
        ("최고!", ["최고!"]),
    ],
)  # fmt: skip
def test_korean_sentence_ends(nlp, text: str, expected: list[str]) -> None:
    assert sentences(nlp, text) == expected


def test_spacy_sentencizer_misses_what_the_korean_one_finds(nlp) -> None:
    rule_based = spacy.blank(
        "ko", config={"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}}
    )
    rule_based.add_pipe("sentencizer")
    text = NO_PERIOD
    assert len(sentences(rule_based, text)) == 1 and len(sentences(nlp, text)) == 2


def test_empty_and_long_texts(nlp) -> None:
    assert list(nlp("").sents) == []
    assert sentences(nlp, "   ") == ["   "]
    long_text = "정말 재미있는 영화였다. 배우들 연기도 좋고 " * 2000  # cut into pieces for Kiwi
    doc = nlp(long_text)
    assert len(list(doc.sents)) == 2001
    assert "".join(token.text_with_ws for token in doc) == long_text


def test_sentences_work_in_worker_processes(nlp) -> None:
    texts = ["하나다. 둘이다", "셋이다... 넷이다"] * 4
    docs = list(nlp.pipe(texts, n_process=2, batch_size=2))
    assert [len(list(doc.sents)) for doc in docs] == [2] * 8


def test_without_kiwipiepy(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "kiwipiepy" else real_find_spec(name, *args),
    )
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # makes `import kiwipiepy` fail
    with pytest.warns(UserWarning, match=r"pip install 'spacy-korsent\[kiwi\]'"):
        fallback = blank_korean(sentences=True)
    assert fallback.pipe_names == ["sentencizer"]
    with pytest.raises(ImportError, match=r"korean_sentencizer needs kiwipiepy"):
        blank_korean().add_pipe("korean_sentencizer")
