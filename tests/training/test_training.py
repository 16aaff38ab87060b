"""``korsent train`` on a few hundred NSMC rows, and the committed NSMC-trained fixture model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
from conftest import FIXTURES, KOELECTRA_VOCAB

NSMC_TRAIN = FIXTURES / "nsmc_train_600.txt"
NSMC_SLICE = FIXTURES / "nsmc_test_2000.txt"
TINY_MODEL = FIXTURES / "nsmc-koelectra-tiny"

TINY_CONFIG = {
    "model_type": "electra",
    "vocab_size": 32200,
    "embedding_size": 16,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 512,
}

POSITIVE = [
    "정말 최고의 영화입니다. 배우들 연기도 훌륭하고 감동적이었어요",
    "너무 재미있고 감동적인 영화였어요. 강력 추천합니다!",
    "인생 영화입니다. 몇 번을 봐도 좋네요",
    "배우들 연기 최고, 연출도 완벽했다",
]
NEGATIVE = [
    "시간 낭비였다. 최악의 영화, 돈이 아깝다",
    "정말 지루하고 재미없다. 보다가 잠들었음",
    "최악이다 최악. 스토리도 엉망이고 연기도 어색함",
    "돈 아깝다 이런 쓰레기 영화는 처음",
]


def korsent(*argv: object) -> int:
    from spacy_korsent.cli import main

    return main([str(arg) for arg in argv])


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.json"
    path.write_text(json.dumps(TINY_CONFIG))
    return path


def train_args(train_file: Path, output: Path, config: Path, *extra: object) -> list[object]:
    """A quick from-scratch run: 300 rows, 2 epochs, one thread (the CPU may be busy)."""
    return [
        "train", train_file, "--output", output, "--init-config", config,
        "--tokenizer", KOELECTRA_VOCAB, "--limit", 300, "--epochs", 2, "--lr", 1e-3,
        "--device", "cpu", "--threads", 1, "--quiet", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_config: Path) -> Path:
    output = tmp_path_factory.mktemp("trained") / "model"
    assert korsent(*train_args(NSMC_TRAIN, output, tiny_config, "--test", NSMC_SLICE)) == 0
    return output


def read_log(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "training_log.jsonl").read_text().splitlines()]


def weights(output: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(output / "model.safetensors")


# --- the training command ----------------------------------------------------------------------


@pytest.mark.slow
def test_run_writes_model_dir_with_label_names_and_log(trained: Path) -> None:
    config = json.loads((trained / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    log = read_log(trained)
    assert [entry["epoch"] for entry in log] == [1, 2]
    for entry in log:
        assert set(entry) == {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
        assert entry["val_loss"] > 0 and 0 <= entry["val_accuracy"] <= 1
    test = json.loads((trained / "test_metrics.json").read_text())
    assert test["n"] == 1993 and 0 <= test["accuracy"] <= 1
    assert json.loads((trained / "training_args.json").read_text())["limit"] == 300


@pytest.mark.slow
def test_trained_model_loads_in_korean_sentiment(trained: Path, make_nlp: Callable) -> None:
    nlp = make_nlp(("korean_sentiment", {"model": str(trained)}))
    doc = nlp("배우들 연기가 좋았다")
    assert doc._.sentiment["label"] in ("negative", "positive")
    assert sum(doc._.sentiment["scores"].values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_same_seed_gives_identical_weights(tmp_path: Path, tiny_config: Path) -> None:
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        assert korsent(*train_args(NSMC_TRAIN, tmp_path / name, tiny_config, "--seed", seed)) == 0
        runs[name] = weights(tmp_path / name)
    assert runs["a"].keys() == runs["b"].keys()
    assert all(runs["a"][key].equal(runs["b"][key]) for key in runs["a"])
    losses = [[entry["val_loss"] for entry in read_log(tmp_path / name)] for name in ("a", "b")]
    assert losses[0] == losses[1]
    assert not all(runs["a"][key].equal(runs["c"][key]) for key in runs["a"])


@pytest.mark.slow
def test_labelled_csv_with_fixed_label_order_and_finetuning(
    tmp_path: Path, sentiment_model_dir: Path, make_nlp: Callable
) -> None:
    rows = ["review,stars"] + [f"좋아요 {i},pos" for i in range(20)]
    rows += [f"별로 {i},neg" for i in range(20)] + [f"그냥 {i},mid" for i in range(20)]
    train_file = tmp_path / "reviews.csv"
    train_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    output = tmp_path / "model"
    code = korsent(
        "train", train_file, "--output", output, "--model", sentiment_model_dir,
        "--text-column", "review", "--label-column", "stars", "--labels", "neg,mid,pos",
        "--epochs", 1, "--device", "cpu", "--threads", 1, "--quiet",
    )  # fmt: skip
    assert code == 0
    config = json.loads((output / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "mid", "2": "pos"}
    tuned, start = weights(output), weights(sentiment_model_dir)
    assert tuned["classifier.out_proj.weight"].shape[0] == 3
    embeddings = "electra.embeddings.word_embeddings.weight"
    assert tuned[embeddings].allclose(start[embeddings], atol=1e-3)  # fine-tuned, not re-drawn
    nlp = make_nlp(("korean_sentiment", {"model": str(output), "labels": ["neg", "mid", "pos"]}))
    assert set(nlp("좋아요")._.sentiment["scores"]) == {"neg", "mid", "pos"}


@pytest.mark.slow
def test_interruption_keeps_the_best_checkpoint(
    tmp_path: Path, tiny_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spacy_korsent.inference.loading import load_pretrained
    from spacy_korsent.training import loop as training

    evaluate = training.evaluate
    calls = []

    def interrupted_in_second_epoch(*args: object, **kwargs: object) -> dict:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate", interrupted_in_second_epoch)
    output = tmp_path / "model"
    assert korsent(*train_args(NSMC_TRAIN, output, tiny_config)) == 130
    assert [entry["epoch"] for entry in read_log(output)] == [1]
    _, model = load_pretrained(output)
    assert model.config.id2label == {0: "negative", 1: "positive"}


@pytest.mark.slow
def test_an_interrupted_checkpoint_leaves_the_last_one_and_a_log_that_names_it(
    tmp_path: Path, tiny_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the second epoch's checkpoint is written: the first stays, and the log ends
    with its epoch."""
    from spacy_korsent.components.classifier import KoreanClassifier
    from spacy_korsent.inference.loading import load_pretrained
    from spacy_korsent.interrupts import Terminated

    output = tmp_path / "model"
    save_model = KoreanClassifier.save_model
    kept: list[dict] = []  # the checkpoint's weights when the second one is written

    def terminated_in_the_second(self: KoreanClassifier, path: Path) -> None:
        save_model(self, path)  # into the staging directory
        if (output / "model.safetensors").exists():
            kept.append(weights(output))
            raise Terminated()

    monkeypatch.setattr(KoreanClassifier, "save_model", terminated_in_the_second)
    assert korsent(*train_args(NSMC_TRAIN, output, tiny_config)) == 143
    assert kept, "the second epoch did not improve: nothing was interrupted"
    assert [entry["epoch"] for entry in read_log(output)] == [1]
    assert list(output.glob(".checkpoint-*")) == []
    assert all(tensor.equal(kept[0][name]) for name, tensor in weights(output).items())
    _, model = load_pretrained(output)
    assert model.config.id2label == {0: "negative", 1: "positive"}


