"""A Ray Data building block: ``korsent analyze``'s analysis on the workers of a Ray cluster.

    import ray
    from spacy_korsent.integrations.ray import analyze_dataset

    comments = ray.data.read_parquet("s3://bucket/comments/")
    scored = analyze_dataset(comments, "/shared/korsent-pipeline", workers=8, cpus_per_worker=2)
    scored.write_parquet("s3://bucket/comments-scored/")

:func:`analyze_dataset` is ``Dataset.map_batches`` with :class:`BatchAnalyzer` on an actor pool;
call ``map_batches`` with :class:`BatchAnalyzer` yourself for other Ray settings. Each row keeps
all its columns and gains the fields the local ``korsent analyze`` writes (``sentiment``,
``sentiment_score``, ``sentiment_<label>``, ``emotion``, ... with the same values).

Each actor loads the pipeline once: ``spacy.load`` of a directory saved with ``nlp.to_disk``
(a path every node can read, or a :class:`ShippedPipeline` that carries the directory through
Ray's object store), or it builds the pipeline from component settings. An ``nlp`` object is
never sent through the object store: Ray hands its arrays back read-only, which spaCy cannot
use (explosion/spaCy#13506). Each actor runs as many threads as Ray gives it CPUs, or runs on
the GPU Ray gives it. Like ``korsent analyze``, an actor lifts spaCy's ``nlp.max_length``
(which a saved pipeline does not keep): a text of any length is windowed by the components.

Faults: Ray Data's actor pools restart a dead actor (``max_restarts=-1``) and retry its
unfinished batches (``max_task_retries=-1``); those are its defaults from Ray 2.60 on, where
passing them to ``map_batches`` is deprecated. A batch's output is returned whole or not at all,
so a retried batch comes out once. Rows that cannot be analysed (a text that is not a string; a
doc on which the pipeline raises) get empty results, and with ``problem_column`` a message
saying why; they never stop the job.

Needs ``pip install "spacy-korsent[ray]"``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union, cast

import srsly

try:
    import pyarrow as pa
    import ray
    import ray.data
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'spacy_korsent.integrations.ray needs Ray Data: pip install "spacy-korsent[ray]"'
    ) from err

from .. import scratch

if TYPE_CHECKING:
    from ..components.classifier import KoreanClassifier

from ..components.registry import CLASSIFIERS
from ..files.fields import ResultFields, checked_text
from ..files.packing import pack_directory, unpack_files


@dataclass(frozen=True)
class ShippedPipeline:
    """A saved pipeline directory packed into Ray's object store, for nodes that cannot read it.

    The files travel, not an ``nlp`` object: each actor unpacks them and loads them with
    ``spacy.load``. They travel as the components' ``to_bytes`` carries theirs (a link to a file
    as the file; see :mod:`spacy_korsent.files.packing`), and an actor writes no file outside
    its own new directory, whatever names the archive holds. Keep the object alive (it holds the
    archive) until the job has finished, so that a restarted actor can load the pipeline again.
    """

    archive: ray.ObjectRef

    @classmethod
    def put(cls, path: Union[str, os.PathLike]) -> ShippedPipeline:
        """Pack the pipeline saved at ``path`` and put it in the object store."""
        if not (Path(path) / "config.cfg").is_file():
            raise ValueError(f"{path} is not a saved spaCy pipeline (no config.cfg in it).")
        return cls(ray.put(srsly.msgpack_dumps(pack_directory(Path(path)))))

    def unpack(self, directory: Union[str, os.PathLike]) -> None:
        """Write the pipeline's files into ``directory`` (new or empty)."""
        try:
            unpack_files(srsly.msgpack_loads(ray.get(self.archive)), Path(directory))
        except ValueError as err:
            raise ValueError(f"the shipped pipeline cannot be unpacked: {err}") from None


Pipeline = Union[str, os.PathLike, ShippedPipeline]
"""A saved pipeline: its directory (readable from every node) or a :class:`ShippedPipeline`."""


class BatchAnalyzer:
    """Add the result fields to a batch (a ``pyarrow.Table``); one per Ray actor.

    ``pipeline``: a saved pipeline, loaded once. Or ``components``: settings from which the
    actor builds the pipeline itself, factory -> config, for example
    ``{"korean_sentiment": {"model": "cringepnh/koelectra-korean-sentiment"}}`` (add
    ``"korean_emotion"`` for both analyses; ``"sentences": True`` in a config adds the sentence
    splitter of ``blank_korean(sentences=True)``). The texts are in ``text_column``; with
    ``problem_column`` each row also gets why it could not be analysed (None when it could).

    For ``Dataset.map_batches(BatchAnalyzer, fn_constructor_kwargs={...},
    batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=N), num_cpus=C)``.
    """

    def __init__(
        self,
        pipeline: Optional[Pipeline] = None,
        *,
        components: Optional[Mapping[str, Mapping[str, Any]]] = None,
        text_column: str = "text",
        problem_column: Optional[str] = None,
    ) -> None:
        components = _checked_components(pipeline, components)
        settings = _worker_settings()
        if pipeline is not None:
            self.nlp = _load_saved(pipeline, settings)
        else:
            self.nlp = _build(components, settings)
        self.nlp.max_length = sys.maxsize  # as korsent analyze: the components window long texts
        self.fields = ResultFields(self.nlp)
        self.types = self.fields.arrow_types()
        self.text_column = text_column
        self.problem_column = problem_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.text_column not in batch.column_names:
            raise ValueError(
                f"no column {self.text_column!r} in the dataset (columns: {batch.column_names}); "
                "name the text's column with text_column."
            )
        checked = [
            checked_text(value, self.text_column)
            for value in batch.column(self.text_column).to_pylist()
        ]
        problems = [problem for _, problem in checked]
        results = self._analyze([text for text, _ in checked], problems)
        columns = {
            name: pa.array([result[name] for result in results], type=kind)
            for name, kind in self.types.items()
        }
        if self.problem_column is not None:
            columns[self.problem_column] = pa.array(problems, type=pa.string())
        return with_columns(batch, columns)

    def _analyze(self, texts: list[str], problems: list[Optional[str]]) -> list[dict[str, Any]]:
        """Each text's fields; a doc that makes the pipeline raise costs only that doc."""
        try:
            return self._fields_of(texts)
        except Exception:
            return [self._analyze_one(text, i, problems) for i, text in enumerate(texts)]

    def _analyze_one(self, text: str, index: int, problems: list[Optional[str]]) -> dict:
        try:
            return self._fields_of([text])[0]
        except Exception as err:
            reason = " ".join(f"{type(err).__name__}: {err}".split())
            problems[index] = f"could not be analysed ({reason}); written with empty results."
            return self._fields_of([""])[0]

    def _fields_of(self, texts: list[str]) -> list[dict[str, Any]]:
        with self.nlp.memory_zone():  # the strings of a batch's docs do not pile up
            docs = self.nlp.pipe(texts, batch_size=max(1, len(texts)))
            return [self.fields.of(doc) for doc in docs]


