"""Saved pipelines stand alone; values are plain data that survive DocBin and worker processes."""

import shutil

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_korsent.scratch import LOCK_FILE

TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "완전 별로... 시간 낭비했다.",
    "",
    "오늘 밥이 너무 맛있었어. 행복해. 그런데 내일이 걱정돼.",
    "직장에서 부당한 일을 겪어서 너무 화가 나",
] * 3


@pytest.fixture
def pipeline(make_nlp, sentiment_model_dir, emotion_model_dir, tmp_path):
    """A sentencizer + both components, on copies of the models that a test may delete."""
    sentiment = shutil.copytree(sentiment_model_dir, tmp_path / "sentiment-model")
    emotion = shutil.copytree(emotion_model_dir, tmp_path / "emotion-model")
    nlp = make_nlp(
        ("sentencizer", {}),
        ("korean_sentiment", {"model": str(sentiment), "sentences": True}),
        ("korean_emotion", {"model": str(emotion), "top_k": 2}),
    )
    return nlp, [sentiment, emotion]


def values(docs):
    return [
        (doc._.sentiment, doc._.emotions, doc.cats, [s._.sentiment for s in doc.sents])
        for doc in docs
    ]


def assert_same_values(got, expected, tolerance=1e-6):
    """Same labels everywhere and the same probabilities within ``tolerance``."""
    assert len(got) == len(expected)
    for (s1, e1, c1, sents1), (s2, e2, c2, sents2) in zip(got, expected):
        assert s1["label"] == s2["label"] and e1["label"] == e2["label"]
        assert [e["label"] for e in e1["top"]] == [e["label"] for e in e2["top"]]
        assert c1 == pytest.approx(c2, abs=tolerance)
        assert e1["groups"] == pytest.approx(e2["groups"], abs=tolerance)
        assert [s["label"] for s in sents1] == [s["label"] for s in sents2]
        for a, b in zip(sents1, sents2):
            assert a["scores"] == pytest.approx(b["scores"], abs=tolerance)


def test_spacy_load_needs_neither_hub_nor_original_model(pipeline, tmp_path, monkeypatch):
    nlp, model_dirs = pipeline
    before = values(nlp.pipe(TEXTS))
    nlp.to_disk(tmp_path / "pipeline")
    for model_dir in model_dirs:
        shutil.rmtree(model_dir)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == ["sentencizer", "korean_sentiment", "korean_emotion"]
    assert loaded.get_pipe("korean_emotion").labels == nlp.get_pipe("korean_emotion").labels
    assert_same_values(values(loaded.pipe(TEXTS)), before)


def test_labels_come_from_the_saved_component(make_nlp, tmp_path):
    from conftest import build_model_dir

    model_dir = build_model_dir(tmp_path / "m", arch="electra", num_labels=2)
    config = {"model": str(model_dir), "labels": ["싫어요", "좋아요"]}
    make_nlp(("korean_sentiment", config)).to_disk(tmp_path / "pipeline")
    shutil.rmtree(model_dir)
    loaded = spacy.load(tmp_path / "pipeline")
    assert list(loaded("재밌다")._.sentiment["scores"]) == ["싫어요", "좋아요"]


def test_to_bytes_round_trip(pipeline, make_nlp):
    nlp, _ = pipeline
    before = values(nlp.pipe(TEXTS[:4]))
    data = nlp.to_bytes()
    fresh = make_nlp(
        ("sentencizer", {}),
        ("korean_sentiment", {"model": "/gone", "sentences": True}),
        ("korean_emotion", {"model": "/gone", "top_k": 2}),
    )
    fresh.from_bytes(data)
    assert_same_values(values(fresh.pipe(TEXTS[:4])), before)


def test_values_survive_docbin_with_user_data(pipeline):
    nlp, _ = pipeline
    docs = list(nlp.pipe(TEXTS[:5]))
    restored = list(DocBin(docs=docs, store_user_data=True).get_docs(nlp.vocab))
    assert values(restored) == values(docs)
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    assert values(DocBin().from_bytes(data).get_docs(nlp.vocab)) == values(docs)


@pytest.mark.slow
def test_two_worker_processes_give_the_same_values(pipeline):
    nlp, _ = pipeline
    nlp("워밍업: 부모 프로세스가 먼저 모델을 돌린다")  # workers fork after the parent used torch
    single = values(nlp.pipe(TEXTS, n_process=1, batch_size=4))
    double = values(nlp.pipe(TEXTS, n_process=2, batch_size=4))
    assert_same_values(double, single, tolerance=1e-5)


ESCAPES = [  # names that lead out of the component's scratch directory, one way or another
    "../../../escaped",
    "model/../../../../escaped",
    "..\\..\\..\\escaped",  # Windows separators
    "{absolute}",
    "model/\0escaped",
    "",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_from_bytes_refuses_a_file_name_that_leads_out_and_writes_nothing(
    make_nlp, tmp_path, monkeypatch, name
):
    import tempfile

    import srsly

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the component's scratch
    (tmp_path / "tmp").mkdir()
    name = name.format(absolute=tmp_path / "escaped")
    crafted = srsly.msgpack_dumps({"cfg": b"{}", name: b"echo owned"})
    component = make_nlp(("korean_sentiment", {"model": "/gone"})).get_pipe("korean_sentiment")

    with pytest.raises(ValueError, match=r"korean_sentiment: these bytes cannot be loaded: "):
        component.from_bytes(crafted)
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert [path for path in written if path.name != LOCK_FILE] == []  # only the scratch's lock


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"cfg": "{}"}, r"the file 'cfg' does not hold bytes \(str\)"),
        ({"cfg": None}, r"the file 'cfg' does not hold bytes \(NoneType\)"),
        ({7: b"{}"}, r"the file name 7 is not a string \(int\)"),
        ([b"{}"], "expected a map of file names to bytes, not list"),
    ],
)
def test_from_bytes_refuses_entries_that_are_not_named_bytes(make_nlp, payload, message):
    import srsly

    component = make_nlp(("korean_sentiment", {"model": "/gone"})).get_pipe("korean_sentiment")
    with pytest.raises(ValueError, match=message):
        component.from_bytes(srsly.msgpack_dumps(payload))
