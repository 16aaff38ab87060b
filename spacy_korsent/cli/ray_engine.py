"""``korsent analyze --engine ray``: the local analysis, spread over the workers of a Ray cluster.

A run, and why it goes this way:

1. The pipeline is built as the local run builds it (the same checks, errors and notes) and saved
   to a temporary directory, which each worker loads once: from this machine's disk on a local Ray
   instance, through Ray's object store when joining a cluster (whose nodes cannot read it).
2. This process reads the input with the local run's reader (``files/readers.py``: the same
   formats, encodings, repairs and warnings with line numbers; Parquet too) and puts the texts in
   Ray's object store, numbered, in blocks of --batch-size rows.
3. A pool of workers (Ray actors, one pipeline each; see ``integrations/ray.py``) analyses the
   blocks; Ray replaces a worker that dies and gives its blocks to a live one.
4. The results come back in input order. This process checks their row numbers, reads the input
   a second time to join each row with its results, and writes the rows with the local run's
   writers (``files/writers.py``): the input columns never go through Ray, so the output is what
   the local run writes.

The input is read twice and must not change during the run; its texts stay in the object store
until the run ends (Ray spills them to disk when it is full).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .. import scratch
from ..files.fields import ResultFields, checked_text
from ..files.parquet import read_parquet_records
from ..files.readers import InputError, Layout, Record, guess_format, read_records
from ..files.writers import Writer
from ..interrupts import own_handlers
from .common import CommandError, Warnings, check_file_options, positive_int, progress

if TYPE_CHECKING:
    from spacy.language import Language

ENGINES = ("local", "ray")
PARQUET = "parquet"
ROW = "_korsent_row"  # a block's global row numbers, to check that each row comes back once
PROBLEM = "_korsent_problem"  # why a worker could not analyse a row
RAY_ONLY = ("workers", "cpus_per_worker", "gpus_per_worker", "address")


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and the options of the Ray engine."""
    group = parser.add_argument_group("engine (see 'Running on a cluster' in the README)")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: in this process (default); ray: on the workers of a Ray cluster, or of a "
        "local Ray instance (reads -i FILE or DIRECTORY: JSONL, CSV, TSV, text, Parquet)",
    )
    group.add_argument(
        "--workers",
        metavar="N",
        type=positive_int,
        help="Ray workers, each with its own copy of the models (default: as many as the "
        "cluster's CPUs, or GPUs, allow; at most one per block of --batch-size rows)",
    )
    group.add_argument(
        "--cpus-per-worker",
        metavar="N",
        type=positive_int,
        help="CPUs (threads) per Ray worker (default: a node's CPUs, at most 4, and with "
        "--workers no more than the cluster's CPUs shared among them; 1 with GPUs)",
    )
    group.add_argument(
        "--gpus-per-worker",
        metavar="G",
        type=float,
        help="GPUs per Ray worker, e.g. 1, or 0.5 for two workers on a GPU (default: none)",
    )
    group.add_argument(
        "--address",
        metavar="ADDR",
        help="join the Ray cluster at ADDR (auto, or HEAD_IP:6379; run on a node of it) "
        "instead of starting a local Ray instance",
    )


