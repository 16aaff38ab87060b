"""korean_emotion runs any emotion model: single-label, multi-label (KOTE), with groups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import spacy
from conftest import FIXTURES, build_model_dir

KOTE_MODEL = FIXTURES / "kote-koelectra-tiny"
KOTE_SLICE = FIXTURES / "kote_test_300.tsv"
KOTE_LABELS = FIXTURES / "kote_labels.txt"
KOTE_READ = [
    "--format", "tsv", "--columns", "id,text,labels", "--no-quoting", "--label-column", "labels",
    "--label-separator", ",",
]  # fmt: skip
SEVEN = ["기쁨", "슬픔", "분노", "불안/공포", "놀람", "혐오", "중립"]
"""The classes of AI Hub's single-utterance emotion set."""


def korsent(*argv: object) -> int:
    from spacy_korsent.cli import main

    return main([str(arg) for arg in argv])


@pytest.fixture(scope="module")
def seven_class_dir(tmp_path_factory) -> Path:
    return build_model_dir(
        tmp_path_factory.mktemp("seven"), arch="bert", num_labels=7, id2label=dict(enumerate(SEVEN))
    )


def test_a_single_label_model_of_other_emotions(make_nlp, seven_class_dir):
    nlp = make_nlp(("korean_emotion", {"model": str(seven_class_dir), "top_k": 2}))
    emotions = nlp("시험에 붙어서 너무 기뻐요")._.emotions
    assert nlp.get_pipe("korean_emotion").labels == tuple(SEVEN)
    assert emotions["labels"] == [emotions["label"]]
    assert [entry["label"] for entry in emotions["top"]][0] == emotions["label"]
    assert len(emotions["top"]) == 2 and emotions["groups"] == {} and emotions["group"] is None
    from spacy_korsent.taxonomy import LABELS

    for entry in emotions["top"]:  # the same keys; a gloss where the name is one of the 60
        assert set(entry) == {"label", "gloss", "group", "score"} and entry["group"] is None
        assert (entry["gloss"] is not None) == (entry["label"] in LABELS)
    assert sum(nlp("그냥 그래").cats.values()) == pytest.approx(1.0, abs=1e-5)


def test_groups_of_ones_own(make_nlp, seven_class_dir):
    groups = {"기쁨": "긍정", "놀람": "긍정", "슬픔": "부정", "분노": "부정", "불안/공포": "부정"}
    nlp = make_nlp(("korean_emotion", {"model": str(seven_class_dir), "groups": groups}))
    doc = nlp("무섭고 화가 난다")
    emotions = doc._.emotions
    assert set(emotions["groups"]) == {"긍정", "부정"}
    expected = sum(doc.cats[label] for label, group in groups.items() if group == "부정")
    assert emotions["groups"]["부정"] == pytest.approx(expected, abs=1e-6)
    assert emotions["group"] == max(emotions["groups"], key=emotions["groups"].get)
    unknown = {"model": str(seven_class_dir), "groups": {"행복": "긍정"}}
    with pytest.raises(ValueError, match="groups names labels"):
        make_nlp(("korean_emotion", unknown))("좋다")


def test_multi_label_from_the_option_or_the_model_config(make_nlp, seven_class_dir, tmp_path):
    config = {"model": str(seven_class_dir), "multi_label": True, "threshold": 0.45}
    doc = make_nlp(("korean_emotion", config))("놀랍고 기쁘다")
    scores = doc.cats
    assert sum(scores.values()) != pytest.approx(1.0)  # a sigmoid per label
    chosen = [
        label for label, score in sorted(scores.items(), key=lambda i: -i[1]) if score >= 0.45
    ]
    assert doc._.emotions["labels"] == chosen
    # problem_type in the saved config says multi-label without the option
    saved = json.loads((seven_class_dir / "config.json").read_text())
    saved["problem_type"] = "multi_label_classification"
    copy = tmp_path / "multi"
    copy.mkdir()
    for file in seven_class_dir.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    (copy / "config.json").write_text(json.dumps(saved))
    component = make_nlp(("korean_emotion", {"model": str(copy)})).get_pipe("korean_emotion")
    component.initialize()
    assert component.multi_label and component.cfg["threshold"] == 0.5


def test_a_threshold_given_when_loading_wins_over_the_saved_one(
    make_nlp, seven_class_dir, tmp_path
):
    config = {"model": str(seven_class_dir), "multi_label": True, "threshold": 0.45}
    make_nlp(("korean_emotion", config)).to_disk(tmp_path / "pipeline")
    lower = {"components": {"korean_emotion": {"threshold": 0.01}}}
    nlp = spacy.load(tmp_path / "pipeline", config=lower)
    assert nlp.get_pipe("korean_emotion").cfg["threshold"] == 0.01
    doc = nlp("놀랍고 기쁘다")
    chosen = {label for label, score in doc.cats.items() if score >= 0.01}
    assert set(doc._.emotions["labels"]) == chosen and len(chosen) > 1
    assert spacy.load(tmp_path / "pipeline").get_pipe("korean_emotion").cfg["threshold"] == 0.45


