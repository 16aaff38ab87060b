"""Long texts are windowed, never cut silently; odd input gives results or documented empties."""

import resource

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

REVIEW = "처음엔 지루했지만 뒤로 갈수록 배우들 연기가 빛나고 음악도 좋아서 결국 울면서 봤다. "


def window_probs(model_dir, text, *, body, step):
    """Direct transformers probabilities of each overlapping window, and each window's length."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    windows = []
    for start in range(0, len(ids), step):
        windows.append(ids[start : start + body])
        if start + body >= len(ids):
            break
    probs = []
    with torch.no_grad():
        for window in windows:
            full = torch.tensor([[tokenizer.cls_token_id, *window, tokenizer.sep_token_id]])
            probs.append(torch.softmax(model(input_ids=full).logits, -1)[0].numpy())
    return np.array(probs), np.array([len(w) for w in windows], dtype=float)


def test_long_text_is_the_length_weighted_mean_of_its_windows(make_nlp, sentiment_model_dir):
    text = REVIEW * 25  # several windows of 128 tokens
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    got = nlp(text)._.sentiment["scores"]
    probs, weights = window_probs(sentiment_model_dir, text, body=126, step=126 - 32)
    assert len(weights) >= 4 and weights[-1] < weights[0]
    expected = (probs * weights[:, None]).sum(0) / weights.sum()
    assert [got["negative"], got["positive"]] == pytest.approx(expected.tolist(), abs=1e-5)


def test_truncate_keeps_only_the_first_window(make_nlp, sentiment_model_dir):
    text = REVIEW * 12
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), "truncate": True}))
    got = nlp(text)._.sentiment["scores"]
    probs, _ = window_probs(sentiment_model_dir, text, body=126, step=126 - 32)
    assert [got["negative"], got["positive"]] == pytest.approx(probs[0].tolist(), abs=1e-5)


def test_stride_and_max_length_change_the_windows(make_nlp, sentiment_model_dir):
    text = REVIEW * 6
    config = {"model": str(sentiment_model_dir), "max_length": 64, "stride": 0}
    got = make_nlp(("korean_sentiment", config))(text)._.sentiment["scores"]
    probs, weights = window_probs(sentiment_model_dir, text, body=62, step=62)
    expected = (probs * weights[:, None]).sum(0) / weights.sum()
    assert got["positive"] == pytest.approx(expected[1], abs=1e-5)


def test_megabyte_text_is_handled_with_bounded_memory(make_nlp, sentiment_model_dir):
    text = REVIEW * (1_000_000 // len(REVIEW.encode("utf8")) + 1)
    assert len(text.encode("utf8")) >= 1_000_000
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    nlp("워밍업")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    value = nlp(text)._.sentiment
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert value["label"] in ("negative", "positive")
    assert sum(value["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert grown_mb < 400


@pytest.mark.parametrize("text", ["", " ", "\n\t  \u3000 "])
def test_empty_docs_get_the_empty_result_without_loading_a_model(make_nlp, text):
    # The model does not exist: any attempt to load or run it would raise.
    nlp = make_nlp(
        ("korean_sentiment", {"model": "/nonexistent/model"}),
        ("korean_emotion", {"model": "/nonexistent/model"}),
    )
    doc = nlp(text)
    assert doc._.sentiment == {"label": None, "score": None, "scores": {}}
    assert doc._.emotions == {
        "label": None,
        "score": None,
        "labels": [],
        "group": None,
        "top": [],
        "groups": {},
    }
    assert doc.cats == {}


def test_text_of_only_control_characters_is_empty_too(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    assert nlp("\x00\x01\x02\x7f")._.sentiment["label"] is None


@pytest.mark.parametrize(
    "text",
    [
        "최고예요 😍🔥👍🏽 👨‍👩‍👧",
        "제어\x00문자\x07와\x1b[31m 색깔",
        "Mixed 한국어 English 日本語 中文 русский عربى 123 !!!",
        "ㅋㅋㅋㅋㅋㅋㅋㅋㅋㅋ" * 50,
        "𝓯𝓪𝓷𝓬𝔂 ＦＵＬＬＷＩＤＴＨ",
    ],
)
def test_odd_text_gets_a_valid_result(make_nlp, sentiment_model_dir, emotion_model_dir, text):
    nlp = make_nlp(
        ("korean_sentiment", {"model": str(sentiment_model_dir)}),
        ("korean_emotion", {"model": str(emotion_model_dir)}),
    )
    doc = nlp(text)
    assert sum(doc._.sentiment["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(doc._.emotions["groups"].values()) == pytest.approx(1.0, abs=1e-5)
