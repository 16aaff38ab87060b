"""``korsent evaluate``: NSMC cleaning and metrics, emotion metrics, --json, --plot, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES

from spacy_korsent.cli import main
from spacy_korsent.files.labelled import read_nsmc
from spacy_korsent.metrics import macro_f1
from spacy_korsent.taxonomy import EMOTIONS, GROUP_NAMES, LABELS

PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def pipeline(factory: str, model: Path) -> Any:
    from spacy_korsent import blank_korean

    nlp = blank_korean()
    nlp.add_pipe(factory, config={"model": str(model)})
    return nlp


@pytest.fixture(scope="module")
def nsmc_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 200 fixture rows plus an empty, a duplicate and two conflicting rows."""
    header, *rows = (FIXTURES / "nsmc_test_2000.txt").read_text(encoding="utf-8").splitlines()
    first, second = (row.split("\t") for row in rows[:2])
    extra = [
        "e1\t\t1",  # empty
        f"d1\t{first[1]}\t{first[2]}",  # duplicate with the same label
        f"d2\t{first[1]}\t{1 - int(first[2])}",  # duplicates with a conflicting label
        f"d3\t{second[1]}\t{1 - int(second[2])}",
    ]
    path = tmp_path_factory.mktemp("nsmc") / "slice.txt"
    path.write_text("\n".join([header, *rows[:200], *extra]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reversed_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sentiment fixture's weights with class 0 named positive: predictions go by name."""
    from conftest import build_model_dir

    return build_model_dir(
        tmp_path_factory.mktemp("reversed"),
        arch="electra",
        num_labels=2,
        id2label={0: "positive", 1: "negative"},
    )


def nsmc_expectations(path: Path, model: Path) -> dict[str, Any]:
    """Metrics computed by hand from the library's own predictions on the cleaned texts."""
    data = read_nsmc(path)
    pred = [
        int(doc._.sentiment["label"] == "positive")
        for doc in pipeline("korean_sentiment", model).pipe(data.texts)
    ]
    pairs = list(zip(data.labels, pred))
    tp, tn = pairs.count((1, 1)), pairs.count((0, 0))
    fp, fn = pairs.count((0, 1)), pairs.count((1, 0))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "accuracy": (tp + tn) / len(pairs),
        "precision": precision,
        "recall": recall,
        "confusion": [[tn, fp], [fn, tp]],
    }


@pytest.mark.parametrize("model", ["sentiment_model_dir", "reversed_model_dir"])
def test_nsmc_end_to_end(capsys, request, nsmc_slice: Path, tmp_path: Path, model: str) -> None:
    model_dir = request.getfixturevalue(model)
    report_path, plot_path = tmp_path / "metrics.json", tmp_path / "confusion.png"
    code, out, err = run(
        capsys, str(nsmc_slice), "--model", str(model_dir), "--json", str(report_path),
        "--plot", str(plot_path), "--batch-size", "64",
    )  # fmt: skip
    wrote = "the confusion matrix and the reliability diagram"
    assert (code, err) == (0, f"korsent evaluate: wrote {wrote} to {plot_path}\n")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["counts"] == {
        "rows": 204,
        "empty": 1,
        "skipped": 0,
        "duplicates": 3,
        "conflicting": 2,
        "kept": 200,
    }
    expected = nsmc_expectations(nsmc_slice, model_dir)
    assert report["confusion"] == expected.pop("confusion")
    for key, value in expected.items():
        assert report[key] == pytest.approx(value), key
    assert sum(map(sum, report["confusion"])) == report["documents"] == 200
    p, r = expected["precision"], expected["recall"]
    assert report["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
    assert report["task"] == "sentiment" and report["unscored"] == 0
    assert report["docs_per_second"] == pytest.approx(200 / report["seconds"])
    assert re.search(r"^  kept +200$", out, re.MULTILINE)
    assert "(2 with a conflicting label)" in out
    assert f"  accuracy        {expected['accuracy']:.4f}" in out
    assert plot_path.read_bytes().startswith(PNG)


def emotion_rows() -> list[tuple[str, Any]]:
    """Texts with labels written every accepted way: name, gloss, index, index as a string."""
    texts = [
        line.split("\t")[1]
        for line in (FIXTURES / "nsmc_test_2000.txt").read_text(encoding="utf-8").splitlines()[1:81]
    ]
    rows = []
    for number, text in enumerate(texts):
        index = (number * 7) % 60
        emotion = EMOTIONS[index]
        rows.append((text, [emotion.label, emotion.gloss, index, str(index)][number % 4]))
    return rows


def test_emotion_metrics_match_the_library(capsys, emotion_model_dir: Path, tmp_path: Path) -> None:
    rows = emotion_rows()
    jsonl = tmp_path / "emotions.jsonl"
    lines = [json.dumps({"text": t, "label": label}, ensure_ascii=False) for t, label in rows]
    lines.append(json.dumps({"text": "  ", "label": 3}))  # empty after stripping: dropped
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tsv = tmp_path / "emotions.tsv"
    tsv.write_text(
        "label\ttext\n" + "".join(f"{label}\t{t}\n" for t, label in rows), encoding="utf-8"
    )

    plot_path = tmp_path / "groups.png"
    code, out, err = run(
        capsys,
        str(jsonl),
        "-t",
        "emotion",
        "--model",
        str(emotion_model_dir),
        "--json",
        "-",
        "--plot",
        str(plot_path),
    )
    wrote = "the confusion matrix and the reliability diagram"
    assert (code, err) == (0, f"korsent evaluate: wrote {wrote} to {plot_path}\n")
    report = json.loads(out)
    assert report["counts"] == {"rows": 81, "empty": 1, "skipped": 0, "kept": 80}

    gold = [(n * 7) % 60 for n in range(80)]
    docs = list(pipeline("korean_emotion", emotion_model_dir).pipe([t for t, _ in rows]))
    labels = [LABELS.index(d._.emotions["label"]) for d in docs]
    groups = [GROUP_NAMES.index(d._.emotions["group"]) for d in docs]
    top3 = [[t["label"] for t in d._.emotions["top"]] for d in docs]
    assert report["accuracy"] == pytest.approx(np.mean([g == p for g, p in zip(gold, labels)]))
    assert report["macro_f1"] == pytest.approx(macro_f1(gold, labels))
    assert report["top3_accuracy"] == pytest.approx(
        np.mean([EMOTIONS[g].label in t for g, t in zip(gold, top3)])
    )
    assert report["group_accuracy"] == pytest.approx(
        np.mean([g // 10 == p for g, p in zip(gold, groups)])
    )
    matrix = np.array(report["group_confusion"])
    assert matrix.shape == (6, 6) and matrix.sum() == 80
    assert matrix.sum(axis=1).tolist() == np.bincount(np.array(gold) // 10, minlength=6).tolist()
    assert matrix.sum(axis=0).tolist() == np.bincount(groups, minlength=6).tolist()
    assert plot_path.read_bytes().startswith(PNG)

    code, out, _ = run(
        capsys, str(tsv), "-t", "emotion", "--model", str(emotion_model_dir), "--json", "-"
    )
    from_tsv = json.loads(out)
    assert code == 0 and from_tsv["counts"] == {"rows": 80, "empty": 0, "skipped": 0, "kept": 80}
    for key in ("accuracy", "macro_f1", "top3_accuracy", "group_accuracy", "group_confusion"):
        assert from_tsv[key] == report[key]


def test_emotion_text_report(capsys, emotion_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "few.jsonl"
    path.write_text('{"text": "오늘 너무 기뻐요", "label": "기쁨"}\n', encoding="utf-8")
    code, out, _ = run(capsys, str(path), "-t", "emotion", "--model", str(emotion_model_dir))
    assert code == 0
    assert "confusion matrix of the six emotion groups (rows: gold, columns: predicted)" in out
    for name in ("accuracy", "macro-F1", "top-3 accuracy", "group accuracy"):
        assert f"  {name:<16}" in out
    assert "1 documents in" in out


@pytest.mark.parametrize(
    "name, content, argv, message",
    [
        ("missing.txt", None, [], "cannot read"),
        (
            "a.txt",
            "id\tdocument\tlabel\n1\t좋다\t5\n",
            [],
            "['negative', 'neutral', 'positive']: '5' (line 2)",
        ),
        ("a.txt", "id\tdocument\tlabel\n1\t\t1\n", [], "no documents are left to evaluate"),
        (
            "e.jsonl",
            '{"text": "좋다", "label": "행복"}\n',
            ["-t", "emotion"],
            "(60 in all)]: '행복' (line 1)",
        ),
        (
            "e.tsv",
            "text\temotion\n좋다\t기쁨\n",
            ["-t", "emotion"],
            "no column 'label' in the header",
        ),
        (
            "a.txt",
            "id\tdocument\tlabel\n1\t좋다\t1\n",
            ["--threshold", "0.3"],
            "--threshold applies to multi-label emotion models",
        ),
        (
            "e.jsonl",
            '{"text": "좋다", "label": "기쁨"}\n',
            ["-t", "emotion", "--threshold", "0.3"],
            "is single-label (it predicts its top label)",
        ),
    ],
)
def test_unusable_files_exit_2(
    capsys, sentiment_model_dir: Path, emotion_model_dir: Path, tmp_path: Path,
    name: str, content: str | None, argv: list[str], message: str,
) -> None:  # fmt: skip
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    model = emotion_model_dir if "emotion" in argv else sentiment_model_dir
    code, out, err = run(capsys, str(path), "--model", str(model), *argv)
    assert (code, out) == (2, "")
    assert err.startswith("korsent evaluate: error: ") and message in err
    assert len(err.splitlines()) == 1


def test_a_sentiment_model_with_other_classes_is_refused_not_scored_as_two(
    capsys, nsmc_slice: Path, tmp_path: Path
) -> None:
    from conftest import build_model_dir

    four = dict(enumerate(["bad", "meh", "good", "great"]))
    model = build_model_dir(tmp_path / "four", arch="electra", num_labels=4, id2label=four)
    code, out, err = run(capsys, str(nsmc_slice), "--model", str(model))
    assert (code, out) == (2, "")
    assert "has 4 classes (bad, meh, good, great)" in err and len(err.splitlines()) == 1


def test_the_per_class_table_lists_the_classes_in_the_matrix_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Most texts are positive, fewest negative: the table still reads negative, neutral,
    positive, as the matrix under it and the model's labels do."""
    reviews = [("최고의 영화", "positive")] * 5 + [("그냥 그랬다", "neutral")] * 3
    reviews += [("최악이다", "negative")] * 2
    path = tmp_path / "rated.csv"
    path.write_text("text,label\n" + "".join(f"{t},{g}\n" for t, g in reviews), encoding="utf-8")
    code, out, err = run(capsys, str(path), "--model", str(FIXTURES / "nsmc-koelectra-tiny"), "-q")
    assert code == 0, err
    lines = out.splitlines()
    table = lines.index(next(line for line in lines if line.split()[:2] == ["class", "F1"]))
    listed = [line.split()[0] for line in lines[table + 1 : table + 4]]
    matrix = lines.index("sentiment confusion matrix (rows: gold, columns: predicted)")
    assert listed == lines[matrix + 1].split() == ["negative", "neutral", "positive"]
    assert [line.split()[0] for line in lines[matrix + 2 : matrix + 5]] == listed
