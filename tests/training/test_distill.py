"""``korsent distill``: teacher labels (cached, resumable), student shapes, training, the report.

The teacher is the committed NSMC-trained model (4 layers, hidden 64) and students are distilled on
a few hundred of the fixture's reviews, on one thread: seconds each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, ROOT

from spacy_korsent.files.readers import InputError, Layout
from spacy_korsent.training import distill, teacher
from spacy_korsent.training.corpus import Corpus, gold_matrix, read_corpus
from spacy_korsent.training.measure import agreement
from spacy_korsent.training.recipe import Settings
from spacy_korsent.training.soft_targets import soften
from spacy_korsent.training.student import build_student, layer_map, student_config

TEACHER = FIXTURES / "nsmc-koelectra-tiny"
KOTE_TEACHER = FIXTURES / "kote-koelectra-tiny"
NSMC = FIXTURES / "nsmc_train_600.txt"
NSMC_LAYOUT = Layout("tsv")
KOTE_LAYOUT = Layout("tsv", ("id", "text", "labels"), quoting=False)


def nsmc_corpus(limit: int = 300, gold: bool = True) -> Corpus:
    corpus = read_corpus(
        [(NSMC, NSMC_LAYOUT)], text_column="document", label_column="label" if gold else None
    )
    corpus.texts, corpus.gold = corpus.texts[:limit], corpus.gold[:limit]
    return corpus


def quick(**changes: object) -> Settings:
    settings = dict(epochs=1, val_fraction=0.2, threads=1, speed_texts=0, quiet=True, lr=5e-4)
    return Settings(**{**settings, **changes})  # type: ignore[arg-type]


def run_korsent(*argv: object, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "spacy_korsent", *map(str, argv)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def cli_args(output: Path, cache: Path, *extra: object) -> list[object]:
    return [
        "distill", "--teacher", TEACHER, "--texts", NSMC, "--format", "tsv",
        "--text-column", "document", "-o", output, "--cache", cache, "--threads", 1, "-q",
        *extra,
    ]  # fmt: skip


# --- the command -----------------------------------------------------------------------------


def test_the_command_writes_a_student_the_components_and_onnx_load(tmp_path):
    output = tmp_path / "student"
    done = run_korsent(
        *cli_args(output, tmp_path / "cache", "--label-column", "label", "--layers", "2"),
        "--hidden", 32, "--epochs", 1, "--lr", 5e-4, "--speed-texts", 50, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "agrees with the teacher on" in done.stdout
    report = json.loads((output / "distill.json").read_text())
    assert report["student"]["shape"]["layers"] == 2
    assert report["student"]["shape"]["hidden"] == 32
    assert report["student"]["parameters"] < report["teacher"]["parameters"]
    assert report["data"]["texts"] == 600 and report["data"]["held_out"] == 30  # 5%
    held = report["held_out"]
    assert held["texts"] == 30 and 0.0 <= held["agreement"] <= 1.0
    assert set(held["student_gold"]) == {"accuracy"} == set(held["teacher_gold"])
    assert report["speed"]["texts"] == 30 and report["speed"]["student_docs_per_s"] > 0

    from spacy_korsent import blank_korean

    texts = ["정말 최고의 영화입니다", "시간 낭비였다. 최악의 영화"]
    results = {}
    for backend in ("torch", "onnx"):
        nlp = blank_korean()
        nlp.add_pipe("korean_sentiment", config={"model": str(output), "backend": backend})
        docs = list(nlp.pipe(texts))
        results[backend] = np.array([[doc.cats["negative"], doc.cats["positive"]] for doc in docs])
    assert set(docs[0].cats) == {"negative", "positive"}
    np.testing.assert_allclose(results["onnx"], results["torch"], atol=1e-4)


@pytest.mark.parametrize("number, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_keeps_the_best_student_and_exits_as_every_command_does(tmp_path, number, code):
    output = tmp_path / "student"
    argv = [sys.executable, "-m", "spacy_korsent"] + [
        str(arg)
        for arg in cli_args(
            output, tmp_path / "cache", "--layers", 1, "--epochs", 200, "--eval-every", 1,
            "--patience", 10_000, "--speed-texts", 0,
        )
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (output / "distill.json").is_file():
        assert child.poll() is None and time.monotonic() < deadline, "no student was written"
        time.sleep(0.2)
    child.send_signal(number)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == code, stderr
    assert "the best student so far" in stderr
    report = json.loads((output / "distill.json").read_text())
    assert report["interrupted"] is True and report["best"]["step"] >= 1
    from spacy_korsent.inference.loading import load_pretrained

    load_pretrained(output)  # whole: config, weights and tokenizer
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".student")], "no leftovers"


@pytest.mark.parametrize(
    "extra, message",
    [
        ((), "give the student's size"),
        (("--layers", 9), "layers must be between 1 and the teacher's 4"),
        (("--layers", 2, "--label-column", "id"), "gold labels: "),
    ],
)
def test_bad_settings_are_one_line_errors_before_any_work(tmp_path, capsys, extra, message):
    from spacy_korsent.cli import main

    code = main([str(arg) for arg in cli_args(tmp_path / "s", tmp_path / "c", *extra)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert not list((tmp_path / "c").glob("*/probs-*.npy")), "the teacher labelled nothing"


def test_the_output_may_not_be_the_teacher_nor_a_folder_of_other_files(tmp_path, capsys):
    import shutil

    from spacy_korsent.cli import main

    teacher_copy = tmp_path / "teacher"
    shutil.copytree(TEACHER, teacher_copy)
    argv = cli_args(teacher_copy, tmp_path / "c", "--layers", 2, "--overwrite")
    argv[argv.index("--teacher") + 1] = teacher_copy
    assert main([str(arg) for arg in argv]) == 2
    assert "holds the teacher" in capsys.readouterr().err
    assert (teacher_copy / "model.safetensors").is_file()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    argv = cli_args(notes, tmp_path / "c", "--layers", 2, "--overwrite")
    assert main([str(arg) for arg in argv]) == 2
    assert "not a model" in capsys.readouterr().err
    assert (notes / "todo.txt").read_text() == "keep me"


def test_settings_that_cannot_work_fail_before_the_teacher_labels(tmp_path):
    spec = teacher.TeacherSpec(str(TEACHER))
    for bad in (dict(val_fraction=1.0), dict(temperature=0.0), dict(gold_weight=1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            distill.distill(
                nsmc_corpus(50), spec, tmp_path / "s", quick(layers=2, **bad),
                cache_root=tmp_path / "c",
            )  # fmt: skip
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()


# --- teacher labels --------------------------------------------------------------------------


def test_teacher_labels_resume_after_an_interruption(tmp_path, monkeypatch):
    texts = nsmc_corpus(250, gold=False).texts
    spec = teacher.TeacherSpec(str(TEACHER))
    monkeypatch.setattr(teacher, "CHUNK", 100)
    nlp = teacher.teacher_pipeline(spec)
    labelled: list[int] = []
    original = teacher._probabilities

    def interrupted_in_the_third_chunk(nlp, chunk, labels):
        if len(labelled) == 2:
            raise KeyboardInterrupt
        labelled.append(len(chunk))
        return original(nlp, chunk, labels)

    monkeypatch.setattr(teacher, "_probabilities", interrupted_in_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        teacher.label_texts(spec, texts, tmp_path, nlp=nlp)
    monkeypatch.setattr(teacher, "_probabilities", original)
    resumed = teacher.label_texts(spec, texts, tmp_path, nlp=nlp)
    assert resumed.reused == 200
    fresh = teacher.label_texts(spec, texts, tmp_path / "other", nlp=nlp)
    assert fresh.reused == 0
    np.testing.assert_array_equal(resumed.probs, fresh.probs)
    assert resumed.labels == ["negative", "positive"] and not resumed.multi_label
    # Texts after the last whole chunk changed: the chunks before it are reused.
    assert teacher.label_texts(spec, texts[:-1], tmp_path, nlp=nlp).reused == 200
    # The teacher run another way is another teacher.
    other = teacher.TeacherSpec(str(TEACHER), max_length=64)
    assert teacher.label_texts(other, texts, tmp_path, nlp=nlp).cache != resumed.cache


def test_teacher_labels_come_from_the_component(tmp_path):
    """The cached probabilities are those the teacher's component gives (doc.cats)."""
    texts = ["정말 최고의 영화입니다", "돈 아깝다", "   "]
    spec = teacher.TeacherSpec(str(TEACHER))
    labels = teacher.label_texts(spec, texts, tmp_path)
    nlp = teacher.teacher_pipeline(spec)
    for row, doc in zip(labels.probs[:2], nlp.pipe(texts[:2])):
        np.testing.assert_allclose(row, [doc.cats["negative"], doc.cats["positive"]], rtol=1e-6)
    assert np.isnan(labels.probs[2]).all()  # no tokens: no answer to learn