def analyze_dataset(
    dataset: ray.data.Dataset,
    pipeline: Optional[Pipeline] = None,
    *,
    components: Optional[Mapping[str, Mapping[str, Any]]] = None,
    text_column: str = "text",
    problem_column: Optional[str] = None,
    workers: int = 1,
    cpus_per_worker: float = 1,
    gpus_per_worker: float = 0,
    batch_size: Optional[int] = 1024,
) -> ray.data.Dataset:
    """``dataset`` with the result fields added to each row, by a pool of ``workers`` actors.

    Each actor holds its own copy of the pipeline (plan on the model's size in memory per
    worker) and runs ``cpus_per_worker`` threads, or uses ``gpus_per_worker`` of a GPU.
    ``batch_size`` rows go through the pipeline together (None: whole blocks); the components
    sort each batch's texts by length into their model batches, so fewer than their
    ``buffer_size`` (1,024) pads more and runs slower. See
    :class:`BatchAnalyzer` for ``pipeline``, ``components`` and the columns. Like any Dataset
    the result is lazy; it keeps the input's order where the dataset's context says
    ``execution_options.preserve_order = True``.
    """
    _checked_components(pipeline, components)
    return dataset.map_batches(
        BatchAnalyzer,
        fn_constructor_kwargs={
            "pipeline": pipeline,
            "components": components,
            "text_column": text_column,
            "problem_column": problem_column,
        },
        batch_size=batch_size,
        batch_format="pyarrow",
        # One batch at a time per actor: a batch is seconds of work, and a worker that is ready
        # first must not queue the batches its peers (still loading) would take.
        compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
        num_cpus=cpus_per_worker,
        num_gpus=gpus_per_worker or None,
    )


def with_columns(table: pa.Table, columns: Mapping[str, pa.Array]) -> pa.Table:
    """``table`` with ``columns`` added; one of the same name is replaced where it stands."""
    for name, array in columns.items():
        index = table.schema.get_field_index(name)
        if index >= 0:
            table = table.set_column(index, name, array)
        else:
            table = table.append_column(name, array)
    return table


def _worker_settings() -> dict[str, Any]:
    """Component settings for this actor: its GPU if Ray gave it one, else a thread per CPU.

    The tokenizer splits a batch over threads too: as many as the actor's CPUs (Rust's thread
    pool would take every core of the node), unless the environment says otherwise.
    """
    cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
    os.environ.setdefault("RAYON_NUM_THREADS", str(cpus))  # read when the pool first runs
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if ray.get_gpu_ids():  # Ray has set CUDA_VISIBLE_DEVICES to this actor's GPUs
        return {"device": "cuda"}
    return {"n_threads": cpus}


def _checked_components(
    pipeline: Optional[Pipeline], components: Optional[Mapping[str, Mapping[str, Any]]]
) -> Mapping[str, Mapping[str, Any]]:
    if (pipeline is None) == (components is None):
        raise ValueError("give either a saved pipeline or component settings (components=).")
    if components is not None:
        unknown = [factory for factory in components if factory not in CLASSIFIERS]
        if unknown or not components:
            raise ValueError(
                f"components must map {' and/or '.join(CLASSIFIERS)} to their settings; "
                f"got {sorted(components)}."
            )
    return components or {}


def _load_saved(pipeline: Pipeline, settings: dict[str, Any]) -> Any:
    """``spacy.load`` the pipeline with ``settings`` for each of this package's components."""
    import spacy

    if isinstance(pipeline, ShippedPipeline):
        # spacy.load reads everything (weights, tokenizer, ONNX export) before the files go.
        with scratch.temporary("korsent-pipeline-") as directory:
            pipeline.unpack(directory / "pipeline")
            return _load_saved(directory / "pipeline", settings)
    config = spacy.util.load_config(Path(pipeline) / "config.cfg")
    ours = [
        name for name, component in config["components"].items()
        if component.get("factory") in CLASSIFIERS
    ]  # fmt: skip
    return spacy.load(Path(pipeline), config={"components": dict.fromkeys(ours, settings)})


def _build(components: Mapping[str, Mapping[str, Any]], settings: dict[str, Any]) -> Any:
    from ..components.blank import blank_korean

    nlp = blank_korean(sentences=any(config.get("sentences") for config in components.values()))
    for factory, config in components.items():
        component = nlp.add_pipe(factory, config={**config, **settings})
        cast("KoreanClassifier", component).initialize()
    return nlp