@pytest.mark.slow
def test_a_killed_runs_checkpoint_leftovers_go_with_the_next_run(
    tmp_path: Path, tiny_config: Path
) -> None:
    output = tmp_path / "model"
    old = output / ".checkpoint-k1ll3d"  # an older version's, without a lock file
    locked = output / ".checkpoint-0wn3d"  # whose process is gone
    for leftover in (old, locked):
        leftover.mkdir(parents=True)
        (leftover / "model.safetensors").write_bytes(b"half a model")
    (locked / ".owner").write_text("12345\n")

    assert korsent(*train_args(NSMC_TRAIN, output, tiny_config, "--epochs", 1, "--overwrite")) == 0
    assert list(output.glob(".checkpoint-*")) == []
    assert [entry["epoch"] for entry in read_log(output)] == [1]


# --- bad input fails before training ------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        ("empty.csv", "", (), "empty"),
        ("header.csv", "text,label\n", (), "no rows"),
        ("nocol.csv", "review,label\n좋다,1\n", (), "'text'"),
        ("bad.csv", "text,label\n좋다,pos\n싫다,neg\n음,meh\n", ("--labels", "neg,pos"), "'meh'"),
        ("bad.txt", "id\tdocument\tlabel\n1\t좋다\t1\n2\t싫다\t2\n", (), "'2' (line 3)"),
        ("one.jsonl", '{"text": "a", "label": "pos"}\n{"text": "b", "label": "pos"}\n', (), "two"),
        ("fp16.csv", "text,label\n좋다,1\n싫다,0\n" * 10, ("--fp16",), "CUDA"),
    ],
)
def test_bad_input_fails_before_training(
    tmp_path: Path,
    tiny_config: Path,
    capsys: pytest.CaptureFixture,
    name: str,
    content: str,
    extra: tuple,
    message: str,
) -> None:
    output = tmp_path / "model"
    code = korsent(*train_args(write(tmp_path / name, content), output, tiny_config, *extra))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_label_outside_the_set_in_the_test_file_fails_before_training(
    tmp_path: Path, tiny_config: Path, capsys: pytest.CaptureFixture
) -> None:
    test_file = write(tmp_path / "test.txt", "id\tdocument\tlabel\n1\t좋다\t5\n")
    output = tmp_path / "model"
    code = korsent(*train_args(NSMC_TRAIN, output, tiny_config, "--test", test_file))
    assert code == 2
    assert "test.txt: labels that are not one of the classes" in capsys.readouterr().err
    assert not output.exists()