# --- students --------------------------------------------------------------------------------


def test_fewer_layers_start_from_evenly_spaced_teacher_layers():
    from spacy_korsent.inference.loading import load_model

    model = load_model(TEACHER)
    assert layer_map(12, 4) == [2, 5, 8, 11] and layer_map(12, 6) == [1, 3, 5, 7, 9, 11]
    student, record = build_student(model, layers=2, hidden=None)
    assert record["layer_map"] == [1, 3]
    source, target = model.state_dict(), student.state_dict()
    for name, tensor in target.items():
        origin = name
        for mine, theirs in (("layer.0.", "layer.1."), ("layer.1.", "layer.3.")):
            if mine in name:
                origin = name.replace(mine, theirs)
        assert np.array_equal(tensor.numpy(), source[origin].numpy()), name


def test_a_narrower_student_projects_the_embeddings_onto_their_principal_directions():
    from spacy_korsent.inference.loading import load_model

    model = load_model(TEACHER)
    student, record = build_student(model, layers=2, hidden=32)
    config = student.config
    shape = (config.hidden_size, config.num_attention_heads, config.intermediate_size)
    assert shape == (32, 2, 128)
    assert config.embedding_size == 32 and record["projected"] == 3
    words = model.state_dict()["electra.embeddings.word_embeddings.weight"].numpy()
    mine = student.state_dict()["electra.embeddings.word_embeddings.weight"].numpy()
    # An orthonormal projection: mine = words @ P with P'P = I, so P = pinv(words) @ mine.
    projection = np.linalg.lstsq(words, mine, rcond=None)[0]
    np.testing.assert_allclose(projection.T @ projection, np.eye(32), atol=1e-3)
    assert 0.5 < record["embedding_variance_kept"] < 1.0
    random, _ = build_student(model, layers=2, hidden=32, init="random")
    assert not np.allclose(random.state_dict()["electra.embeddings.word_embeddings.weight"], mine)


