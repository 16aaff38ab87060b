"""``korsent analyze --engine ray``: the local analysis, spread over the workers of a Ray cluster.

A run, and why it goes this way:

1. The pipeline is built as the local run builds it (the same checks and errors) and saved to a
   temporary directory, which each worker loads once: from this machine's disk on a local Ray
   instance, through Ray's object store when joining a cluster (whose nodes cannot read it).
2. This process reads the input with the local run's reader (the same formats, repairs and
   warnings) and puts the texts in Ray's object store, numbered, in blocks of --batch-size rows.
3. A pool of workers (Ray actors, one pipeline each; see ``integrations/ray.py``) analyses the
   blocks; Ray replaces a worker that dies and gives its blocks to a live one.
4. The results come back in input order. This process checks their row numbers, reads the input
   a second time to join each row with its results, and writes the rows with the local run's
   writers: the input columns never go through Ray, so they come out as the local run writes them.

The input is read twice and must not change during the run; its texts stay in the object store
until the run ends (Ray spills them to disk when it is full).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..files.fields import ResultFields, checked_text
from ..files.readers import InputError, guess_format, read_rows
from .common import EMOTION, SENTIMENT, CommandError, Warnings, build_pipeline, positive_int

if TYPE_CHECKING:
    import pyarrow as pa

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
        "local Ray instance (reads -i FILE or DIRECTORY: JSONL, CSV, TSV, Parquet)",
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
        help="CPUs (threads) per Ray worker (default: a node's CPUs, at most 4; 1 with GPUs)",
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


@dataclass(frozen=True)
class InputFile:
    path: Path
    fmt: str


def run(args: argparse.Namespace) -> int:
    """Analyze the input on Ray; 2 when it cannot be used at all."""
    _check_options(args)
    files = input_files(Path(args.input), args.input_format)
    output_format = PARQUET if _is_parquet(args.output) else args.format
    _check_output(args.output, files)
    if args.address is not None:
        _check_reachable(args.address)
    try:
        from ..integrations.ray import ShippedPipeline
    except ImportError as err:
        raise CommandError(f"{err}.") from err
    from .analyze import TASKS  # analyze imports this module

    warn = Warnings("analyze")
    reader = Reader(files, args.text_column, source=args.input)
    reader.check_first_row()  # a missing column or an empty input, before the models load
    chosen = {SENTIMENT: args.sentiment_model, EMOTION: args.emotion_model}
    nlp = build_pipeline({f: chosen[f] for f in TASKS[args.task]}, args, sentences=args.sentences)
    fields = ResultFields(nlp)
    with tempfile.TemporaryDirectory(prefix="korsent-ray-") as saved, _ray(args.address) as ray:
        nlp.to_disk(saved)
        del nlp  # the workers load their own copies
        pipeline = saved if args.address is None else ShippedPipeline.put(saved)
        blocks = reader.put_text_blocks(args.batch_size, warn, schema=output_format == PARQUET)
        results = _analyzed(ray, blocks.refs, pipeline, args, warn)
        try:
            _write(args, output_format, fields, reader, blocks, results, warn)
        except ray.exceptions.RayError as err:  # a worker that cannot start, a lost cluster
            last = [line for line in str(err).splitlines() if line.strip()][-1].strip()
            raise CommandError(
                f"the Ray run failed: {last} (Ray's logs: /tmp/ray/session_latest/logs)"
            ) from err
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


def input_files(path: Path, fmt: Optional[str]) -> list[InputFile]:
    """The files to read: ``path`` itself, or every data file under a directory, sorted by name.

    In a directory, files are chosen by suffix (.jsonl/.json/.ndjson, .csv, .tsv, .parquet,
    .txt), or all of them with ``fmt``; hidden files and ones starting with ``_`` (such as
    Spark's ``_SUCCESS``) are left out. All must have one format.
    """
    if path.is_file():
        return [InputFile(path, fmt or _format_of(path))]
    if not path.is_dir():
        raise InputError(f"cannot read {path}: no such file or directory.")
    found = [
        InputFile(file, fmt or _format_of(file))
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


_SUFFIXES = (".jsonl", ".json", ".ndjson", ".csv", ".tsv", ".parquet", ".txt")


def _format_of(path: Path) -> str:
    return PARQUET if _is_parquet(path) else guess_format(path)


def _is_parquet(path: Optional[Path | str]) -> bool:
    return path is not None and Path(path).suffix.lower() == ".parquet"


def _check_output(output: Optional[str], files: list[InputFile]) -> None:
    if output is None or output == "-":
        if _is_parquet(output):
            raise CommandError("Parquet output needs a file: -o FILE.parquet.")
        return
    target = Path(output).resolve()
    if any(file.path.resolve() == target for file in files):
        raise CommandError(f"the output {output} is one of the input files; write elsewhere.")


class Reader:
    """The input's rows, in order, as often as they are needed, with their positions."""

    def __init__(self, files: list[InputFile], text_column: str, *, source: str) -> None:
        self.files = files
        self.text_column = text_column
        self.source = source
        self.several = Path(source).is_dir()

    def rows(self, warn: Any, *, text_only: bool = False) -> Iterator[tuple[str, dict]]:
        """``(where, row)`` for every row: where is "row N" (in FILE, for a directory)."""
        for file in self.files:
            prefix = f"{file.path}: " if self.several else ""
            rows = self._file_rows(file, warn, text_only)
            for number, row in enumerate(rows, start=1):
                yield f"{prefix}row {number}", row

    def _file_rows(self, file: InputFile, warn: Any, text_only: bool) -> Iterator[dict]:
        column = self.text_column
        if file.fmt != PARQUET:
            required = (column,) if file.fmt in ("csv", "tsv") else ()
            yield from read_rows(
                file.path, file.fmt, text_column=column, required=required, warn=warn
            )
            return
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(file.path)
        except (OSError, ValueError) as err:  # pyarrow's errors for a file that is not Parquet
            raise InputError(f"cannot read {file.path} as Parquet: {err}") from err
        names = parquet.schema_arrow.names
        if column not in names:
            raise InputError(f"{file.path}: no column {column!r} in the columns {names}.")
        for batch in parquet.iter_batches(columns=[column] if text_only else None):
            yield from batch.to_pylist()

    def check_first_row(self) -> None:
        """Fail now on an input without rows or a file without the text column."""
        for file in self.files:
            if file.fmt in ("csv", "tsv", PARQUET):  # the column is checked before a first row
                next(self._file_rows(file, lambda message: None, text_only=True), None)
        if next(self.rows(lambda message: None, text_only=True), None) is None:
            raise CommandError(f"{self.source}: no rows to analyze.")

    def put_text_blocks(self, batch_size: int, warn: Any, *, schema: bool) -> TextBlocks:
        """Put the numbered texts in the object store (the first read), ``batch_size`` a block.

        With ``schema``, also find the Arrow schema that holds every row (for Parquet output).
        """
        import pyarrow as pa
        import ray

        blocks = TextBlocks()
        schemas = []
        rows = self.rows(warn, text_only=True)  # all of a row but Parquet's, whose schema is known
        while chunk := list(islice(rows, batch_size)):
            texts = [checked_text(row.get(self.text_column), self.text_column) for _, row in chunk]
            start = blocks.rows
            table = pa.table(
                {
                    ROW: pa.array(range(start, start + len(chunk)), type=pa.int64()),
                    self.text_column: pa.array([text for text, _ in texts], type=pa.string()),
                }
            )
            blocks.refs.append(ray.put(table))
            blocks.rows += len(chunk)
            blocks.with_text += sum(problem is None for _, problem in texts)
            if schema and self.files[0].fmt != PARQUET:
                schemas.append(_schema_of(chunk))
        if schema:
            blocks.schema = self._input_schema(schemas)
        if not blocks.with_text:
            raise CommandError(
                f"no row has a text in the field {self.text_column!r}; "
                "name the text's field with --text-column."
            )
        return blocks

    def _input_schema(self, schemas: list[pa.Schema]) -> pa.Schema:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.files[0].fmt == PARQUET:
            schemas = [pq.read_schema(file.path) for file in self.files]
        try:
            return pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise CommandError(
                f"the input's columns have different types in different rows or files ({err}); "
                "a Parquet file needs one type per column: write JSONL or CSV instead."
            ) from err


@dataclass
class TextBlocks:
    """What the first read put in the object store, and what it found."""

    refs: list[Any] = field(default_factory=list)
    rows: int = 0
    with_text: int = 0
    schema: Optional[pa.Schema] = None


def _schema_of(rows: Sequence[tuple[str, dict]]) -> pa.Schema:
    """The Arrow schema of rows (dicts, which need not share their keys): every column."""
    import pyarrow as pa

    names = list(dict.fromkeys(key for _, row in rows for key in row))
    columns = {}
    for name in names:
        try:
            columns[name] = pa.array([row.get(name) for _, row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            where = rows[0][0]
            raise CommandError(
                f"the column {name!r} holds values of different types (from {where} on: {err}); "
                "a Parquet file needs one type per column: write JSONL or CSV instead."
            ) from err
    return pa.table(columns).schema


@contextmanager
def _ray(address: Optional[str]) -> Iterator[Any]:
    """Ray, started locally or joined at ``address``, and shut down at the end.

    In a process where Ray already runs (a notebook, the tests), that instance is used as it is.
    """
    import ray

    if ray.is_initialized():
        yield ray
        return
    try:  # quiet: this command reports what matters
        if address is None:
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
    cpus = args.cpus_per_worker or (1 if gpus else _default_cpus(ray))
    workers = min(args.workers or _fitting_workers(ray, cpus, gpus), len(refs))
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


def _default_cpus(ray: Any) -> int:
    """A node's CPUs, at most 4 (the smallest node's): threads in one process share a batch
    as fast as processes do, in a fraction of the memory (see benchmarks/ray_scaling.py)."""
    nodes = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
    return max(1, min(4, int(min((cpus for cpus in nodes if cpus), default=1))))


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
        raise CommandError(
            f"the workers need {'; '.join(short)}: lower --workers or --cpus-per-worker."
        )
    if short:
        warn(f"the workers need {'; '.join(short)}; the run waits until the cluster has them.")


def _write(
    args: argparse.Namespace,
    output_format: str,
    fields: ResultFields,
    reader: Reader,
    blocks: TextBlocks,
    results: Any,
    warn: Warnings,
) -> None:
    """Join each input row with its results (the second read), report problems, write."""
    from .common import progress

    rows = reader.rows(lambda message: None)  # the first read reported the input's problems
    names = fields.names
    done = 0
    with (
        _output(args, output_format, fields, blocks, warn) as writer,
        progress(args.quiet, lambda: blocks.rows) as bar,
    ):
        for table in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            numbers = table.column(ROW).to_pylist()
            if numbers != list(range(done, done + len(numbers))):
                raise RuntimeError(f"Ray returned rows {numbers[:3]}... where {done} was due.")
            done += len(numbers)
            chunk = list(islice(rows, len(numbers)))
            results_rows = table.select([*names, PROBLEM]).to_pylist()
            for (where, row), result in zip(chunk, results_rows):
                _, problem = checked_text(row.get(args.text_column), args.text_column)
                if problem or result[PROBLEM]:
                    warn(f"{where} {problem or result[PROBLEM]}")
            writer.write([row for _, row in chunk], table, results_rows)
            bar.update(len(numbers))
    if done != blocks.rows:
        raise RuntimeError(f"Ray returned {done:,} of {blocks.rows:,} rows.")


@contextmanager
def _output(
    args: argparse.Namespace,
    output_format: str,
    fields: ResultFields,
    blocks: TextBlocks,
    warn: Warnings,
) -> Iterator[Any]:
    """A writer of (input rows, results table, results as dicts) for the output format."""
    from .analyze import CsvWriter, JsonlWriter, TableWriter, _open_output

    if output_format == PARQUET:
        writer = ParquetWriter(args.output, blocks.schema, fields)
        try:
            yield writer
        finally:
            writer.close()
        return
    with _open_output(args.output) as stream:
        if output_format == "jsonl":
            lines: Any = JsonlWriter(stream)
        elif output_format == "csv":
            lines = CsvWriter(stream, warn)
        else:
            lines = TableWriter(stream, args.text_column, hidden=fields.details)
        yield RowWriter(lines, fields.names)


class RowWriter:
    """Rows as the local run writes them: the input row's fields, then the results."""

    def __init__(self, lines: Any, names: list[str]) -> None:
        self.lines = lines
        self.names = names

    def write(self, rows: list[dict], results: pa.Table, results_rows: list[dict]) -> None:
        self.lines.write(
            [
                {**_json_safe(row), **{name: result[name] for name in self.names}}
                for row, result in zip(rows, results_rows)
            ]
        )


def _json_safe(value: Any) -> Any:
    """A value as JSON can hold it (Parquet's dates and times in ISO format, others as text)."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class ParquetWriter:
    """One Parquet file: the input's columns (in the schema that holds every row) and results."""

    def __init__(self, path: str, schema: pa.Schema, fields: ResultFields) -> None:
        self.path = path
        self.input_schema = schema
        self.names = fields.names
        self.writer: Any = None

    def write(self, rows: list[dict], results: pa.Table, results_rows: list[dict]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ..integrations.ray import with_columns

        table = pa.Table.from_pylist(rows, schema=self.input_schema)
        table = with_columns(table, {name: results.column(name) for name in self.names})
        if self.writer is None:
            try:
                self.writer = pq.ParquetWriter(self.path, table.schema)
            except OSError as err:
                raise CommandError(f"cannot write {self.path}: {err}.") from err
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
