"""The Ray engine on a local Ray instance: the local results, every row once, faults, formats.

One Ray instance (two CPUs) serves the whole module; each test starts its own pool of workers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
import xlsxwriter
from conftest import FIXTURES
from spacy.language import Language

import spacy_korsent.integrations.ray as korsent_ray
from spacy_korsent import blank_korean
from spacy_korsent.cli import main

NSMC_MODEL = FIXTURES / "nsmc-koelectra-tiny"


@pytest.fixture(scope="module", autouse=True)
def ray_instance() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def nsmc() -> list[dict]:
    """The first 300 reviews of the NSMC fixture slice, as rows."""
    with open(FIXTURES / "nsmc_test_2000.txt", encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))[:300]
    return [{"id": int(row["id"]), "text": row["document"], "label": row["label"]} for row in rows]


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The sentiment pipeline on the NSMC-trained test model, and where it is saved.

    Its ``max_length`` is lifted, as ``korsent analyze`` lifts it (a saved pipeline does not keep
    it): the results of the workers, which lift it too, for texts of any length.
    """
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(NSMC_MODEL)})
    path = tmp_path_factory.mktemp("pipeline")
    nlp.to_disk(path)
    nlp.max_length = sys.maxsize
    return nlp, path


def positive(nlp: Any, texts: list[str]) -> list[float]:
    return [doc._.sentiment["scores"]["positive"] for doc in nlp.pipe(texts)]


def in_order(dataset: Any) -> Any:
    dataset.context.execution_options.preserve_order = True
    return dataset


# --- the building block ------------------------------------------------------------------------