def test_a_student_as_big_as_the_teacher_is_refused():
    from spacy_korsent.inference.loading import load_config

    with pytest.raises(ValueError, match="the teacher's size"):
        student_config(load_config(TEACHER), layers=4, hidden=None)
    with pytest.raises(ValueError, match="hidden must be between 8"):
        student_config(load_config(TEACHER), layers=2, hidden=128)


# --- both components' kinds of model ---------------------------------------------------------


def test_a_60_class_emotion_model_distils(tmp_path, emotion_model_dir):
    corpus = nsmc_corpus(120, gold=False)
    spec = teacher.TeacherSpec(str(emotion_model_dir))
    outcome = distill.distill(
        corpus, spec, tmp_path / "s", quick(layers=1), cache_root=tmp_path / "c"
    )
    report = outcome.report
    assert not outcome.interrupted and len(report["teacher"]["labels"]) == 60
    assert report["student"]["shape"]["layers"] == 1
    from spacy_korsent.inference.loading import load_config

    assert load_config(tmp_path / "s").id2label == dict(enumerate(report["teacher"]["labels"]))


def test_a_multi_label_model_distils_with_its_gold_label_sets(tmp_path):
    corpus = read_corpus(
        [(FIXTURES / "kote_test_300.tsv", KOTE_LAYOUT)],
        label_column="labels",
        label_separator=",",
    )
    spec = teacher.TeacherSpec(str(KOTE_TEACHER))
    outcome = distill.distill(
        corpus, spec, tmp_path / "s", quick(layers=2), cache_root=tmp_path / "c"
    )
    held = outcome.report["held_out"]
    assert outcome.report["teacher"]["multi_label"] is True
    assert {"agreement", "exact", "top", "kl"} <= set(held)
    assert set(held["student_gold"]) == {"micro_f1", "macro_f1", "exact_match"}
    from spacy_korsent import blank_korean

    nlp = blank_korean()
    nlp.add_pipe("korean_emotion", config={"model": str(tmp_path / "s")})
    doc = nlp("정말 고마워요 ㅠㅠ 감동이에요")
    assert nlp.get_pipe("korean_emotion").multi_label
    assert set(doc.cats) == set(outcome.report["teacher"]["labels"])


