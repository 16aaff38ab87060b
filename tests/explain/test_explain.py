"""Token attributions: one per token, the answers we can work out by hand, every window, backends.

Known answers come from the NSMC-trained fixture model (a real sentiment model): on a mixed review
the praising word pushes "positive" up and the complaint pushes it down, whichever the method.
Occlusion is checked against leave-one-token-out done by hand through the pipeline, and
integrated gradients against its completeness (the scores add up to p(text) - p(baseline)).
"""

from __future__ import annotations

import numpy as np
import pytest
import spacy
import torch
from conftest import FIXTURES
from spacy.tokens import Doc, DocBin
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from spacy_korsent import blank_korean

MODEL = str(FIXTURES / "nsmc-koelectra-tiny")
MIXED = "스토리는 지루했지만 배우들 연기는 최고였다"
TEXTS = [
    "스토리는 지루했지만 배우들 연기는 최고였다. 다시 보고 싶다!",
    "완전 쓰레기 영화... 시간 낭비했다.",
    "",
    "이 영화 최고",
]
METHODS = ["occlusion", "integrated_gradients"]


def pipeline(sentences: bool = False, **config) -> spacy.language.Language:
    nlp = blank_korean()
    if sentences:
        nlp.add_pipe("sentencizer")
    config = {"model": MODEL, "sentences": sentences, **config}
    nlp.add_pipe("korean_sentiment", config=config)
    return nlp


@pytest.fixture(scope="module")
def plain():
    """The same model with explain off: the reference for leave-one-out by hand."""
    return pipeline()


def positive(nlp, text: str) -> float:
    return nlp(text)._.sentiment["scores"]["positive"]


def without(doc: Doc, index: int) -> str:
    """The text without one token; its whitespace stays, so that no two words run together."""
    return "".join(t.whitespace_ if t.i == index else t.text_with_ws for t in doc)


@pytest.mark.parametrize("method", METHODS)
def test_one_signed_value_per_token_towards_the_predicted_label(method):
    nlp = pipeline(explain=True, explain_method=method)
    doc = nlp(MIXED)
    assert doc._.sentiment["label"] == "positive"
    values = doc._.sentiment_attribution
    assert len(values) == len(doc) and all(isinstance(v, float) for v in values)
    assert [t._.sentiment_attribution for t in doc] == values
    by_word = {t.text: t._.sentiment_attribution for t in doc}
    assert max(by_word, key=by_word.get) == "최고였다"  # "was the best" carries "positive"
    assert by_word["지루했지만"] < 0  # "was boring, but" pulls against it
    negative = nlp("완전 쓰레기 영화")
    assert negative._.sentiment["label"] == "negative"
    scores = {t.text: t._.sentiment_attribution for t in negative}
    assert max(scores, key=scores.get) == "쓰레기"  # "garbage", towards "negative"


def test_occlusion_is_leave_one_token_out_on_a_single_window(plain):
    nlp = pipeline(explain=True)
    for text in (
        MIXED,
        "이 영화 정말 재미있어요! 배우들 연기도 최고!",
        "완전 별로... 시간 낭비했다.",
    ):
        doc = nlp(text)
        label = doc._.sentiment["label"]
        full = doc._.sentiment["scores"][label]
        by_hand = [
            full - plain(without(doc, i))._.sentiment["scores"][label] for i in range(len(doc))
        ]
        assert doc._.sentiment_attribution == pytest.approx(by_hand, abs=1e-5)


def test_integrated_gradients_add_up_to_the_change_from_the_baseline():
    nlp = pipeline(explain=True, explain_method="integrated_gradients", explain_steps=64)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(MODEL).eval()
    for text in (MIXED, "완전 쓰레기 영화... 시간 낭비했다.", "이 영화 최고"):
        doc = nlp(text)
        target = ["negative", "positive"].index(doc._.sentiment["label"])
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        baseline = (
            [tokenizer.cls_token_id] + [tokenizer.pad_token_id] * n + [tokenizer.sep_token_id]
        )
        with torch.no_grad():
            p0 = torch.softmax(model(input_ids=torch.tensor([baseline])).logits, -1)[0, target]
        expected = doc._.sentiment["score"] - float(p0)
        assert sum(doc._.sentiment_attribution) == pytest.approx(expected, abs=2e-3)


def test_steps_and_method_names_are_checked():
    with pytest.raises(ValueError, match="unknown attribution method 'shap'.*'occlusion'"):
        pipeline(explain=True, explain_method="shap")
    with pytest.raises(ValueError, match="explain_steps must be at least 1"):
        pipeline(explain=True, explain_method="integrated_gradients", explain_steps=0)


