"""The components give what a direct transformers forward pass gives, however docs are batched."""

import random

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "완전 별로... 시간 낭비했다.",
    "굳 ㅋ",
    "GDNTOPCLASSINTHECLUB",
    "뭐야 이 평점들은.... 나쁘진 않지만 10점 짜리는 더더욱 아니잖아",
    "지루하지는 않은데 완전 막장임... 돈주고 보기에는....",
    "3D만 아니었어도 별 다섯 개 줬을텐데.. 왜 3D로 나와서 제 심기를 불편하게 하죠??",
    "음악이 주가 된, 최고의 음악영화",
    "진정한 쓰레기",
    "마치 미국애니에서 튀어나온듯한 창의력없는 로봇디자인부터가,고개를 젖게한다",
    "오늘 밥이 너무 맛있었어. 행복해",
    "직장에서 부당한 일을 겪어서 너무 화가 나",
    "퇴직금으로 적립한 펀드 수익률이 많이 떨어졌어. " * 3,
    "ㅋㅋㅋ 😂😂 최고 👍",
    "a",
]


def direct_probs(model_dir, texts):
    """What a user of transformers alone would compute, one padded batch, max length 128."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    enc = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        return torch.softmax(model(**enc).logits, dim=-1).numpy()


@pytest.mark.parametrize("factory", ["korean_sentiment", "korean_emotion"])
def test_probabilities_equal_a_direct_forward_pass(
    factory, make_nlp, sentiment_model_dir, emotion_model_dir
):
    model_dir = sentiment_model_dir if factory == "korean_sentiment" else emotion_model_dir
    expected = direct_probs(model_dir, TEXTS)
    texts = list(enumerate(TEXTS))
    random.Random(7).shuffle(texts)
    # Small buffers and token budgets force many differently padded batches.
    nlp = make_nlp((factory, {"model": str(model_dir), "buffer_size": 4, "batch_tokens": 96}))
    nlp.initialize()
    labels = list(nlp.get_pipe(factory).labels)
    for batch_size in (1, 3, 7, 64):
        docs = nlp.pipe([text for _, text in texts], batch_size=batch_size)
        for (index, _), doc in zip(texts, docs):
            got = np.array([doc.cats[label] for label in labels])
            np.testing.assert_allclose(got, expected[index], atol=1e-5)
    one_by_one = [nlp(text).cats for _, text in texts]
    assert [max(c, key=c.get) for c in one_by_one] == [
        labels[int(expected[i].argmax())] for i, _ in texts
    ]


def test_sentiment_value_is_label_score_and_all_scores(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    value = nlp(TEXTS[0])._.sentiment
    expected = direct_probs(sentiment_model_dir, TEXTS[:1])[0]
    assert set(value) == {"label", "score", "scores"}
    assert value["scores"] == pytest.approx({"negative": expected[0], "positive": expected[1]})
    assert value["label"] == ("positive" if expected[1] > expected[0] else "negative")
    assert value["score"] == pytest.approx(expected.max())


def test_emotion_value_ranks_top_k_and_sums_groups(make_nlp, emotion_model_dir):
    nlp = make_nlp(("korean_emotion", {"model": str(emotion_model_dir), "top_k": 5}))
    value = nlp(TEXTS[10])._.emotions
    probs = direct_probs(emotion_model_dir, TEXTS[10:11])[0]
    order = np.argsort(-probs)[:5]
    assert [entry["score"] for entry in value["top"]] == pytest.approx(probs[order].tolist())
    assert value["label"] == value["top"][0]["label"]
    assert set(value["top"][0]) == {"label", "gloss", "group", "score"}
    groups = probs.reshape(6, 10).sum(axis=1)
    assert list(value["groups"].values()) == pytest.approx(groups.tolist(), abs=1e-6)
    assert value["group"] == list(value["groups"])[int(groups.argmax())]
    assert sum(value["groups"].values()) == pytest.approx(1.0, abs=1e-5)


def test_emotion_threshold_drops_unlikely_emotions(make_nlp, emotion_model_dir):
    nlp = make_nlp(("korean_emotion", {"model": str(emotion_model_dir), "threshold": 0.5}))
    value = nlp(TEXTS[10])._.emotions
    assert value["top"] == []  # a random 60-class model puts ~1/60 on each label
    assert value["label"] is not None and value["score"] < 0.5
