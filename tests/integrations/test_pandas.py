"""``spacy_korsent.analyze_frame``: a DataFrame column analysed with the command line's columns."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas")

from conftest import FIXTURES  # noqa: E402

import spacy_korsent  # noqa: E402
from spacy_korsent.cli import main  # noqa: E402

SENTIMENT = str(FIXTURES / "nsmc-koelectra-tiny")
EMOTION = str(FIXTURES / "kote-koelectra-tiny")
REVIEWS = ["연출도 좋고, 음악도 좋았다", "돈이 아깝다", "", "배우들 연기는 좋았다. 그런데 지루했다"]


@pytest.fixture(scope="module")
def both() -> Any:
    """The pipeline ``korsent analyze -t both`` builds with the two test models."""
    nlp = spacy_korsent.blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": SENTIMENT})
    nlp.add_pipe("korean_emotion", config={"model": EMOTION})
    return nlp


def same(left: Any, right: Any) -> bool:
    """Equal values, floats within 1e-6, and a missing value (None or NaN) equal to another."""
    if is_missing(left) and is_missing(right):
        return True
    if isinstance(left, float) and isinstance(right, float):
        return abs(left - right) < 1e-6
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    return bool(left == right)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def test_a_frame_gets_the_command_lines_columns_and_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "reviews.csv"
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "text": REVIEWS, "stars": [5, 1, 3, 2]})
    frame.to_csv(path, index=False)
    out = tmp_path / "out.jsonl"
    argv = ["analyze", "-t", "both", "-i", str(path), "-o", str(out), "-q"]
    assert main([*argv, "--sentiment-model", SENTIMENT, "--emotion-model", EMOTION]) == 0
    capsys.readouterr()
    expected = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    scored = spacy_korsent.analyze_frame(
        pd.read_csv(path), task="both", sentiment_model=SENTIMENT, emotion_model=EMOTION,
        progress=False,
    )  # fmt: skip

    assert list(scored.columns) == list(expected[0])
    results = list(expected[0])[3:]
    assert results[0] == "sentiment" and results[-1] == "emotions_top"
    for (_, row), line in zip(scored.iterrows(), expected):
        for name in results:
            assert same(row[name], line[name]), (name, row[name], line[name])
    assert scored["sentiment"].iloc[0] == "positive" and scored["sentiment"].iloc[1] == "negative"


def test_nan_none_and_na_are_empty_texts_on_a_pipeline_the_user_built(both: Any) -> None:
    """A NaN cell made spaCy raise E1041 (a float is not a text) through ``nlp.pipe``."""
    frame = pd.DataFrame(
        {"리뷰": ["정말 재밌어요", float("nan"), None, pd.NA, "시간 낭비였다"], "n": range(5)},
        index=["a", "b", "a", "c", "a"],  # duplicate labels stay, in their order
    )
    before = frame.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # missing cells are no reason to warn
        scored = spacy_korsent.analyze_frame(frame, text="리뷰", nlp=both, progress=False)

    pd.testing.assert_frame_equal(frame, before)  # the input is left as it is
    assert list(scored.index) == ["a", "b", "a", "c", "a"]
    assert list(scored.columns[:2]) == ["리뷰", "n"]
    assert scored["sentiment"].tolist() == ["positive", None, None, None, "negative"]
    assert scored["sentiment_score"].isna().tolist() == [False, True, True, True, False]
    assert scored["emotion_labels"].iloc[1] == [] and scored["emotions_top"].iloc[2] == []
    assert isinstance(scored["emotion_labels"].iloc[0], list)
    assert isinstance(scored["emotions_top"].iloc[0][0], dict)
    dtypes = scored.dtypes.astype(str).to_dict()
    for name in ("sentiment_score", "sentiment_negative", "sentiment_positive", "emotion_score"):
        assert dtypes[name] == "float64", name
    for name in ("sentiment", "emotion", "emotion_group", "emotion_labels", "emotions_top"):
        assert dtypes[name] == "object", name
    alone = both("정말 재밌어요")._.sentiment
    assert scored["sentiment_positive"].iloc[0] == pytest.approx(alone["scores"]["positive"])


def test_a_series_becomes_its_named_column_and_sentences_come_as_lists() -> None:
    texts = pd.Series(["배우들 연기는 좋았다. 그런데 지루했다.", None], name="review", index=[7, 9])
    scored = spacy_korsent.analyze_frame(
        texts, sentiment_model=SENTIMENT, sentences=True, progress=False
    )
    assert list(scored.columns[:2]) == ["review", "sentiment"]
    assert list(scored.index) == [7, 9]
    sentences = scored["sentences"].iloc[0]
    assert [s["text"] for s in sentences] == ["배우들 연기는 좋았다.", "그런데 지루했다."]
    assert {"start", "end", "sentiment", "sentiment_score"} <= set(sentences[0])
    assert scored["sentences"].iloc[1] == []
    unnamed = spacy_korsent.analyze_frame(pd.Series(["좋다"]), sentiment_model=SENTIMENT,
                                          progress=False)  # fmt: skip
    assert list(unnamed.columns[:1]) == ["text"]


def test_values_that_are_not_strings_get_empty_results_and_one_warning(both: Any) -> None:
    frame = pd.DataFrame({"text": ["좋아요", 5, 3.5, "별로"]})
    with pytest.warns(UserWarning, match=r"2 values of the column 'text' are not strings") as seen:
        scored = spacy_korsent.analyze_frame(frame, nlp=both, progress=False)
    assert len(seen) == 1 and "astype(str)" in str(seen[0].message)
    assert "1: int 5" in str(seen[0].message)
    assert scored["sentiment"].tolist()[1:3] == [None, None]
    assert scored["sentiment"].notna().tolist() == [True, False, False, True]


def test_result_columns_replace_input_columns_of_the_same_name_in_place(both: Any) -> None:
    frame = pd.DataFrame({"sentiment": ["gold", "gold"], "text": ["좋아요", "별로"]})
    with pytest.warns(UserWarning, match=r"\['sentiment'\] replace the frame's columns"):
        scored = spacy_korsent.analyze_frame(frame, nlp=both, progress=False)
    assert list(scored.columns[:3]) == ["sentiment", "text", "sentiment_score"]
    assert scored["sentiment"].tolist() == ["positive", "negative"]
    assert frame["sentiment"].tolist() == ["gold", "gold"]


def test_wrong_calls_say_what_to_do(both: Any) -> None:
    frame = pd.DataFrame({"review": ["좋아요"]})
    with pytest.raises(KeyError, match=r"no column 'text' .*\['review'\].*text="):
        spacy_korsent.analyze_frame(frame, nlp=both)
    with pytest.raises(ValueError, match="task, sentiment_model build a pipeline"):
        spacy_korsent.analyze_frame(frame, "review", nlp=both, task="both",
                                    sentiment_model=SENTIMENT)  # fmt: skip
    with pytest.raises(ValueError, match="backend build a pipeline"):
        spacy_korsent.analyze_frame(frame, "review", nlp=both, backend="onnx-int8")
    with pytest.raises(ValueError, match="backend must be one of 'torch'"):
        spacy_korsent.analyze_frame(frame, "review", sentiment_model=SENTIMENT, backend="int8")
    with pytest.raises(ValueError, match="emotion_model given, but task='sentiment'"):
        spacy_korsent.analyze_frame(frame, "review", emotion_model=EMOTION)
    with pytest.raises(ValueError, match="task='all': give one of"):
        spacy_korsent.analyze_frame(frame, "review", task="all")
    with pytest.raises(ValueError, match="neither korean_sentiment nor korean_emotion"):
        spacy_korsent.analyze_frame(frame, "review", nlp=spacy_korsent.blank_korean())
    with pytest.raises(ValueError, match="a Series is the texts themselves"):
        spacy_korsent.analyze_frame(frame["review"], "review", nlp=both)
    twice = pd.DataFrame([["a", "b"]], columns=["text", "text"])
    with pytest.raises(ValueError, match="2 columns named 'text'"):
        spacy_korsent.analyze_frame(twice, nlp=both)


def test_without_pandas_the_import_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import spacy_korsent\n"
        "try:\n    spacy_korsent.analyze_frame\n"
        "except ImportError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'pip install "spacy-korsent[pandas]"' in done.stdout


def test_the_progress_bar_is_drawn_on_a_terminal_or_when_asked(
    tiny_pipeline: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not into a script's log (standard error that is no terminal) unless ``progress=True``."""
    frame = pd.DataFrame({"text": REVIEWS})

    def drawn(**given: Any) -> bool:
        spacy_korsent.analyze_frame(frame, nlp=tiny_pipeline, **given)
        return "4/4" in capsys.readouterr().err  # tqdm's count of the four texts

    assert not drawn() and not drawn(progress=False)
    assert drawn(progress=True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert drawn() and not drawn(progress=False)