def test_long_texts_use_every_window(plain):
    """Each window counts with the weight the text's probability gives it, as computed by hand."""
    text = "처음엔 지루했지만 뒤로 갈수록 배우들 연기가 빛나고 음악도 좋아서 결국 울면서 봤다. " * 3
    config = {"max_length": 24, "stride": 6}
    doc = pipeline(explain=True, **config)(text)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(MODEL).eval()
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = encoded["input_ids"]
    owner = [
        doc.char_span(s, e, alignment_mode="expand")[0].i for s, e in encoded["offset_mapping"]
    ]
    body, step = 22, 16  # max_length less [CLS] and [SEP]; less the stride
    spans = []
    for start in range(0, len(ids), step):
        spans.append((start, min(start + body, len(ids))))
        if start + body >= len(ids):
            break
    assert len(spans) >= 3 and spans[-1][1] == len(ids)
    target = ["negative", "positive"].index(doc._.sentiment["label"])

    def p(window_ids: list[int]) -> float:
        full = [tokenizer.cls_token_id, *window_ids, tokenizer.sep_token_id]
        with torch.no_grad():
            return float(torch.softmax(model(input_ids=torch.tensor([full])).logits, -1)[0, target])

    weights = np.array([e - s + 2 for s, e in spans], dtype=float)
    weights /= weights.sum()
    by_hand = np.zeros(len(doc))
    for (start, end), weight in zip(spans, weights):
        inside = set(owner[start:end])
        for token in inside:
            kept = [ids[j] for j in range(start, end) if owner[j] != token]
            by_hand[token] += weight * (p(ids[start:end]) - p(kept))
    assert doc._.sentiment_attribution == pytest.approx(by_hand.tolist(), abs=1e-5)
    only_in_last = set(owner[spans[-1][0] :]) - set(owner[: spans[-2][1]])
    assert only_in_last and all(doc[t]._.sentiment_attribution != 0 for t in only_in_last)

    truncated = pipeline(explain=True, truncate=True, **config)(text)
    past_first = set(owner[body:]) - set(owner[:body])
    assert past_first and all(truncated[t]._.sentiment_attribution == 0 for t in past_first)


def test_onnx_int8_backend_explains_by_occlusion():
    torch_doc = pipeline(explain=True)(MIXED)
    onnx = pipeline(explain=True, backend="onnx-int8")
    doc = onnx(MIXED)
    values = doc._.sentiment_attribution
    assert len(values) == len(doc)
    assert values == pytest.approx(torch_doc._.sentiment_attribution, abs=0.02)
    assert int(np.argmax(values)) == int(np.argmax(torch_doc._.sentiment_attribution))


def test_integrated_gradients_are_refused_on_onnx_with_the_way_out():
    with pytest.raises(ValueError, match="integrated_gradients method needs the torch backend"):
        pipeline(explain=True, explain_method="integrated_gradients", backend="onnx")


def test_emotion_attributions_point_to_the_top_emotion(make_nlp, emotion_model_dir):
    explained = make_nlp(("korean_emotion", {"model": str(emotion_model_dir), "explain": True}))
    plain = make_nlp(("korean_emotion", {"model": str(emotion_model_dir)}))
    doc = explained("오늘 밥이 너무 맛있었어. 행복해")
    top = doc._.emotions["label"]
    assert doc._.emotions["top"][0]["label"] == top
    by_hand = [doc.cats[top] - plain(without(doc, i)).cats[top] for i in range(len(doc))]
    assert [t._.emotion_attribution for t in doc] == pytest.approx(by_hand, abs=1e-5)


def test_sentences_get_attributions_towards_their_own_label(plain):
    nlp = pipeline(sentences=True, explain=True)
    doc = nlp(TEXTS[0])
    sentences = list(doc.sents)
    assert len(sentences) == 2
    for sent in sentences:
        label = sent._.sentiment["label"]
        full = sent._.sentiment["scores"][label]
        by_hand = [
            full - plain(without(sent.as_doc(), i))._.sentiment["scores"][label]
            for i in range(len(sent))
        ]
        assert sent._.sentiment_attribution == pytest.approx(by_hand, abs=1e-5)
    assert len(doc._.sentiment_attribution) == len(doc)


def test_docs_without_text_get_none_and_explain_off_sets_nothing():
    doc = pipeline(explain=True)("   ")
    assert doc._.sentiment_attribution is None
    assert [t._.sentiment_attribution for t in doc] == [None] * len(doc)
    assert pipeline()("좋아요")[0]._.sentiment_attribution is None


def test_explain_docs_explains_already_annotated_docs(plain):
    docs = list(plain.pipe(TEXTS))
    plain.get_pipe("korean_sentiment").explain_docs(docs)
    explained = list(pipeline(explain=True).pipe(TEXTS))
    assert_close(attributions(docs), attributions(explained))
    assert docs[2]._.sentiment_attribution is None and docs[0]._.sentiment_attribution


def attributions(docs):
    return [
        (
            doc._.sentiment_attribution,
            [t._.sentiment_attribution for t in doc],
            [s._.sentiment_attribution for s in doc.sents]
            if doc.has_annotation("SENT_START")
            else [],
        )
        for doc in docs
    ]


def assert_close(got, expected):
    """Equal structure (lists, None) and floats within 1e-5."""
    if isinstance(expected, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(expected)
        for a, b in zip(got, expected):
            assert_close(a, b)
    elif expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-5)


@pytest.fixture(scope="module")
def explained():
    nlp = pipeline(sentences=True, explain=True)
    return nlp, list(nlp.pipe(TEXTS))


def test_attributions_survive_docbin_and_to_bytes(explained):
    nlp, docs = explained
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    assert attributions(DocBin().from_bytes(data).get_docs(nlp.vocab)) == attributions(docs)
    restored = [Doc(nlp.vocab).from_bytes(doc.to_bytes()) for doc in docs]
    assert attributions(restored) == attributions(docs)


@pytest.mark.slow
def test_attributions_survive_worker_processes(explained):
    nlp, docs = explained
    assert_close(
        attributions(nlp.pipe(TEXTS * 2, n_process=2, batch_size=2)), attributions(docs) * 2
    )
