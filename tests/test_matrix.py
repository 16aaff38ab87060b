"""Every model kind through every consumer (issue 29): the same answer wherever it shows up.

Kinds: the NSMC test model (binary), a copy with a neutral band (calibrated with the library), a
three-class model trained with ``korsent train``, a random 60-class model of the seed emotion
model's shape, the KOTE test model (multi-label, saved thresholds) and a student distilled with
``korsent distill`` from the banded teacher; each on torch and onnx-int8.

Consumers, for every kind on both backends (12 cells): ``analyze -t both --sentences`` (the
kind's model next to KOTE or the NSMC model) to JSON Lines (with ``--html``), CSV, TSV, .xlsx,
Parquet and the table, and ``report`` on each file it reads; ``analyze_frame``, DocBin with user
data and ``render``; ``evaluate --json --plot``; ``spacy evaluate`` on the saved pipeline. Per
kind: ``export --quantize``. Calibrated models (banded, KOTE) on both backends: ``calibrate``
again. The student fixture is ``distill`` from the banded teacher.

Every cell ends with exit code 0 (none of these crossings is refused), one output row per input
row, every answer of its kind's shape (:mod:`spacy_korsent.answers`) and no traceback (the
commands run in this process: an exception fails the test).

Also for every cell: ``korsent serve``'s application answers the texts with what the pipeline
gives them.

Cost: each model is built once per module, each pipeline once per module (the commands' and the
server's pipeline builder is memoized here, as one long-lived process would keep it) and each
model's ONNX export once (the suite's export cache); Ray starts once. The Ray engine and
``n_process=2`` run on a representative subset (:data:`RAY_CELLS`, :data:`FORK_CELLS`); the rest
is the full cross.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, TINY_MODEL

from spacy_korsent.answers import EXTENSIONS, AnswerKind
from spacy_korsent.calibration import Calibration, NeutralBand
from spacy_korsent.cli import main
from spacy_korsent.components.pipeline import PipelineOptions, build_pipeline
from spacy_korsent.components.registry import EMOTION, SENTIMENT
from spacy_korsent.files.readers import Layout
from spacy_korsent.files.sources import read_file_records

KOTE_MODEL = FIXTURES / "kote-koelectra-tiny"
FACTORY = {"sentiment": SENTIMENT, "emotion": EMOTION}
KINDS = ("binary", "banded", "three-class", "emotion-60", "kote", "student")
TASK = {
    "binary": "sentiment", "banded": "sentiment", "three-class": "sentiment",
    "student": "sentiment", "emotion-60": "emotion", "kote": "emotion",
}  # fmt: skip
BACKENDS = ("torch", "onnx-int8")
CELLS = [(kind, backend) for kind in KINDS for backend in BACKENDS]
RAY_CELLS = [("banded", "torch"), ("three-class", "onnx-int8"), ("kote", "onnx-int8")]
"""The Ray engine's cells: a score-less answer, an n-class model and multi-label on onnx-int8."""
FORK_CELLS = [("banded", "onnx-int8"), ("emotion-60", "torch"), ("student", "torch")]
"""``nlp.pipe(n_process=2)``'s cells."""
OUTPUTS = ("jsonl", "csv", "tsv", "xlsx", "parquet")
"""Every format ``korsent analyze`` writes and ``korsent report`` reads (and ``table``, which
only ``analyze`` writes)."""

# p(positive) by the NSMC test model: 0.989, 0.036, 0.13, 0.33, 0.171, 0.885
TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "그냥 그랬다. 두 번은 안 본다.",
    "볼만은 한데 좀 지루했다",
    "평범한 영화",
    "배우는 좋았는데 스토리가 아쉽다",
    "나쁘지 않았어요",
    "",  # a row without a text: written, with empty results
]
IDS = [f"r{i}" for i in range(len(TEXTS))]
BAND = NeutralBand(0.1, 0.5)
RATINGS = [10, 6, 5, 6, 7, 9]
RATING_MAP = "1-4=negative,5-8=neutral,9-10=positive"


