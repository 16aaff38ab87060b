"""``korsent analyze --engine ray``: the local analysis, spread over the workers of a Ray cluster.

A run, and why it goes this way:

1. The pipeline is built as the local run builds it (the same checks, errors and notes) and saved
   to a temporary directory, which each worker loads once: from this machine's disk on a local Ray
   instance, through Ray's object store when joining a cluster (whose nodes cannot read it).
2. This process reads the input as the local run does (``files/sources.py``: a file or a directory
   of files; the same formats, Parquet too, encodings, repairs and warnings with line numbers) and
   puts the texts in Ray's object store, numbered, in blocks of --batch-size rows.
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

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .. import scratch
from ..files.fields import ResultFields, checked_text
from ..files.readers import InputError, Record
from ..files.sources import InputRows
from ..files.writers import Writer
from ..interrupts import own_handlers
from .analysis import (
    PAGE,
    AnalysisRequest,
    RayOptions,
    analysis_pipeline,
    check_outputs,
    first_row,
    html_report,
    no_text_error,
    result_writer,
    write_page,
)
from .common import CommandError, Warnings, progress
from .products import Products

if TYPE_CHECKING:
    from spacy.language import Language

    from ..explain.report import HtmlReport

ROW = "_korsent_row"  # a block's global row numbers, to check that each row comes back once
PROBLEM = "_korsent_problem"  # why a worker could not analyse a row


def run(request: AnalysisRequest, warn: Warnings) -> int:
    """Analyze the request's file or directory on Ray; 2 when it cannot be used at all."""
    source = Path(request.input or "-")
    if not (source.is_file() or source.is_dir()):  # the input is read twice: no pipes
        raise InputError(f"cannot read {source}: no such file or directory.")
    check_outputs(request, [file.path for file in request.files])
    options = request.ray
    if options.address is not None:
        _check_reachable(options.address)
    try:
        from ..integrations.ray import ShippedPipeline
    except ImportError as err:
        raise CommandError(f"{err}.") from err

    reader = request.rows()
    reader.check_headers()  # a missing column or an unreadable file, before the models load
    # The first read: its warnings as the local run gives them, the first row before the models.
    records = reader.records(warn, warn.note, text_only=True)
    first = first_row(records, request.source)
    nlp = analysis_pipeline(request, warn)
    fields = ResultFields(nlp)
    products = Products("analyze")
    page = Page(nlp, html_report(request, nlp, first[1]), products) if request.html else None
    writer = result_writer(request, fields, warn)
    column = request.text_column
    try:
        # The writer closes before Ray shuts down, which takes seconds (SIGTERM's grace period).
        with scratch.temporary("korsent-ray-") as work, _ray(options.address) as ray:
            saved = work / "pipeline"
            nlp.to_disk(saved)
            del nlp  # the workers load their own copies (the --html page keeps one here)
            pipeline = saved if options.address is None else ShippedPipeline.put(saved)
            rows = chain([first], records)
            blocks = put_text_blocks(rows, column, request.pipeline.batch_size, warn)
            if not blocks.with_text:
                raise no_text_error(column)
            results = _analyzed(ray, blocks.refs, pipeline, column, options, warn)
            try:
                _write(request, fields, reader, blocks, results, writer, page, warn)
            except ray.exceptions.RayError as err:  # a worker that cannot start, a lost cluster
                last = [line for line in str(err).splitlines() if line.strip()][-1].strip()
                raise CommandError(
                    f"the Ray run failed: {last} (Ray's logs: /tmp/ray/session_latest/logs)"
                ) from err
    finally:
        writer.close()
    if page is not None and request.html:
        html, report = request.html, page.report
        products.make(PAGE, lambda: write_page(report, html, request.input))
    warn.summarize()
    return products.exit_code


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

    def __init__(self, nlp: Language, report: HtmlReport, products: Products) -> None:
        self.nlp = nlp
        self.report = report
        self.products = products
        """Where a failure of the page is said: the rows are written all the same."""

    def add(self, texts: list[str], rows: list[dict]) -> None:
        if len(self.report.fragments) >= self.report.limit:
            self.report.count(len(texts))
            return
        self.products.make(PAGE, lambda: self._render(texts, rows))

    def _render(self, texts: list[str], rows: list[dict]) -> None:
        with self.nlp.memory_zone():
            self.report.add(list(self.nlp.pipe(texts, batch_size=len(texts))), rows)


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
    ray: Any, refs: list[Any], pipeline: Any, column: str, options: RayOptions, warn: Warnings
) -> Any:
    """The dataset of results: each block analysed by a worker, in input order."""
    import ray.data

    from ..integrations.ray import analyze_dataset

    gpus = options.gpus_per_worker or 0
    wanted = min(options.workers, len(refs)) if options.workers else None
    cpus = options.cpus_per_worker or (1 if gpus else _default_cpus(ray, wanted))
    workers = wanted or min(_fitting_workers(ray, cpus, gpus), len(refs))
    _check_fit(ray, workers, cpus, gpus, warn, local=options.address is None)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notes on the run, for a CLI
    results = analyze_dataset(
        ray.data.from_arrow_refs(refs),
        pipeline,
        text_column=column,
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
    request: AnalysisRequest,
    fields: ResultFields,
    reader: InputRows,
    blocks: TextBlocks,
    results: Any,
    writer: Writer,
    page: Optional[Page],
    warn: Warnings,
) -> None:
    """Join each input row with its results (the second read), report problems, write."""
    rows = reader.records()  # silent: the first read reported the input's problems
    names = fields.names
    column = request.text_column
    done = 0
    with progress(request.quiet, lambda: blocks.rows) as bar:
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
                page.add(
                    [checked_text(record.row.get(column), column)[0] for _, record in chunk],
                    [record.row for _, record in chunk],
                )
            writer.write(
                [
                    {**record.row, **{name: result[name] for name in names}}
                    for (_, record), result in zip(chunk, results_rows)
                ]
            )
            bar.update(len(numbers))
    if done != blocks.rows:
        raise RuntimeError(f"Ray returned {done:,} of {blocks.rows:,} rows.")