def test_multilabel_scores_by_hand():
    from spacy_korsent.metrics import multilabel_scores

    gold = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    pred = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=bool)
    scores = multilabel_scores(gold, pred, ["a", "b", "c"])
    # tp 2, fp 1, fn 1 -> P = R = F1 = 2/3
    assert scores["micro_f1"] == pytest.approx(2 / 3)
    assert scores["per_label"]["a"]["f1"] == 1.0 and scores["per_label"]["c"]["f1"] == 0.0
    assert scores["per_label"]["b"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["mean_gold_labels"] == 1.0 and scores["mean_predicted_labels"] == 1.0


@pytest.mark.slow
def test_train_and_convert_read_label_lists(tmp_path, seven_class_dir, make_nlp):
    rows = ["text,emotions"] + [
        f"{text} {i},{labels}"
        for i in range(12)
        for text, labels in (
            ("놀랍고 기쁘다", '"기쁨,놀람"'),
            ("슬프다", "슬픔"),
            ("화나고 무섭다", '"분노,불안/공포"'),
        )
    ]
    data = tmp_path / "emotions.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    read = ["--label-column", "emotions", "--label-separator", ",", "--labels", ",".join(SEVEN)]
    output = tmp_path / "model"
    code = korsent(
        "train", data, "--output", output, "--model", seven_class_dir, *read,
        "--epochs", 1, "--device", "cpu", "--threads", 1, "--quiet",
    )  # fmt: skip
    assert code == 0
    config = json.loads((output / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == SEVEN
    assert make_nlp(("korean_emotion", {"model": str(output)})).get_pipe("korean_emotion")
    assert korsent("convert", data, tmp_path / "train.spacy", *read) == 0
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(make_nlp().vocab))
    assert docs[0].cats == {name: float(name in ("기쁨", "놀람")) for name in SEVEN}


def test_kote_fixture_is_small_and_multi_label(make_nlp):
    config = json.loads((KOTE_MODEL / "config.json").read_text())
    names = KOTE_LABELS.read_text(encoding="utf-8").split()
    assert (KOTE_MODEL / "model.safetensors").stat().st_size <= 10_000_000
    assert config["problem_type"] == "multi_label_classification"
    assert list(config["id2label"].values()) == names
    nlp = make_nlp(("korean_emotion", {"model": str(KOTE_MODEL)}))
    doc = nlp("진짜 어이없고 짜증나네 돈이 아깝다")
    emotions = doc._.emotions
    cuts = nlp.get_pipe("korean_emotion").label_thresholds  # its saved calibration.json
    assert set(emotions["labels"]) == {label for label, p in doc.cats.items() if p >= cuts[label]}
    assert emotions["labels"] and len(set(cuts.values())) > 1
    assert {"불평/불만", "짜증", "어이없음"} & set(emotions["labels"])
    assert (
        "기쁨" in nlp("정말 고맙고 행복해요 최고!")._.emotions["labels"]
        or "행복" in nlp("정말 고맙고 행복해요 최고!")._.emotions["labels"]
    )


@pytest.mark.slow
def test_evaluate_a_multi_label_model_on_the_kote_slice(tmp_path):
    report = tmp_path / "kote.json"
    args = ["evaluate", KOTE_SLICE, "-t", "emotion", *KOTE_READ, "--model", KOTE_MODEL]
    assert korsent(*args, "--json", report, "--quiet") == 0
    scores = json.loads(report.read_text())
    assert scores["counts"]["kept"] == 300 and scores["threshold"] == 0.5
    assert set(scores["per_label"]) == set(KOTE_LABELS.read_text(encoding="utf-8").split())
    assert scores["mean_gold_labels"] > 5
    recorded = json.loads((KOTE_MODEL / "metrics.json").read_text())
    baseline = recorded["baseline_8_most_frequent"]["micro_f1"]
    assert scores["micro_f1"] > baseline  # the model beats predicting the frequent labels
    plot = tmp_path / "labels.png"
    assert korsent(*args, "--plot", plot, "--quiet", "--threshold", 0.3) == 0
    assert plot.stat().st_size > 10_000


def test_analyze_writes_the_predicted_emotion_set(tmp_path, capsys, make_nlp):
    text = "진짜 어이없고 짜증나네 돈이 아깝다"
    args = ["analyze", "-t", "emotion", "--emotion-model", KOTE_MODEL, text]
    assert korsent(*args) == 0
    row = json.loads(capsys.readouterr().out)
    library = make_nlp(("korean_emotion", {"model": str(KOTE_MODEL)}))(text)._.emotions
    assert row["emotion_labels"] == library["labels"] and len(row["emotion_labels"]) > 1
    assert row["emotion"] == library["label"] and row["emotion_group"] is None
    assert row["emotions_top"] == library["top"]


def test_columnar_outputs_hold_what_the_json_output_holds_for_any_emotion_model(make_nlp):
    """Parquet and the Ray engine write Arrow columns: the top entries of a model outside the
    taxonomy keep their values and gain no keys there."""
    import pyarrow as pa

    from spacy_korsent.files.fields import ResultFields

    nlp = make_nlp(("korean_emotion", {"model": str(KOTE_MODEL)}))
    fields = ResultFields(nlp)
    values = fields.of(nlp("진짜 어이없고 짜증나네 돈이 아깝다"))
    for name, kind in fields.arrow_types().items():
        assert pa.array([values[name]], type=kind).to_pylist() == [values[name]], name