# --- the pieces ------------------------------------------------------------------------------


def test_agreement_counts_the_teachers_answers():
    t = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    s = np.array([[0.8, 0.2], [0.4, 0.6], [0.45, 0.55], [0.3, 0.7]])
    scores = agreement(s, t, multi_label=False, threshold=None)
    assert scores["agreement"] == 0.75 and scores["kl"] > 0
    same = agreement(t, t, multi_label=False, threshold=None)
    assert same["agreement"] == 1.0 and abs(same["kl"]) < 1e-9
    multi = agreement(s, t, multi_label=True, threshold=0.5)
    # Decisions at 0.5: teacher {0}, {1}, {0}, {1}; student {0}, {1}, {1}, {1}.
    assert multi["exact"] == 0.75 and multi["agreement"] == pytest.approx(0.75)


def test_soft_targets_keep_the_answer_and_flatten_with_the_temperature():
    p = np.array([[0.9, 0.08, 0.02]])
    warm = soften(p, 2.0, multi_label=False)
    assert warm.argmax() == 0 and 0.33 < warm[0, 0] < 0.9 and warm.sum() == pytest.approx(1)
    np.testing.assert_allclose(soften(p, 1.0, multi_label=False), p, rtol=1e-9)
    sig = soften(np.array([[0.9, 0.1]]), 2.0, multi_label=True)
    np.testing.assert_allclose(sig, [[0.75, 0.25]], rtol=1e-9)  # sigmoid(ln 9 / 2) = 3/4


def test_gold_labels_are_read_as_korsent_train_reads_them():
    corpus = Corpus(texts=["a", "b", "c"], gold=[["1"], [], ["negative"]])
    truth, known = gold_matrix(corpus, ["negative", "positive"], None)
    assert known.tolist() == [True, False, True]
    assert truth.tolist() == [[0, 1], [0, 0], [1, 0]]
    with pytest.raises(InputError, match="'great'"):
        gold_matrix(Corpus(["a"], [["great"]]), ["negative", "positive"], None)
    assert gold_matrix(Corpus(["a"], [[]]), ["negative", "positive"], None) is None


def test_teacher_labels_live_in_the_one_cache_directory(tmp_path, monkeypatch):
    """Without --cache, labels go beside the exports: $SPACY_KORSENT_CACHE moves both."""
    from spacy_korsent.inference.export_cache import exports_dir

    monkeypatch.setenv("SPACY_KORSENT_CACHE", str(tmp_path / "cache"))
    assert teacher.default_cache().parent == exports_dir().parent == tmp_path / "cache"