def test_a_non_empty_output_is_not_overwritten(tmp_path: Path, tiny_config: Path) -> None:
    output = tmp_path / "model"
    output.mkdir()
    write(output / "keep.txt", "mine")
    assert korsent(*train_args(NSMC_TRAIN, output, tiny_config)) == 2
    assert [file.name for file in output.iterdir()] == ["keep.txt"]


# --- the committed NSMC fixture model -----------------------------------------------------------


def test_fixture_model_is_small_and_names_its_labels() -> None:
    assert (TINY_MODEL / "model.safetensors").stat().st_size <= 10_000_000
    config = json.loads((TINY_MODEL / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}


def test_fixture_model_gets_obvious_reviews_right(make_nlp: Callable) -> None:
    nlp = make_nlp(("korean_sentiment", {"model": str(TINY_MODEL)}))
    labels = [doc._.sentiment["label"] for doc in nlp.pipe(POSITIVE + NEGATIVE)]
    assert labels == ["positive"] * len(POSITIVE) + ["negative"] * len(NEGATIVE)


@pytest.mark.slow
def test_evaluate_on_the_fixture_slice_matches_the_recorded_accuracy(tmp_path: Path) -> None:
    recorded = json.loads((TINY_MODEL / "metrics.json").read_text())
    assert recorded["nsmc_test"]["docs"] == 49157 and recorded["nsmc_test"]["accuracy"] >= 0.84
    report = tmp_path / "report.json"
    assert korsent("evaluate", NSMC_SLICE, "--model", TINY_MODEL, "--json", report) == 0
    accuracy = json.loads(report.read_text())["accuracy"]
    assert accuracy == pytest.approx(recorded["fixture_slice"]["accuracy"], abs=0.01)


def test_a_huge_row_is_trained_on_and_converted_like_any_other(
    tmp_path: Path, tiny_config: Path
) -> None:
    """A text over spaCy's max_length (a 1.2 MB review) is truncated to the model's window."""
    rows = NSMC_TRAIN.read_text(encoding="utf-8").splitlines()[:41]
    rows.insert(5, "999\t" + "정말 지루하고 재미없다 " * 100_000 + "\t0")
    train_file = write(tmp_path / "huge.txt", "\n".join(rows) + "\n")
    output = tmp_path / "model"
    args = train_args(train_file, output, tiny_config)
    args[args.index("--epochs") + 1] = 1
    assert korsent(*args) == 0
    assert (output / "model.safetensors").is_file()
    assert korsent("convert", train_file, tmp_path / "train.spacy") == 0

    from spacy.tokens import DocBin

    from spacy_korsent import blank_korean

    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(blank_korean().vocab))
    assert len(docs) == 41 and len(docs[4].text) > 1_000_000


@pytest.mark.parametrize(
    "outputs",
    [("train.txt",), ("out.spacy", "--dev", "train.txt"), ("out.spacy", "--dev", "out.spacy")],
)
def test_convert_never_writes_over_its_input_or_its_other_output(
    tmp_path: Path, capsys: pytest.CaptureFixture, outputs: tuple[str, ...]
) -> None:
    train_file = write(tmp_path / "train.txt", NSMC_TRAIN.read_text(encoding="utf-8"))
    before = train_file.read_bytes()
    paths = [tmp_path / name if not name.startswith("-") else name for name in outputs]
    assert korsent("convert", train_file, *paths) == 2
    error = capsys.readouterr().err
    assert "Write to another file" in error or "give the held-out part its own file" in error
    assert train_file.read_bytes() == before
    assert not (tmp_path / "out.spacy").exists()
