"""Clear errors for models and settings that cannot work; label names however the model has them."""

import pytest
from conftest import build_model_dir

from spacy_korsent import ModelNotFoundError


def test_missing_hub_model_names_it_and_says_how_to_go_local(make_nlp):
    nlp = make_nlp(("korean_sentiment", {"model": "no-such-user/no-such-model"}))
    with pytest.raises(ModelNotFoundError) as err:
        nlp("재밌다")
    message = str(err.value)
    assert "no-such-user/no-such-model" in message
    assert "HF_HUB_OFFLINE" in message and "local-dir" in message


def test_broken_local_directory_is_named(make_nlp, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    nlp = make_nlp(("korean_sentiment", {"model": str(tmp_path)}))
    with pytest.raises(ModelNotFoundError, match="local directory"):
        nlp.initialize()


def test_emotion_model_given_to_sentiment_is_refused(make_nlp, emotion_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(emotion_model_dir)}))
    with pytest.raises(ValueError, match="60 classes.*use korean_emotion"):
        nlp("재밌다")


def test_sentiment_model_given_to_emotion_is_refused(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_emotion", {"model": str(sentiment_model_dir)}))
    with pytest.raises(ValueError, match="2 classes.*use korean_sentiment"):
        nlp("재밌다")


def test_labels_of_the_wrong_length_are_refused(make_nlp, sentiment_model_dir):
    config = {"model": str(sentiment_model_dir), "labels": ["부정", "중립", "긍정"]}
    with pytest.raises(ValueError, match="3 names.*2 classes"):
        make_nlp(("korean_sentiment", config))("재밌다")


def test_emotion_model_with_labels_in_another_order_is_refused(make_nlp, tmp_path):
    from spacy_korsent.taxonomy import LABELS

    swapped = dict(enumerate(LABELS))
    swapped[0], swapped[1] = swapped[1], swapped[0]
    model_dir = build_model_dir(tmp_path, arch="bert", num_labels=60, id2label=swapped)
    with pytest.raises(ValueError, match="class 0 .*'툴툴대는'"):
        make_nlp(("korean_emotion", {"model": str(model_dir)}))("화가 나")


def test_sentences_without_boundaries_says_what_to_add(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), "sentences": True}))
    with pytest.raises(ValueError, match="sentencizer"):
        nlp("첫 문장. 둘째 문장.")


def test_max_length_above_the_model_limit_is_refused(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), "max_length": 1024}))
    with pytest.raises(ValueError, match="limit of 512"):
        nlp("재밌다")


@pytest.mark.parametrize(
    "config, match",
    [
        ({"backend": "tensorrt"}, "backend must be"),
        ({"quantize": True}, "quantize=true needs backend='onnx'"),
        ({"backend": "torch-float16", "device": "cpu"}, "'torch-float16' needs a CUDA device"),
        ({"backend": "onnx-float16"}, "backend must be one of 'torch', 'torch-bfloat16'"),
        ({"dtype": "half"}, "dtype must be one of 'float32', 'bfloat16', 'float16', not 'half'"),
        ({"dtype": "float16", "backend": "onnx"}, "backend='torch-float16'"),
        ({"dtype": "bfloat16", "backend": "onnx", "quantize": True}, "choose one"),
        ({"dtype": "float16", "backend": "openvino"}, "backend='torch-float16'\\."),
        ({"dtype": "bfloat16", "backend": "onnx-int8"}, "'torch-bfloat16' or 'openvino-bfloat16'"),
        ({"dtype": "float16", "backend": "torch-bfloat16"}, "names its precision, bfloat16"),
        ({"stride": 200}, "stride=200"),
    ],
)
def test_impossible_settings_are_refused(make_nlp, sentiment_model_dir, config, match):
    with pytest.raises(ValueError, match=match):
        make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), **config}))("재밌다")


@pytest.mark.parametrize(
    "id2label, labels, expected",
    [
        ({0: "LABEL_0", 1: "LABEL_1"}, None, ["negative", "positive"]),
        ({0: "NEGATIVE", 1: "POSITIVE"}, None, ["negative", "positive"]),
        ({0: "positive", 1: "negative"}, None, ["positive", "negative"]),
        ({0: "부정", 1: "긍정"}, None, ["negative", "positive"]),
        ({0: "bad", 1: "good"}, None, ["bad", "good"]),
        ({0: "LABEL_0", 1: "LABEL_1"}, ["싫어요", "좋아요"], ["싫어요", "좋아요"]),
    ],
)
def test_sentiment_labels_follow_the_model_or_the_option(
    make_nlp, tmp_path, id2label, labels, expected
):
    model_dir = build_model_dir(tmp_path, arch="electra", num_labels=2, id2label=id2label)
    nlp = make_nlp(("korean_sentiment", {"model": str(model_dir), "labels": labels}))
    doc = nlp("재밌다")
    assert list(nlp.get_pipe("korean_sentiment").labels) == expected
    assert list(doc._.sentiment["scores"]) == expected == list(doc.cats)


def test_a_sentiment_model_that_names_three_classes_needs_no_labels_option(make_nlp, tmp_path):
    """As spacy train saves a negative/neutral/positive model; unnamed classes still need names."""
    named = ["negative", "neutral", "positive"]
    model_dir = build_model_dir(
        tmp_path / "named", arch="electra", num_labels=3, id2label=dict(enumerate(named))
    )
    doc = make_nlp(("korean_sentiment", {"model": str(model_dir)}))("그냥 그래")
    assert list(doc._.sentiment["scores"]) == named
    unnamed = build_model_dir(tmp_path / "unnamed", arch="electra", num_labels=3)
    with pytest.raises(ValueError, match="has 3 classes.*labels option"):
        make_nlp(("korean_sentiment", {"model": str(unnamed)}))("그냥 그래")