class FailingAnalyzer(korsent_ray.BatchAnalyzer):
    """A BatchAnalyzer whose pipeline raises on any doc with a 💥 in it (and only on those)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not Language.has_factory("fails_on_bombs"):  # registered in the worker's process
            Language.component("fails_on_bombs", func=fails_on_bombs)
        self.nlp.add_pipe("fails_on_bombs", first=True)


def fails_on_bombs(doc: Any) -> Any:
    if "💥" in doc.text:
        raise ValueError("a 💥 in the text")
    return doc


def test_workers_give_the_local_results_for_every_row_and_keep_every_column(
    nsmc, sentiment, monkeypatch
):
    nlp, saved = sentiment
    # Over spaCy's default nlp.max_length, which korsent analyze lifts: windowed like any text.
    too_long = "정말 재미있는 영화였다 " + "가" * 1_000_001
    odd = [(-1, None), (-2, ""), (-3, too_long), (-4, "이 영화 💥 최고")]
    rows = [*nsmc, *({"id": i, "text": text, "label": "?"} for i, text in odd)]
    ray.cloudpickle.register_pickle_by_value(__import__(__name__))  # workers cannot import tests
    monkeypatch.setattr(korsent_ray, "BatchAnalyzer", FailingAnalyzer)
    dataset = ray.data.from_items(rows)
    analyzed = korsent_ray.analyze_dataset(
        dataset, saved, workers=2, batch_size=32, problem_column="problem"
    )
    out = in_order(analyzed).take_all()

    assert [row["id"] for row in out] == [row["id"] for row in rows]
    assert all(o["text"] == r["text"] and o["label"] == r["label"] for o, r in zip(out, rows))
    analysed = [*nsmc, {"text": too_long}]
    expected = positive(nlp, [row["text"] for row in analysed])
    got = [row["sentiment_positive"] for row in [*out[: len(nsmc)], out[-2]]]
    assert max(abs(a - b) for a, b in zip(got, expected)) < 1e-5
    labels = [doc._.sentiment["label"] for doc in nlp.pipe(row["text"] for row in analysed)]
    assert [row["sentiment"] for row in [*out[: len(nsmc)], out[-2]]] == labels
    assert all(row["problem"] is None for row in out[: len(nsmc)])
    missing, empty, long, bomb = out[-4:]
    assert missing["problem"] == "no 'text'; written with empty results."
    assert missing["sentiment"] is None and missing["sentiment_positive"] is None
    assert empty["problem"] is None and empty["sentiment"] is None  # empty text, empty results
    assert long["problem"] is None
    assert bomb["problem"] == (
        "could not be analysed (ValueError: a 💥 in the text); written with empty results."
    )
    assert bomb["sentiment"] is None and bomb["sentiment_positive"] is None


class PidRecordingAnalyzer(korsent_ray.BatchAnalyzer):
    """A BatchAnalyzer that leaves its process id in ``pids`` for the test to kill it."""

    pids = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Path(self.pids, str(os.getpid())).touch()


def test_a_killed_worker_is_replaced_and_every_row_comes_out_once(
    nsmc, sentiment, tmp_path, monkeypatch
):
    nlp, saved = sentiment
    ray.cloudpickle.register_pickle_by_value(__import__(__name__))  # workers cannot import tests
    PidRecordingAnalyzer.pids = str(tmp_path)
    monkeypatch.setattr(korsent_ray, "BatchAnalyzer", PidRecordingAnalyzer)
    dataset = ray.data.from_items(nsmc)
    analyzed = in_order(korsent_ray.analyze_dataset(dataset, saved, workers=1, batch_size=10))

    out: list[dict] = []
    killed = None
    for batch in analyzed.iter_batches(batch_size=None, batch_format="pyarrow"):
        out.extend(batch.to_pylist())
        if killed is None:  # the only worker dies with most of the rows still to do
            (killed,) = (int(path.name) for path in tmp_path.iterdir())
            os.kill(killed, signal.SIGKILL)
            done_before = len(out)

    assert done_before < len(nsmc) / 2
    pids = {int(path.name) for path in tmp_path.iterdir()}
    assert killed in pids and len(pids) == 2  # the killed worker and its replacement
    assert [row["id"] for row in out] == [row["id"] for row in nsmc]
    expected = positive(nlp, [row["text"] for row in nsmc])
    assert max(abs(row["sentiment_positive"] - p) for row, p in zip(out, expected)) < 1e-5


def test_workers_build_an_onnx_pipeline_from_component_settings(nsmc, sentiment):
    nlp, _ = sentiment
    rows = nsmc[:60]
    settings = {"korean_sentiment": {"model": str(NSMC_MODEL), "backend": "onnx"}}
    analyzed = korsent_ray.analyze_dataset(
        ray.data.from_items(rows), components=settings, batch_size=20
    )
    out = in_order(analyzed).take_all()

    assert [row["id"] for row in out] == [row["id"] for row in rows]
    expected = positive(nlp, [row["text"] for row in rows])  # torch: fp32 ONNX is within 1e-4
    assert max(abs(row["sentiment_positive"] - p) for row, p in zip(out, expected)) < 1e-4


def test_settings_are_checked_before_any_worker_starts():
    dataset = ray.data.from_items([{"text": "좋다"}])
    with pytest.raises(ValueError, match="either a saved pipeline or component settings"):
        korsent_ray.analyze_dataset(dataset)
    with pytest.raises(ValueError, match="korean_sentiment and/or korean_emotion"):
        korsent_ray.analyze_dataset(dataset, components={"textcat": {}})


def test_a_shipped_pipeline_never_writes_outside_the_directory_it_is_unpacked_in(tmp_path):
    import srsly

    target = tmp_path / "pipeline"
    for name in ("../escaped", str(tmp_path / "escaped"), "a/../../escaped", "..\\escaped"):
        crafted = korsent_ray.ShippedPipeline(ray.put(srsly.msgpack_dumps({name: b"owned"})))
        with pytest.raises(ValueError, match="the shipped pipeline cannot be unpacked: the file"):
            crafted.unpack(target)
        assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


# --- the command line --------------------------------------------------------------------------

COLUMNS = ("id", "text", "label")


def write_input(path: Path, fmt: str, rows: list[dict]) -> None:
    if fmt == "jsonl":
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        path.write_text("".join(lines), encoding="utf-8")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif fmt == "xlsx":
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet()
        for r, row in enumerate([dict(zip(COLUMNS, COLUMNS)), *rows]):
            for c, column in enumerate(COLUMNS):
                sheet.write(r, c, row[column])
        book.close()
    else:
        with open(path, "w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, COLUMNS, delimiter="," if fmt == "csv" else "\t")
            writer.writeheader()
            writer.writerows(rows)


def read_output(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig", newline="") as stream:
            return list(csv.DictReader(stream, delimiter="," if path.suffix == ".csv" else "\t"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_same(got: Any, expected: Any) -> None:
    """Equal values, probabilities (also those written as text) within 1e-5."""
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for key in expected:
            assert_same(got[key], expected[key])
    elif isinstance(expected, list):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert_same(a, b)
    elif isinstance(expected, str) and expected.startswith(("[{", "{")):  # JSON in a CSV cell
        assert_same(json.loads(got), json.loads(expected))
    elif _number(expected) is not None and _number(got) is not None and "." in str(expected):
        assert math.isclose(_number(got), _number(expected), abs_tol=1e-5)
    else:
        assert got == expected


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


CASES = [  # input format, a directory of two files (else one file), output format
    # (one JSON Lines file to JSON Lines: the test of joining a cluster below)
    ("jsonl", True, "csv"),
    ("xlsx", False, "parquet"),  # the cells' types: ints stay int64
    ("csv", True, "jsonl"),
    ("tsv", False, "tsv"),
    ("tsv", True, "jsonl"),
    ("parquet", False, "jsonl"),
    ("parquet", True, "parquet"),
]


@pytest.mark.parametrize("fmt, directory, output", CASES)
def test_command_line_reads_each_format_and_writes_what_the_local_run_writes(
    capsys, tmp_path, nsmc, emotion_model_dir, fmt, directory, output
):
    rows = nsmc[:40]
    if directory:
        source = tmp_path / "parts"
        source.mkdir()
        for part, half in enumerate((rows[:25], rows[25:])):
            write_input(source / f"part-{part}.{fmt}", fmt, half)
        (source / "_SUCCESS").touch()  # what Spark leaves next to its parts: not read
    else:
        source = tmp_path / f"reviews.{fmt}"
        write_input(source, fmt, rows)
    local_input = tmp_path / f"all.{fmt}"
    write_input(local_input, fmt, rows)
    options = ["--sentiment-model", str(NSMC_MODEL), "-q", "--batch-size", "16"]
    if directory:  # both analyses, per sentence too: nested results in every output format
        options += ["-t", "both", "--emotion-model", str(emotion_model_dir), "--sentences"]
    local_output = tmp_path / f"local.{output}"  # both take the format from the suffix
    ray_output = tmp_path / f"ray.{output}"

    assert main(["analyze", "-i", str(local_input), "-o", str(local_output), *options]) == 0
    on_ray = ["-i", str(source), "-o", str(ray_output), "--engine", "ray"]
    on_ray += ["--workers", "1"]  # two workers in the tests above; one starts faster
    assert main(["analyze", *on_ray, *options]) == 0, capsys.readouterr().err

    assert_same(read_output(ray_output), read_output(local_output))
    if output == "parquet":  # the same columns and native types: numbers, lists, structs
        schema = pq.read_schema(ray_output)
        assert schema == pq.read_schema(local_output)
        assert schema.field("sentiment_score").type == pa.float64()
        if fmt == "xlsx":
            assert schema.field("id").type == pa.int64()
        if directory:
            assert schema.field("emotion_labels").type == pa.list_(pa.string())
            assert pa.types.is_struct(schema.field("emotions_top").type.value_type)


def test_command_line_joins_a_cluster_and_reports_rows_as_the_local_run_does(
    capsys, tmp_path, nsmc, ray_instance
):
    """A separate process joins this module's Ray instance with --address, as on a cluster.

    Also the JSON Lines file case of the formats above.
    """
    source = tmp_path / "reviews.jsonl"
    lines = [json.dumps(row, ensure_ascii=False) for row in nsmc[:5]]
    lines[1:1] = ['{"id": 99}', '{"id": 98, "text": 7}', "{not json"]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = ["-i", str(source), "--sentiment-model", str(NSMC_MODEL), "-q"]
    address = ray_instance.get_runtime_context().gcs_address

    joined = korsent("analyze", *common, "--engine", "ray", "--address", address)
    assert main(["analyze", *common]) == 0
    local_out, local_err = capsys.readouterr()

    assert joined.returncode == 0, joined.stderr
    assert messages(joined.stderr) == messages(local_err)
    assert f"{source}:2: no 'text'; written with empty results." in joined.stderr
    assert f"{source}:3: a int, not a string, as 'text'" in joined.stderr
    assert f"{source}:4: not valid JSON" in joined.stderr
    assert_same(jsonl(joined.stdout), jsonl(local_out))


def test_command_line_reads_an_export_as_the_local_run_does_and_makes_its_page(
    capsys, tmp_path, nsmc
):
    """A CP949 export without a header line, with broken rows, in blocks of four rows: the same
    notes and warnings (line numbers, order), the same output and the same --html page."""
    reviews = [row for row in nsmc[:12] if in_cp949(row["text"])][:9]
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows(
        [row["id"], row["text"], row["label"]] for row in reviews
    )
    lines = table.getvalue().splitlines()
    lines[2:2] = ['7,"따옴표가 안 닫힌 리뷰,1', "8,짧은 행", "9"]  # a stray quote, short rows
    source = tmp_path / "엑셀.csv"
    source.write_bytes(("\n".join(lines) + "\n").encode("cp949"))
    common = ["-i", str(source), "--columns", "id,text,label", "--batch-size", "4", "-q"]
    common += ["--sentiment-model", str(NSMC_MODEL), "--html-limit", "5"]

    def analyze(name: str, *engine: str) -> tuple[list[str], list[dict], str]:
        output, page = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.html"
        argv = ["analyze", *common, "-o", str(output), "--html", str(page), *engine]
        assert main(argv) == 0
        err = messages(capsys.readouterr().err)
        return err, jsonl(output.read_text("utf-8")), page.read_text("utf-8")

    local_err, local_rows, local_page = analyze("local")
    # Two workers on Ray's two CPUs: without --cpus-per-worker they share them.
    ray_err, ray_rows, ray_page = analyze("ray", "--engine", "ray", "--workers", "2")

    assert ray_err == local_err
    assert local_err == [
        f"korsent analyze: note: {source}: read as CP949 (EUC-KR); --encoding overrides this.",
        f"korsent analyze: warning: {source}:3: a quote opens a field and does not close on "
        "this line; the line was read with the quote as a plain character.",
        f"korsent analyze: warning: {source}:4: 2 fields where the header has 3; kept "
        "(missing fields empty, extra fields left out).",
        f"korsent analyze: warning: {source}:5: 1 fields where the header has 3; kept "
        "(missing fields empty, extra fields left out).",
        f"korsent analyze: warning: {source}:5: no 'text'; written with empty results.",
    ]
    assert len(ray_rows) == len(lines)
    assert_same(ray_rows, local_rows)
    assert ray_page == local_page
    assert f"The first 5 of {len(lines)} documents" in ray_page
    ids = re.findall(r'<div class="korsent-doc-id">([^<]*)</div>', ray_page)
    assert ids == [f"#{n} · id {row['id']}" for n, row in enumerate(local_rows[:5], 1)]


def in_cp949(text: str) -> bool:
    return text.encode("cp949", "replace").decode("cp949") == text


def korsent(*argv: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "spacy_korsent", *argv]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8")


def messages(stderr: str) -> list[str]:
    """The command's own lines (Ray adds notes of its own)."""
    return [line for line in stderr.splitlines() if line.startswith("korsent ")]


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--workers", "2"], "--workers only work with --engine ray"),
        (["--engine", "ray", "--device", "cpu"], "--device does not apply to --engine ray"),
        (["--engine", "ray", "--workers", "3", "--cpus-per-worker", "2"], "lower --workers"),
        (["--engine", "ray", "--backend", "onnx-int8", "--gpus-per-worker", "1"], "runs on CPUs"),
        (["--engine", "ray", "--backend", "torch-float16"], "cannot go to Ray workers"),
    ],
)
def test_unusable_engine_options_exit_2(capsys, tmp_path, extra, message):
    source = tmp_path / "reviews.jsonl"  # three blocks of one row: work for three workers
    source.write_text('{"text": "좋다"}\n' * 3, encoding="utf-8")
    extra = [*extra, "--batch-size", "1"]
    argv = ["analyze", "-i", str(source), "--sentiment-model", str(NSMC_MODEL), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unusable_inputs_exit_2_before_the_workers_start(capsys, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.csv").write_text("text\n좋다\n", encoding="utf-8")
    (mixed / "b.jsonl").write_text('{"text": "좋다"}\n', encoding="utf-8")
    no_column = tmp_path / "reviews.csv"
    no_column.write_text("body\n좋다\n", encoding="utf-8")
    parts = tmp_path / "parts"
    parts.mkdir()
    for name in ("a.csv", "b.csv"):
        (parts / name).write_text("text\n좋다\n", encoding="utf-8")
    no_text = tmp_path / "reviews.jsonl"
    no_text.write_text('{"body": "좋다"}\n', encoding="utf-8")
    table = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"text": ["좋다"]}), table)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,text\n1,café déjà vu\n".encode("latin-1"))
    ray_run = ["--engine", "ray", "--sentiment-model", str(NSMC_MODEL)]
    cases = [
        (["좋다", *ray_run], "reads a file or a directory"),
        (["-i", str(mixed), *ray_run], "mixes formats (csv, jsonl)"),
        (["-i", str(no_column), *ray_run], "no column 'text'"),
        (["-i", str(no_column), "-o", str(no_column), *ray_run], "is the input file"),
        (["-i", str(parts), "--html", str(parts / "b.csv"), *ray_run], "is the input file"),
        (["-i", str(tmp_path / "none.csv"), *ray_run], "no such file or directory"),
        (["-i", str(table), "--columns", "a,text", *ray_run], "--columns cannot apply"),
        (["-i", str(latin1), *ray_run], "neither UTF-8, UTF-16 with a byte order mark, nor"),
        (["-i", str(no_text), *ray_run], "no row has a text in the field 'text'"),
    ]
    for argv, message in cases:
        assert main(["analyze", *argv]) == 2
        assert message in capsys.readouterr().err


