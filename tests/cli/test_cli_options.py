"""Command-line options on any file: output formats, saved pipelines as models, evaluate on
CSV/TSV/JSONL, star ratings in train, options that cannot apply, the evaluate plot."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, KOELECTRA_VOCAB

from spacy_korsent.cli import main

MODEL = FIXTURES / "nsmc-koelectra-tiny"
REVIEWS = 'id,text,stars\n1,"연출도 좋고, 음악도 좋았다",5\n2,돈이 아깝다,1\n'
STARS = "".join(
    f"{text},{stars}\n"
    for text, stars in [
        ("정말 최고의 영화입니다", 5),
        ("시간 낭비였다 최악", 1),
        ("배우들 연기 최고", 4),
        ("돈 아깝다 쓰레기 영화", 2),
        ("강력 추천합니다 감동적", 5),
        ("지루하고 재미없다", 1),
    ]
)
STAR_MAP = "1=negative,2=negative,4=positive,5=positive"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text(REVIEWS, encoding="utf-8")
    return path


# --- analyze: output formats -------------------------------------------------------------------


def test_output_suffix_chooses_the_format(capsys, reviews: Path, tmp_path: Path) -> None:
    tsv, parquet, forced = tmp_path / "out.tsv", tmp_path / "out.parquet", tmp_path / "out.csv"
    for output, extra in ((tsv, []), (parquet, []), (forced, ["-f", "jsonl"])):
        code, out, err = run(
            capsys, "analyze", "--sentiment-model", MODEL, "-i", reviews, "-o", output, *extra
        )
        assert (code, out, err) == (0, "", "")  # fmt: skip
    with open(tsv, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    assert [row["text"] for row in rows] == ["연출도 좋고, 음악도 좋았다", "돈이 아깝다"]
    import pyarrow.parquet as pq

    table = pq.read_table(parquet).to_pylist()
    assert [row["text"] for row in table] == [row["text"] for row in rows]
    assert [row["sentiment"] for row in table] == [row["sentiment"] for row in rows]
    assert isinstance(table[0]["sentiment_score"], float)
    assert table[0]["sentiment_score"] == pytest.approx(float(rows[0]["sentiment_score"]))
    assert [json.loads(line)["id"] for line in forced.read_text().splitlines()] == ["1", "2"]


def test_unwritable_outputs_fail_before_the_models_load(
    capsys, reviews: Path, tmp_path, monkeypatch
) -> None:
    """Parquet to the terminal or without pyarrow, a page that is also -o: one line, exit 2, with
    a model that does not exist (the check comes before the model would fail to load)."""
    model = ["--sentiment-model", tmp_path / "not-a-model", "-i", reviews]
    code, _, err = run(capsys, "analyze", *model, "-f", "parquet")
    assert code == 2 and "Parquet output needs a file" in err
    page = tmp_path / "out.jsonl"
    code, _, err = run(capsys, "analyze", *model, "-o", page, "--html", page)
    assert code == 2 and "give the page its own file" in err and not page.exists()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    output = tmp_path / "out.parquet"
    code, _, err = run(capsys, "analyze", *model, "-o", output)
    assert code == 2 and "pip install 'spacy-korsent[parquet]'" in err
    assert len(err.splitlines()) == 1 and not output.exists()


def test_sentences_use_the_korean_splitter(capsys) -> None:
    code, out, _ = run(
        capsys, "analyze", "--sentiment-model", MODEL, "--sentences", "재밌어요... 또 볼래요"
    )
    assert code == 0  # fmt: skip
    assert [s["text"] for s in json.loads(out)["sentences"]] == ["재밌어요...", "또 볼래요"]


# --- saved pipelines where a model is expected ---------------------------------------------------


@pytest.fixture(scope="module")
def saved_pipelines(tmp_path_factory, emotion_model_dir: Path) -> tuple[Path, Path]:
    from spacy_korsent import blank_korean

    one, both = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("both")
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(MODEL)})
    nlp.initialize()
    nlp.to_disk(one)
    nlp.add_pipe("korean_emotion", config={"model": str(emotion_model_dir)})
    nlp.initialize()
    nlp.to_disk(both)
    return one, both


def test_a_saved_pipeline_can_stand_for_its_model(capsys, saved_pipelines) -> None:
    one, both = saved_pipelines
    expected = run(capsys, "analyze", "--sentiment-model", MODEL, "좋은 영화")[1]
    for source in (one, one / "korean_sentiment", both / "korean_sentiment"):
        code, out, err = run(capsys, "analyze", "--sentiment-model", source, "좋은 영화")
        assert (code, out, err) == (0, expected, "")
    code, _, err = run(capsys, "analyze", "--sentiment-model", both, "좋은 영화")
    assert code == 2 and len(err.splitlines()) == 1
    assert f"pass {both}/korean_sentiment/model or {both}/korean_emotion/model" in err


# --- evaluate on any labelled file ---------------------------------------------------------------


def test_evaluate_reads_csv_with_columns_and_a_label_map(capsys, tmp_path: Path) -> None:
    path = tmp_path / "stars.csv"
    path.write_text("review,stars\n" + STARS, encoding="cp949")  # as Excel saves it
    columns = ["--text-column", "review", "--label-column", "stars"]
    code, _, err = run(capsys, "evaluate", path, "--model", MODEL, *columns)
    assert code == 2 and "'5' (line 2 and 1 more)" in err and "--label-map" in err
    code, out, err = run(
        capsys, "evaluate", path, "--model", MODEL, *columns, "--label-map", STAR_MAP, "--json", "-"
    )
    note = f"korsent evaluate: note: {path}: read as CP949 (EUC-KR); --encoding overrides this.\n"
    assert (code, err) == (0, note)
    report = json.loads(out)
    assert report["counts"] == {"rows": 6, "empty": 0, "skipped": 0, "kept": 6}
    assert report["accuracy"] == 1.0  # the test model gets these obvious reviews right
    assert report["confusion"] == [[3, 0], [0, 3]]


def test_evaluate_reads_the_same_data_as_tsv_and_jsonl_with_named_labels(capsys, tmp_path) -> None:
    rows = [line.rsplit(",", 1) for line in STARS.splitlines()]
    named = [(text, "positive" if int(stars) > 3 else "negative") for text, stars in rows]
    tsv = tmp_path / "named.tsv"
    tsv.write_text("".join(f"{i}\t{t}\t{label}\n" for i, (t, label) in enumerate(named)), "utf-8")
    jsonl = tmp_path / "named.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in named), "utf-8"
    )
    reports = [
        run(capsys, "evaluate", tsv, "--model", MODEL, "--columns", "id,text,label", "--json", "-"),
        run(capsys, "evaluate", jsonl, "--model", MODEL, "--json", "-"),
    ]
    assert [code for code, _, _ in reports] == [0, 0]
    assert [json.loads(out)["confusion"] for _, out, _ in reports] == [[[3, 0], [0, 3]]] * 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--text-column", "review"],
            "it is read as NSMC (id, document, label with a header); give --format tsv",
        ),
        (["--no-quoting"], "--no-quoting cannot apply"),
        (["--format", "jsonl", "--columns", "a,b"], "--columns cannot apply"),
        (["-t", "emotion", "--format", "nsmc"], "-t emotion reads CSV/TSV/JSONL"),
        (["--label-map", "1"], "write VALUE=CLASS pairs"),
        (["--label-map", "1=good"], "'good' is not one of the classes"),
    ],
)
def test_evaluate_refuses_options_it_cannot_use(capsys, argv, message) -> None:
    code, out, err = run(
        capsys, "evaluate", FIXTURES / "nsmc_test_2000.txt", "--model", MODEL, *argv
    )
    assert (code, out) == (2, "") and message in err and len(err.splitlines()) == 1  # fmt: skip


def test_plot_needs_matplotlib_before_the_evaluation(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(
        capsys, "evaluate", FIXTURES / "nsmc_test_2000.txt", "--plot", tmp_path / "a.png"
    )
    assert (code, out) == (2, "") and "pip install 'spacy-korsent[plot]'" in err  # fmt: skip


def test_the_plot_names_the_model_and_shows_row_percentages() -> None:
    from spacy_korsent.evaluation.plot import confusion_figure

    matrix = np.array([[90, 10], [0, 4]])
    figure = confusion_figure(matrix, ["negative", "positive"], "test.txt, model my-model")
    axes = figure.axes[0]
    assert "my-model" in axes.get_title()
    assert axes.images[0].get_clim() == (0, 100)
    cells = sorted(text.get_text() for text in axes.texts)
    assert cells == ["0\n0.0%", "10\n10.0%", "4\n100.0%", "90\n90.0%"]


# --- train with star ratings -------------------------------------------------------------------


def train_args(path: Path, output: Path, *extra: object) -> list[object]:
    config = output.parent / "config.json"
    config.write_text(json.dumps({
        "model_type": "electra", "vocab_size": 32200, "embedding_size": 8, "hidden_size": 8,
        "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8,
    }))  # fmt: skip
    return [
        "train", path, "--output", output, "--init-config", config, "--tokenizer",
        KOELECTRA_VOCAB, "--epochs", 1, "--device", "cpu", "--threads", 1, "--quiet",
        "--text-column", "review", "--label-column", "stars", *extra,
    ]  # fmt: skip


def test_train_refuses_star_ratings_as_class_indices(capsys, tmp_path: Path) -> None:
    path = tmp_path / "stars.csv"
    path.write_text("review,stars\n" + STARS, encoding="utf-8-sig")  # Excel's "CSV UTF-8"
    output = tmp_path / "model"
    code, _, err = run(capsys, *train_args(path, output))
    assert code == 2 and not output.exists()
    assert "the labels are the integers 1,2,4,5, not class indices 0 to 3" in err
    assert f"--label-map {STAR_MAP}" in err
    code, _, err = run(
        capsys, *train_args(path, output, "--labels", "negative,positive", "--label-map", STAR_MAP)
    )
    assert code == 0, err
    config = json.loads((output / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