def korsent(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Run a command here; (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def succeeded(done: tuple[int, str, str]) -> str:
    code, out, err = done
    assert code == 0, err
    assert "Traceback" not in err
    return out


# --- building each model and pipeline once ----------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def built_once() -> Iterator[None]:
    """Each pipeline the commands and the server ask for made once (the ONNX exports are made
    once by the export cache, which the suite keeps for the session)."""
    import spacy_korsent.cli.analysis as analysis
    import spacy_korsent.cli.evaluate as evaluate
    import spacy_korsent.serving.service as service

    @functools.cache
    def pipeline(models: tuple, options: PipelineOptions, sentences: bool) -> Any:
        return build_pipeline(dict(models), options, sentences=sentences)

    def cached(models: dict, options: PipelineOptions, *, sentences: bool = False, note=None):
        return pipeline(tuple(models.items()), options, sentences)

    with pytest.MonkeyPatch.context() as patch:
        for module in (analysis, evaluate, service):
            patch.setattr(module, "build_pipeline", cached)
        yield


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix")


@pytest.fixture(scope="module")
def inputs(work: Path) -> dict[str, Path]:
    """The texts to analyse, and labelled files for each task."""
    from spacy_korsent.taxonomy import LABELS

    texts = work / "texts.jsonl"
    rows = [{"id": ident, "text": text} for ident, text in zip(IDS, TEXTS)]
    texts.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    rated = work / "rated.tsv"
    rated.write_text(
        "text\tstars\n" + "".join(f"{t}\t{r}\n" for t, r in zip(TEXTS, RATINGS)), "utf-8"
    )
    emotions = work / "emotions.jsonl"
    emotions.write_text(
        "".join(
            json.dumps({"text": text, "label": LABELS[i * 11]}, ensure_ascii=False) + "\n"
            for i, text in enumerate(TEXTS[:-1])
        ),
        "utf-8",
    )
    kote_labels = (FIXTURES / "kote_labels.txt").read_text("utf-8").split()
    kote = work / "kote.jsonl"
    kote.write_text(
        "".join(
            json.dumps({"text": t, "label": kote_labels[i : i + 3]}, ensure_ascii=False) + "\n"
            for i, t in enumerate(TEXTS[:-1])
        ),
        "utf-8",
    )
    return {"texts": texts, "rated": rated, "emotion-60": emotions, "kote": kote}


@pytest.fixture(scope="module")
def models(
    work: Path,
    emotion_model_dir: Path,
    inputs: dict[str, Path],
    capsys_module: Any,
) -> dict[str, Path]:
    """Each kind's model directory, built once: the band with the library, the three-class
    model with ``korsent train``, the student with ``korsent distill`` from the banded model."""
    banded = Path(shutil.copytree(TINY_MODEL, work / "banded"))
    Calibration(temperature=1.0, neutral_band=BAND).write(banded)
    train = work / "three.jsonl"
    lines = (FIXTURES / "nsmc_train_600.txt").read_text("utf-8").splitlines()[1:41]
    names = ("negative", "positive")
    train.write_text(
        "".join(
            json.dumps(
                {"text": text, "label": "neutral" if i % 3 == 0 else names[int(label)]},
                ensure_ascii=False,
            )
            + "\n"
            for i, (_, text, label) in enumerate(line.split("\t") for line in lines)
        ),
        "utf-8",
    )
    three = work / "three-class"
    options = ["--labels", "negative,neutral,positive", "--epochs", "1", "--batch-size", "8", "-q"]
    succeeded(capsys_module("train", train, "--model", TINY_MODEL, "-o", three, *options))
    student = work / "student"
    texts = work / "unlabelled.txt"
    texts.write_text("\n".join(line.split("\t")[1] for line in lines) + "\n", "utf-8")
    options = ["--layers", "1", "--epochs", "1", "--batch-size", "8", "--speed-texts", "0", "-q"]
    cache = work / "distill-cache"
    succeeded(
        capsys_module(
            "distill",
            "--teacher",
            banded,
            "--texts",
            texts,
            "-o",
            student,
            *options,
            "--cache",
            cache,
        )
    )
    return {
        "binary": TINY_MODEL,
        "banded": banded,
        "three-class": three,
        "emotion-60": emotion_model_dir,
        "kote": KOTE_MODEL,
        "student": student,
    }


@pytest.fixture(scope="module")
def capsys_module() -> Any:
    """``korsent`` in this process for module fixtures (which cannot use capsys)."""

    def run(*argv: object) -> tuple[int, str, str]:
        return main([str(arg) for arg in argv]), "", ""

    return run


def partner(kind: str) -> tuple[str, Path]:
    """The other task's model for ``-t both``: KOTE next to sentiment, NSMC next to emotion."""
    return ("emotion", KOTE_MODEL) if TASK[kind] == "sentiment" else ("sentiment", TINY_MODEL)


def model_options(kind: str, models: dict[str, Path]) -> list[object]:
    other, model = partner(kind)
    return [f"--{TASK[kind]}-model", models[kind], f"--{other}-model", model]


def pipeline(kind: str, backend: str, models: dict[str, Path], both: bool = True) -> Any:
    """The pipeline ``korsent analyze -t both --sentences`` builds for the cell (memoized), or
    the model's component alone."""
    import spacy_korsent.cli.analysis as analysis

    return analysis.build_pipeline(
        cell_models(kind, models, both),
        PipelineOptions(batch_size=4, backend=backend),
        sentences=both,
    )


def cell_models(kind: str, models: dict[str, Path], both: bool = True) -> dict[str, str]:
    """Factory -> model of the cell's pipeline: the kind's model, with its partner if ``both``."""
    other, model = partner(kind)
    chosen = {TASK[kind]: str(models[kind]), **({other: str(model)} if both else {})}
    return {FACTORY[task]: chosen[task] for task in ("sentiment", "emotion") if task in chosen}


def analyze(capsys: Any, kind: str, backend: str, models: dict, inputs: dict, *more: object):
    """``korsent analyze -t both`` of the texts with the cell's model and its partner."""
    return korsent(
        capsys,
        "analyze",
        "-i",
        inputs["texts"],
        "-t",
        "both",
        *model_options(kind, models),
        "--backend",
        backend,
        "--batch-size",
        "4",
        "-q",
        *more,
    )


def labelled(kind: str, inputs: dict[str, Path]) -> tuple[Path, list[str]]:
    """A labelled file for the kind's task, and the options that read it (with -t and -q)."""
    task = ["-t", TASK[kind], "-q"]
    if TASK[kind] == "sentiment":
        columns = ["--text-column", "text", "--label-column", "stars", "--label-map", RATING_MAP]
        return inputs["rated"], [*task, *columns]
    return inputs[kind], task


def answer_kinds(nlp: Any) -> dict[str, AnswerKind]:
    """Each task's answer kind in the pipeline."""
    pipes = [nlp.get_pipe(name) for name in nlp.pipe_names]
    return {
        pipe.answer_kind.task: pipe.answer_kind for pipe in pipes if hasattr(pipe, "answer_kind")
    }


def check_answers(docs: list[Any], kinds: dict[str, AnswerKind]) -> None:
    """Every doc's and sentence's answer has its kind's shape; empty texts get empty answers."""
    for doc in docs:
        for task, kind in kinds.items():
            answer = doc._.get(EXTENSIONS[task])
            kind.check(answer)
            assert (answer["label"] is None) == (not doc.text)
            for sent in doc.sents if doc.has_annotation("SENT_START") else ():
                kind.check(sent._.get(EXTENSIONS[task]))


def read_rows(path: Path, fmt: str) -> list[dict]:
    return [r.row for r in read_file_records(str(path), fmt, Layout(), text_column="text")]


# --- the cells ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, backend", CELLS)
def test_analyze_to_every_format_and_report_each(kind, backend, models, inputs, work, capsys):
    """``analyze -t both --sentences`` to every format (``--html`` once); ``report`` on each."""
    nlp = pipeline(kind, backend, models)
    names = answer_kinds(nlp)
    cell = work / f"{kind}-{backend}"
    cell.mkdir()
    for fmt in OUTPUTS:
        out = cell / f"out.{fmt}"
        html = ["--html", cell / "page.html"] if fmt == "jsonl" else []
        succeeded(analyze(capsys, kind, backend, models, inputs, "--sentences", "-o", out, *html))
        rows = read_rows(out, fmt)
        assert [row["text"] or "" for row in rows] == TEXTS
        for row in rows:
            for task, answer_kind in names.items():
                assert set(answer_kind.columns()) <= set(row)
                label = row[task] or None
                assert label is None or label in answer_kind.decision_labels
                score = row[f"{task}_score"]
                assert (score in (None, "")) == answer_kind.score_is_none(label), row
        report = cell / f"report-{fmt}.html"
        succeeded(korsent(capsys, "report", "-i", out, "-o", report, "--id-column", "id"))
        shown = report.read_text("utf-8")
        for task in names:  # the row without a text was read too
            assert f"1 rows without a result for {task} (no text)" in shown
    page = (cell / "page.html").read_text("utf-8")
    assert page.count("<article") == len(TEXTS)
    table = cell / "out.txt"
    succeeded(
        analyze(capsys, kind, backend, models, inputs, "--sentences", "-f", "table", "-o", table)
    )
    lines = table.read_text("utf-8").splitlines()  # a row's line, then its sentences' (└ ...)
    assert [line.split()[0] for line in lines[2:] if not line[0].isspace()] == IDS


@pytest.mark.parametrize("kind, backend", CELLS)
def test_frame_docbin_and_render(kind, backend, models):
    """``analyze_frame``, DocBin (with user data) and ``render`` give each kind's answers."""
    import pandas as pd
    from spacy.tokens import DocBin

    from spacy_korsent import analyze_frame, render

    nlp = pipeline(kind, backend, models)
    kinds = answer_kinds(nlp)
    docs = list(nlp.pipe(TEXTS))
    check_answers(docs, kinds)
    restored = list(DocBin(docs=docs, store_user_data=True).get_docs(nlp.vocab))
    for doc, again in zip(docs, restored):
        for task in kinds:
            assert again._.get(EXTENSIONS[task]) == doc._.get(EXTENSIONS[task])
    html = render(restored, jupyter=False)
    assert html is not None and html.count("<article") == len(TEXTS)
    frame = analyze_frame(pd.DataFrame({"text": TEXTS}), nlp=nlp, progress=False)
    assert len(frame) == len(TEXTS)
    for task, kind_ in kinds.items():
        for name, holds in kind_.columns().items():
            expected = "float64" if holds == "score" else "object"
            assert str(frame[name].dtype) == expected, name
        scores = frame[f"{task}_score"]
        labels = frame[task]
        assert [bool(pd.isna(s)) for s in scores] == [kind_.score_is_none(v) for v in labels]


@pytest.mark.parametrize("kind, backend", CELLS)
def test_the_server_answers_what_the_pipeline_gives(kind, backend, models):
    """``korsent serve``'s application (in process) gives every text the fields ``analyze``
    writes for it, of its kind's shape, per document and per sentence."""
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from spacy_korsent.files.fields import ResultFields
    from spacy_korsent.serving.app import create_app
    from spacy_korsent.serving.service import ServerSettings

    nlp = pipeline(kind, backend, models)
    expected = [ResultFields(nlp).of(doc) for doc in nlp.pipe(TEXTS)]
    options = PipelineOptions(batch_size=4, backend=backend)
    app = create_app(ServerSettings(cell_models(kind, models), options, sentences=True))
    with TestClient(app) as client:
        for _ in range(600):
            if client.get("/health").status_code == 200:
                break
            time.sleep(0.05)
        response = client.post("/analyze", json={"texts": TEXTS, "sentences": True})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results == expected
    for task, kind_ in answer_kinds(nlp).items():
        labels = [result[task] for result in results]
        scores = [result[f"{task}_score"] for result in results]
        assert [s is None for s in scores] == [kind_.score_is_none(v) for v in labels]


@pytest.mark.parametrize("kind, backend", CELLS)
def test_evaluate_with_plot_and_json(kind, backend, models, inputs, work, capsys):
    metrics, plot = work / f"eval-{kind}-{backend}.json", work / f"eval-{kind}-{backend}.png"
    file, options = labelled(kind, inputs)
    run = ["evaluate", file, "-m", models[kind], *options, "--backend", backend]
    succeeded(korsent(capsys, *run, "--json", metrics, "--plot", plot))
    summary = json.loads(metrics.read_text("utf-8"))
    assert summary["backend"] == backend and plot.stat().st_size > 0
    if kind in ("banded", "three-class"):  # a model that answers neutral is scored three ways
        assert summary["labels"] == ["negative", "neutral", "positive"]


@pytest.mark.parametrize("kind, backend", CELLS)
def test_spacy_evaluate_on_the_saved_pipeline(kind, backend, models, work):
    """``spacy evaluate`` loads the saved pipeline and scores it on gold cats."""
    import spacy
    from spacy.cli.evaluate import evaluate
    from spacy.tokens import DocBin

    nlp = pipeline(kind, backend, models, both=False)
    saved = work / f"pipeline-{kind}-{backend}"
    nlp.to_disk(saved)
    loaded = spacy.load(saved)
    labels = list(answer_kinds(loaded)[TASK[kind]].decision_labels)
    gold = DocBin()
    for i, text in enumerate(TEXTS[:-1]):
        doc = loaded.make_doc(text)
        doc.cats = {label: float(j == i % len(labels)) for j, label in enumerate(labels)}
        gold.add(doc)
    corpus = work / f"gold-{kind}-{backend}.spacy"
    gold.to_disk(corpus)
    scores = evaluate(str(saved), str(corpus), silent=True)
    assert f"{TASK[kind]}_score" in scores


@pytest.mark.parametrize("kind", KINDS)
def test_export(kind, models, work, capsys):
    """``korsent export --quantize`` writes a pipeline that answers as the model does."""
    import spacy

    out = work / f"exported-{kind}"
    succeeded(korsent(capsys, "export", "-t", TASK[kind], models[kind], out, "--quantize"))
    exported = spacy.load(out)
    kinds = answer_kinds(exported)
    check_answers(list(exported.pipe(TEXTS)), kinds)
    assert (
        kinds[TASK[kind]] == answer_kinds(pipeline(kind, "torch", models, both=False))[TASK[kind]]
    )


@pytest.mark.parametrize("kind", ["banded", "kote"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_calibrate_an_already_calibrated_model(kind, backend, models, inputs, work, capsys):
    """Calibrating a model that carries a calibration starts from its raw probabilities: the
    banded copy gets the fit the plain model gets."""
    file, options = labelled(kind, inputs)
    fitted = {}
    for model in (kind, "binary") if kind == "banded" else (kind,):
        out = work / f"recalibrated-{model}-{kind}-{backend}"
        run = ["calibrate", "-i", file, "-m", models[model], *options, "--backend", backend]
        succeeded(korsent(capsys, *run, "-o", out))
        fitted[model] = json.loads((out / "calibration.json").read_text("utf-8"))
    assert fitted[kind]
    assert fitted[kind] == fitted.get("binary", fitted[kind])


def test_the_student_distilled_from_a_calibrated_teacher_answers_as_a_sentiment_model(models):
    """``korsent distill`` from the banded teacher (the ``models`` fixture) wrote a student."""
    nlp = pipeline("student", "torch", models)
    assert answer_kinds(nlp)["sentiment"].labels == ("negative", "positive")
    assert (models["student"] / "distill.json").is_file()


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("kind, backend", RAY_CELLS)
def test_the_ray_engine(kind, backend, models, inputs, work, capsys, ray_instance):
    """``analyze --engine ray`` writes the local run's rows."""
    out = work / f"ray-{kind}-{backend}.jsonl"
    local = work / f"local-{kind}-{backend}.jsonl"
    for engine, path in (("ray", out), ("local", local)):
        page = work / f"{engine}-{kind}-{backend}.html"
        succeeded(
            analyze(
                capsys,
                kind,
                backend,
                models,
                inputs,
                "--engine",
                engine,
                "-o",
                path,
                "--html",
                page,
            )
        )
    ray_rows, local_rows = read_rows(out, "jsonl"), read_rows(local, "jsonl")
    assert len(ray_rows) == len(TEXTS)
    decisions = ("text", "sentiment", "emotion", "emotion_labels")
    for mine, theirs in zip(ray_rows, local_rows):
        assert mine.keys() == theirs.keys()
        assert [mine[name] for name in decisions] == [theirs[name] for name in decisions]
        assert (mine["sentiment_score"] is None) == (theirs["sentiment_score"] is None)


def test_a_page_that_fails_on_the_ray_engine_keeps_every_row(
    models, inputs, work, capsys, monkeypatch, ray_instance
):
    """The --html page of a Ray run is made here; when it fails, the workers' rows are written
    all the same and the run exits 3 (as the local run does, tests/cli/test_optional_products)."""
    import spacy_korsent.explain.report as page_module
    from spacy_korsent.cli.products import PRODUCT_FAILED

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the renderer broke on purpose")

    monkeypatch.setattr(page_module, "doc_html", broken)
    out, page = work / "ray-broken-page.jsonl", work / "ray-broken-page.html"
    more = ["--engine", "ray", "-o", out, "--html", page]
    code, _, err = analyze(capsys, "banded", "torch", models, inputs, *more)
    assert code == PRODUCT_FAILED and "the --html page failed" in err and "Traceback" not in err
    assert [row["id"] for row in read_rows(out, "jsonl")] == IDS and not page.exists()


@pytest.mark.parametrize("kind, backend", FORK_CELLS)
def test_two_worker_processes(kind, backend, models):
    nlp = pipeline(kind, backend, models)
    docs = list(nlp.pipe(TEXTS, n_process=2, batch_size=2))
    assert [doc.text for doc in docs] == TEXTS
    check_answers(docs, answer_kinds(nlp))