def test_a_worker_that_cannot_start_ends_the_run_with_one_line(capsys, tmp_path, monkeypatch):
    def no_room(*args: Any) -> None:
        raise MemoryError("no room for the model on this node")

    ray.cloudpickle.register_pickle_by_value(korsent_ray)  # the workers get the broken loader
    monkeypatch.setattr(korsent_ray, "_load_saved", no_room)
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"text": "좋다"}\n', encoding="utf-8")
    argv = ["-i", str(source), "--sentiment-model", str(NSMC_MODEL), "--engine", "ray"]
    try:
        assert main(["analyze", *argv]) == 2
    finally:
        ray.cloudpickle.unregister_pickle_by_value(korsent_ray)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("korsent analyze: error: the Ray run failed:")
    assert "MemoryError: no room for the model on this node" in line


BROKEN_WORKERS = """
import sys
import ray
import xlsxwriter
import spacy_korsent.integrations.ray as korsent_ray
from spacy_korsent.cli import main

def no_room(*args):
    raise MemoryError("no room for the model on this node")

ray.cloudpickle.register_pickle_by_value(korsent_ray)  # the workers get the broken loader
korsent_ray._load_saved = no_room
sys.exit(main(["analyze", *sys.argv[1:]]))
"""


def test_a_failed_run_on_its_own_ray_instance_ends_with_its_reason_alone(tmp_path):
    """The command starts its own Ray instance (its daemons forked after the tokenizer ran)."""
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"text": "좋다"}\n', encoding="utf-8")
    argv = ["-i", str(source), "--sentiment-model", str(NSMC_MODEL), "--engine", "ray"]
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}
    command = [sys.executable, "-c", BROKEN_WORKERS, *argv]
    run = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", env=env)

    assert run.returncode == 2, run.stderr
    assert "huggingface/tokenizers" not in run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("korsent analyze: error: the Ray run failed:"), run.stderr
    assert "MemoryError: no room for the model on this node" in last