def on_ray(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for the Ray engine; options that need it are refused without it."""
    if args.engine == "ray":
        return True
    given = [f"--{name.replace('_', '-')}" for name in RAY_ONLY if getattr(args, name) is not None]
    if given:
        raise CommandError(f"{', '.join(given)} only work with --engine ray.")
    return False


def run(args: argparse.Namespace, fmt: str, warn: Warnings) -> int:
    """Analyze the input on Ray and write it in ``fmt``; 2 when it cannot be used at all."""
    from .analyze import (  # analyze imports this module
        analysis_pipeline,
        check_outputs,
        first_row,
        no_text_error,
        result_writer,
        write_page,
    )

    _check_options(args)
    files = input_files(args.input, args.fmt)
    for file in files:
        check_file_options(file.path, file.fmt, args)
    check_outputs(args, fmt, [file.path for file in files])
    if args.address is not None:
        _check_reachable(args.address)
    try:
        from ..integrations.ray import ShippedPipeline
    except ImportError as err:
        raise CommandError(f"{err}.") from err

    reader = Reader(files, args)
    reader.check_headers()  # a missing column or an unreadable file, before the models load
    # The first read: its warnings as the local run gives them, the first row before the models.
    records = reader.records(warn, text_only=True)
    first = first_row(records, args.input)
    nlp = analysis_pipeline(args, warn)
    fields = ResultFields(nlp)
    page = Page(nlp, args.html_limit) if args.html else None
    writer = result_writer(fmt, args, fields, warn)
    try:
        # The writer closes before Ray shuts down, which takes seconds (SIGTERM's grace period).
        with scratch.temporary("korsent-ray-") as work, _ray(args.address) as ray, closing(writer):
            saved = work / "pipeline"
            nlp.to_disk(saved)
            del nlp  # the workers load their own copies (the --html page keeps one here)
            pipeline = saved if args.address is None else ShippedPipeline.put(saved)
            rows = chain([first], records)
            blocks = put_text_blocks(rows, args.text_column, args.batch_size, warn)
            if not blocks.with_text:
                raise no_text_error(args.text_column)
            results = _analyzed(ray, blocks.refs, pipeline, args, warn)
            try:
                _write(args, fields, reader, blocks, results, writer, page, warn)
            except ray.exceptions.RayError as err:  # a worker that cannot start, a lost cluster
                last = [line for line in str(err).splitlines() if line.strip()][-1].strip()
                raise CommandError(
                    f"the Ray run failed: {last} (Ray's logs: /tmp/ray/session_latest/logs)"
                ) from err
    finally:
        writer.close()
    if page is not None:
        write_page(page.report, args)
    warn.summarize()
    return 0


def _check_options(args: argparse.Namespace) -> None:
    if args.texts or not args.input or args.input == "-":
        raise CommandError(
            "--engine ray reads a file or a directory of files: give it with -i/--input."
        )
    if args.device:
        raise CommandError(
            "--device does not apply to --engine ray: give the workers GPUs with --gpus-per-worker."
        )


@dataclass(frozen=True)
class InputFile:
    path: str
    fmt: str


def input_files(source: str, fmt: Optional[str]) -> list[InputFile]:
    """The files to read: ``source`` itself, or every data file under a directory, by path.

    In a directory, files are chosen by suffix (.jsonl/.json/.ndjson, .csv, .tsv, .txt,
    .parquet/.pq), or all of them with ``fmt``; hidden files and ones starting with ``_`` (such as
    Spark's ``_SUCCESS``) are left out. All must have one format.
    """
    path = Path(source)
    if path.is_file():
        return [InputFile(source, fmt or _format_of(path))]  # named as the local run names it
    if not path.is_dir():
        raise InputError(f"cannot read {path}: no such file or directory.")
    found = [
        InputFile(str(file), fmt or _format_of(file))
        for file in sorted(p for p in path.rglob("*") if p.is_file())
        if not file.relative_to(path).as_posix().startswith((".", "_"))
        and "/." not in file.relative_to(path).as_posix()
        and (fmt or file.suffix.lower() in _SUFFIXES)
    ]
    formats = sorted({file.fmt for file in found})
    if not found:
        raise InputError(
            f"{path}: no data files (.jsonl, .csv, .tsv, .parquet, .txt) in the directory."
        )
    if len(formats) > 1:
        raise InputError(
            f"{path}: the directory mixes formats ({', '.join(formats)}); analyze one at a "
            "time, or name the one to read with --input-format."
        )
    return found


PARQUET_SUFFIXES = (".parquet", ".pq")
_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".txt", *PARQUET_SUFFIXES)


def _format_of(path: Path) -> str:
    return PARQUET if path.suffix.lower() in PARQUET_SUFFIXES else guess_format(path)


class Reader:
    """The input's rows, in order, as often as they are needed, read as the local run reads."""

    def __init__(self, files: list[InputFile], args: argparse.Namespace) -> None:
        self.files = files
        self.column = args.text_column
        self.options = (args.columns, args.quoting, args.encoding)

    def records(
        self, warn: Optional[Warnings] = None, *, text_only: bool = False
    ) -> Iterator[tuple[str, Record]]:
        """``(where, record)`` for every row; where is "FILE:LINE" (Parquet: FILE:ROW).

        With ``warn`` the rows' problems (and a detected encoding) are reported as the local run
        reports them; without, the read is silent (the second read). ``text_only`` reads only
        the text column of a Parquet file (other formats are parsed whole anyway).
        """
        for file in self.files:
            for record in self._file_records(file, warn, text_only):
                yield f"{file.path}:{record.line}", record

    def check_headers(self) -> None:
        """Read each file's header (or first row), quietly: a missing column, an encoding that
        cannot be read or a file that is not Parquet ends the run before anything starts."""
        for file in self.files:
            next(self._file_records(file, None, text_only=True), None)

    def _file_records(
        self, file: InputFile, warn: Optional[Warnings], text_only: bool
    ) -> Iterator[Record]:
        from .analyze import kept  # analyze imports this module

        if file.fmt == PARQUET:
            return read_parquet_records(file.path, text_column=self.column, text_only=text_only)
        records = read_records(
            file.path,
            Layout(file.fmt, *self.options),
            text_column=self.column,
            required=(self.column,) if file.fmt in ("csv", "tsv") else (),
            warn=warn or _silent,
            note=warn.note if warn is not None else None,
        )
        return kept(records, warn) if warn is not None else records


def _silent(message: str) -> None:
    """A second read's warnings: the first read reported them."""


@dataclass
class TextBlocks:
    """What the first read put in the object store, and what it found."""

    refs: list[Any] = field(default_factory=list)
    rows: int = 0
    with_text: int = 0


def put_text_blocks(
    records: Iterator[tuple[str, Record]], column: str, batch_size: int, warn: Warnings
) -> TextBlocks:
    """Put the numbered texts in the object store, ``batch_size`` a block; report rows without a
    text as the local run does (after each block's reading, as it does after each batch's)."""
    import pyarrow as pa
    import ray

    blocks = TextBlocks()
    while chunk := list(islice(records, batch_size)):
        texts = []
        for where, record in chunk:
            text, problem = checked_text(record.row.get(column), column)
            if problem is not None:
                warn(f"{where}: {problem}")
            texts.append(text)
            blocks.with_text += problem is None
        start = blocks.rows
        table = pa.table(
            {
                ROW: pa.array(range(start, start + len(chunk)), type=pa.int64()),
                column: pa.array(texts, type=pa.string()),
            }
        )
        blocks.refs.append(ray.put(table))
        blocks.rows += len(chunk)
    return blocks


class Page:
    """The --html page, made on this machine: the workers return results, not docs, so the blocks
    that hold the shown rows are analysed again here (in the same batches as a local run) and
    their first rows explained; the rest are counted."""

    def __init__(self, nlp: Language, limit: int) -> None:
        from ..explain.report import HtmlReport

        self.nlp = nlp
        self.limit = limit
        self.report = HtmlReport(nlp, limit=limit)

    def add(self, texts: list[str]) -> None:
        if len(self.report.fragments) >= self.limit:
            self.report.count(len(texts))
            return
        with self.nlp.memory_zone():
            self.report.add(list(self.nlp.pipe(texts, batch_size=len(texts))))


@contextmanager
def _ray(address: Optional[str]) -> Iterator[Any]:
    """Ray, started locally or joined at ``address``, and shut down at the end.

    In a process where Ray already runs (a notebook, the tests), that instance is used as it is.
    """
    import ray

    if ray.is_initialized():
        yield ray
        return
    try:  # quiet: this command reports what matters; SIGTERM stays korsent's (ray.init takes it)
        with own_handlers():
            if address is None:
                # Ray's daemons are forked from this process, whose tokenizer has run batches on
                # threads: unless told that this is configured, tokenizers warns in each child (in
                # the middle of this command's messages) and turns threads off there, for the
                # workers too. The workers size their tokenizer threads themselves.
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
                ray.init(
                    address="local",
                    include_dashboard=False,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                )
            else:
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except ConnectionError as err:
        token = ""
        if not os.environ.get("RAY_AUTH_MODE"):
            token = (
                " If the cluster uses token authentication (new clusters do), set "
                "RAY_AUTH_MODE=token and give its token ('ray get-auth-token' on the head) "
                "in RAY_AUTH_TOKEN."
            )
        raise CommandError(
            f"cannot join the Ray cluster at {address}: {err}.{token} {_START}"
        ) from err
    try:
        yield ray
    finally:
        ray.shutdown()


_START = "Start one with 'ray start --head', or leave out --address for a local Ray instance."


def _check_reachable(address: str) -> None:
    """Fail in seconds on a HOST:PORT that does not answer (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray says at once what it cannot find
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise CommandError(
            f"cannot join the Ray cluster at {address}: nothing answers there "
            f"({err.strerror or err}). {_START}"
        ) from err


def _analyzed(
    ray: Any, refs: list[Any], pipeline: Any, args: argparse.Namespace, warn: Warnings
) -> Any:
    """The dataset of results: each block analysed by a worker, in input order."""
    import ray.data

    from ..integrations.ray import analyze_dataset

    gpus = args.gpus_per_worker or 0
    wanted = min(args.workers, len(refs)) if args.workers else None
    cpus = args.cpus_per_worker or (1 if gpus else _default_cpus(ray, wanted))
    workers = wanted or min(_fitting_workers(ray, cpus, gpus), len(refs))
    _check_fit(ray, workers, cpus, gpus, warn, local=args.address is None)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notes on the run, for a CLI
    results = analyze_dataset(
        ray.data.from_arrow_refs(refs),
        pipeline,
        text_column=args.text_column,
        problem_column=PROBLEM,
        workers=workers,
        cpus_per_worker=cpus,
        gpus_per_worker=gpus,
        batch_size=None,  # a block is a batch: --batch-size rows
    )
    context = results.context
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False  # this command draws its own
    context.print_on_execution_start = False
    return results


def _default_cpus(ray: Any, workers: Optional[int] = None) -> int:
    """A node's CPUs, at most 4 (the smallest node's): threads in one process share a batch
    as fast as processes do, in a fraction of the memory (see benchmarks/ray_scaling.py). With
    a number of ``workers`` asked for, no more than the cluster's CPUs shared among them."""
    nodes = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
    cpus = min(4, int(min((cpus for cpus in nodes if cpus), default=1)))
    if workers:
        cpus = min(cpus, int(ray.cluster_resources().get("CPU", 0) // workers))
    return max(1, cpus)


def _fitting_workers(ray: Any, cpus: int, gpus: float) -> int:
    resources = ray.cluster_resources()
    if gpus:
        return max(1, int(resources.get("GPU", 0) // gpus))
    return max(1, int(resources.get("CPU", 1) // cpus))


def _check_fit(
    ray: Any, workers: int, cpus: int, gpus: float, warn: Warnings, *, local: bool
) -> None:
    """Refuse a pool that a local Ray instance cannot hold (it would wait for ever)."""
    resources = ray.cluster_resources()
    short = [
        f"{workers} x {need:g} {kind}s but Ray has {resources.get(kind, 0):g}"
        for kind, need in (("CPU", cpus), ("GPU", gpus))
        if need and workers * need > resources.get(kind, 0)
    ]
    if short and local:
        options = "--workers or --cpus-per-worker" if cpus > 1 else "--workers"
        raise CommandError(f"the workers need {'; '.join(short)}: lower {options}.")
    if short:
        warn(f"the workers need {'; '.join(short)}; the run waits until the cluster has them.")


def _write(
    args: argparse.Namespace,
    fields: ResultFields,
    reader: Reader,
    blocks: TextBlocks,
    results: Any,
    writer: Writer,
    page: Optional[Page],
    warn: Warnings,
) -> None:
    """Join each input row with its results (the second read), report problems, write."""
    rows = reader.records()  # silent: the first read reported the input's problems
    names = fields.names
    column = args.text_column
    done = 0
    with progress(args.quiet, lambda: blocks.rows) as bar:
        for table in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            numbers = table.column(ROW).to_pylist()
            if numbers != list(range(done, done + len(numbers))):
                raise RuntimeError(f"Ray returned rows {numbers[:3]}... where {done} was due.")
            done += len(numbers)
            chunk = list(islice(rows, len(numbers)))
            results_rows = table.select([*names, PROBLEM]).to_pylist()
            for (where, _), result in zip(chunk, results_rows):
                if result[PROBLEM]:
                    warn(f"{where}: {result[PROBLEM]}")
            if page is not None:
                page.add([checked_text(record.row.get(column), column)[0] for _, record in chunk])
            writer.write(
                [
                    {**record.row, **{name: result[name] for name in names}}
                    for (_, record), result in zip(chunk, results_rows)
                ]
            )
            bar.update(len(numbers))
    if done != blocks.rows:
        raise RuntimeError(f"Ray returned {done:,} of {blocks.rows:,} rows.")
