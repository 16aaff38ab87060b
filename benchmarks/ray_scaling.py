"""What Ray costs on one machine: ``nlp.pipe`` alone against Ray with 1 and with 2 workers.

All three classify the same first ``--docs`` cleaned NSMC test documents with the same pipeline,
on the same cores, so that no method gets more threads than another:

- local: ``nlp.pipe`` in this process, its model loaded and warmed up, one shard thread per core;
- ray, 1 worker: one actor with all the cores (the same shard threads as local);
- ray, 2 workers: two actors with half the cores each (one single-threaded shard each, on 2 cores).

The model is a KoELECTRA-base-sized classifier (12 layers, hidden 768, the real KoELECTRA v1
vocabulary, random weights), built by ``throughput.py``'s builder and cached: per-document work
as in real use, so that Ray's fixed costs show in proportion. (The 4-layer test model spends a
few milliseconds per document, where Ray's per-batch costs would weigh far more than with any
model worth deploying; ``--model`` takes it, or any model directory, to see that.)

A Ray run is timed from handing Ray the dataset to holding every result, on a Ray instance that
is already up. Its workers' start-up (a fresh process each: importing torch and spaCy, loading
the pipeline) is part of that; "after start-up" also reports the time from the moment the last
worker was ready, which is what a long run pays per document. Methods run in turn, ``--rounds``
times (medians), so that a machine busy for a while slows all of them alike.

    python benchmarks/ray_scaling.py ../shared/data/nsmc/ratings_test.txt \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt [--docs 2000] [--rounds 3]

Needs the ``ray`` extra (``pip install -e ".[ray]"``).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from markdown_report import add_option, recorded  # noqa: E402
from throughput import build_models, machine  # noqa: E402  (this directory's benchmark)

from spacy_korsent.integrations.ray import BatchAnalyzer  # noqa: E402


class TimedAnalyzer(BatchAnalyzer):
    """A BatchAnalyzer that notes on each row when its worker was ready and its peak memory."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ready = time.time()

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        out = super().__call__(batch)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        notes = {"ready": self.ready, "peak_mb": peak_mb}
        for name, value in notes.items():
            out = out.append_column(f"_{name}", pa.array([value] * len(out)))
        return out


def local(pipeline: Path, texts: list[str], batch_size: int) -> dict:
    """``nlp.pipe`` over the texts in this process, the model loaded and warmed up first."""
    import spacy

    nlp = spacy.load(pipeline)
    list(nlp.pipe(texts[:16]))
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    seconds = time.perf_counter() - start
    probs = [doc._.sentiment["scores"]["positive"] for doc in docs]
    return {"seconds": seconds, "after_startup": seconds, "startup": 0.0, "probs": probs}


def on_ray(pipeline: Path, texts: list[str], batch_size: int, workers: int) -> dict:
    """The texts through ``workers`` actors with an equal share of the cores each."""
    import ray

    cpus = int(ray.cluster_resources()["CPU"]) // workers
    dataset = ray.data.from_items([{"text": text} for text in texts])
    analyzed = dataset.map_batches(
        TimedAnalyzer,
        fn_constructor_kwargs={"pipeline": str(pipeline)},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
        num_cpus=cpus,
    )
    analyzed.context.execution_options.preserve_order = True
    analyzed.context.enable_progress_bars = False
    started = time.time()
    rows = analyzed.take_all()
    seconds = time.time() - started
    ready = max(row["_ready"] for row in rows)
    return {
        "seconds": seconds,
        "startup": ready - started,
        "after_startup": seconds - (ready - started),
        "peak_mb": max(row["_peak_mb"] for row in rows),
        "probs": [row["sentiment_positive"] for row in rows],
    }


def report(results: dict[str, list[dict]], docs: int, rounds: int, cores: int) -> str:
    local_s = statistics.median(r["seconds"] for r in results["local"])
    reference = np.asarray(results["local"][0]["probs"])
    lines = [
        "| method | workers x threads | docs/s | cost vs local | docs/s after start-up "
        "| cost vs local | worker start-up s | peak MB per worker | max \\|Δp\\| |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for method, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        after = statistics.median(r["after_startup"] for r in runs)
        workers = 1 if method == "local" else int(method.split("-")[1])
        peak = max((r.get("peak_mb", 0) for r in runs), default=0)
        delta = np.abs(np.asarray(runs[0]["probs"]) - reference).max()
        cells = [
            "nlp.pipe alone" if method == "local" else f"Ray, {workers} worker(s)",
            f"{workers} x {cores // workers}",
            f"{docs / seconds:.1f}",
            _cost(seconds, local_s),
            f"{docs / after:.1f}",
            _cost(after, local_s),
            "–" if method == "local" else f"{statistics.median(r['startup'] for r in runs):.1f}",
            "–" if method == "local" else f"{peak:,.0f}",
            f"{delta:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{docs} documents, {rounds} round(s), medians; {cores} cores. Cost: the extra time "
        "against nlp.pipe alone (+15% = 15% slower). Start-up: from handing Ray the dataset "
        "until the last worker had loaded its pipeline; after start-up: the rest of the run. "
        "max |Δp|: the positive probability against nlp.pipe alone.",
    ]
    return "\n".join(lines)


def _cost(seconds: float, base: float) -> str:
    return f"{seconds / base - 1:+.0%}"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nsmc", type=Path, help="NSMC ratings_test.txt (or the fixture slice)")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument(
        "--vocab", type=Path, help="KoELECTRA v1 vocab.txt: build the base-sized model"
    )
    model.add_argument("--model", type=Path, help="use this model directory instead")
    parser.add_argument("--docs", type=int, default=2000, help="how many documents (2000)")
    parser.add_argument(
        "--batch-size", type=int, default=1024, help="docs per batch (1024, as korsent analyze)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of every method, in turn")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "korsent-bench",
        help="where the random model is kept between runs",
    )  # fmt: skip
    add_option(parser)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    import ray

    from spacy_korsent import blank_korean
    from spacy_korsent.files.labelled import read_nsmc

    with recorded(args.markdown):
        texts = read_nsmc(args.nsmc).texts[: args.docs]
        if args.model is None:
            builder = argparse.Namespace(
                small=False, cache=args.cache, vocab=args.vocab, emotion_vocab=None, methods=()
            )
            args.model = build_models(builder, texts)["sentiment"]
        cores = len(os.sched_getaffinity(0))
        with tempfile.TemporaryDirectory(prefix="korsent-ray-bench-") as pipeline:
            nlp = blank_korean()
            nlp.add_pipe("korean_sentiment", config={"model": str(args.model)})
            nlp.to_disk(pipeline)
            del nlp
            ray.init(num_cpus=cores, include_dashboard=False, logging_level="ERROR")
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            results: dict[str, list[dict]] = {"local": [], "ray-1": [], "ray-2": []}
            for round_number in range(1, args.rounds + 1):
                for method in results:
                    print(f"round {round_number}: {method} ...", file=sys.stderr, flush=True)
                    if method == "local":
                        result = local(Path(pipeline), texts, args.batch_size)
                    else:
                        workers = int(method.split("-")[1])
                        result = on_ray(Path(pipeline), texts, args.batch_size, workers)
                    results[method].append(result)
                    print(f"  {len(texts) / result['seconds']:.1f} docs/s", file=sys.stderr)
            ray.shutdown()
        print(report(results, len(texts), args.rounds, cores))
        print(f"\nModel: {args.model}\nMachine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