@pytest.mark.slow
def test_sigterm_ends_a_ray_run_with_whole_rows(tmp_path, nsmc, ray_instance):
    """SIGTERM (timeout, a scheduler) after the first rows: the Parquet file is closed with its
    footer and every row in it is whole; the driver leaves Ray and exits with 143."""
    source, output = tmp_path / "reviews.jsonl", tmp_path / "out.parquet"
    rows = [{**row, "id": n} for n, row in enumerate(nsmc * 20)]  # 6,000: still running
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    address = ray_instance.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "spacy_korsent", "analyze", "-i", str(source), "-o"]
    command += [str(output), "--sentiment-model", str(NSMC_MODEL), "--engine", "ray"]
    command += ["--address", address, "--batch-size", "16", "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not (output.exists() and output.stat().st_size > 4096):  # a row group is written
        assert process.poll() is None, process.communicate()[1].decode()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    err = process.communicate(timeout=120)[1].decode()

    assert process.returncode == 143, err
    assert messages(err)[-1] == "korsent analyze: terminated (SIGTERM)."
    written = pq.read_table(output).to_pylist()
    assert 0 < len(written) < len(rows)
    assert [int(row["id"]) for row in written] == list(range(len(written)))
    assert all(row["sentiment"] in ("negative", "positive") for row in written)


def test_workers_apply_the_calibration_saved_with_the_model(tmp_path):
    from spacy_korsent.calibration import Calibration, NeutralBand

    model = Path(shutil.copytree(NSMC_MODEL, tmp_path / "model"))
    Calibration(neutral_band=NeutralBand(0.1, 0.5)).write(model)  # p: 0.989, 0.036, 0.33
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(model)})
    nlp.to_disk(tmp_path / "pipeline")
    texts = ["이 영화 정말 재미있어요! 배우들 연기도 최고!", "그냥 그랬다", "평범한 영화"]
    dataset = ray.data.from_items([{"text": text} for text in texts])
    out = in_order(korsent_ray.analyze_dataset(dataset, tmp_path / "pipeline", workers=1))
    assert [row["sentiment"] for row in out.take_all()] == ["positive", "negative", "neutral"]
