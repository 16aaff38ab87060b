"""Serving one pipeline to concurrent callers, as a web service does (issue 14).

One pipeline is loaded once; a thread pool of 1, 4 or 16 workers (the callers) sends it one
request at a time, each request one text through ``nlp(text)``, as a FastAPI or gthread worker
would. Reported: requests per second, and per-request latency (median and 95th percentile), with
the batched ``nlp.pipe`` over the same texts from one caller for comparison. All rows are measured
in one process, one after the other, after a warm-up.

    python benchmarks/serving.py --nsmc ratings_test.txt [--model DIR] [--backend onnx-int8]
        [--requests 512] [--callers 1 4 16]

The default model is the small NSMC-trained test model; pass a base-sized model directory (for
example the one benchmarks/throughput.py builds in $TMPDIR/korsent-bench) for realistic numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

from markdown_report import add_option, recorded

from spacy_korsent.inference.backends import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "tests" / "fixtures" / "nsmc-koelectra-tiny"
DEFAULT_TEXTS = ROOT / "tests" / "fixtures" / "nsmc_test_2000.txt"


def build(args: argparse.Namespace) -> Any:
    import spacy_korsent

    nlp = spacy_korsent.blank_korean()
    config = {"model": str(args.model), "backend": args.backend}
    nlp.add_pipe("korean_sentiment", config=config)
    nlp.initialize()
    return nlp


def serve(nlp: Any, texts: list[str], callers: int) -> dict[str, float]:
    """Every text as one request, ``callers`` requests in flight at a time."""
    latencies: list[float] = []

    def request(text: str) -> None:
        started = time.perf_counter()
        nlp(text)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(request, texts))
    seconds = time.perf_counter() - started
    return {
        "per_second": len(texts) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * statistics.quantiles(latencies, n=20)[-1],
    }


def batched(nlp: Any, texts: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=256):
        pass
    return {"per_second": len(texts) / (time.perf_counter() - started)}


def report(rows: list[tuple[str, dict[str, float]]]) -> str:
    """The table; ratios are to the first row's requests per second."""
    first, single = rows[0][0], rows[0][1]["per_second"]
    lines = [
        f"| callers | requests/s | × {first} caller{'s' if first != '1' else ''} | median ms "
        "| p95 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows:
        p50 = f"{row['p50_ms']:.1f}" if "p50_ms" in row else "–"
        p95 = f"{row['p95_ms']:.1f}" if "p95_ms" in row else "–"
        ratio = row["per_second"] / single
        lines.append(f"| {name} | {row['per_second']:.1f} | {ratio:.2f}× | {p50} | {p95} |")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc", type=Path, default=DEFAULT_TEXTS, help="NSMC-format texts")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--backend", choices=list(BACKENDS), default="torch")
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 4, 16])
    add_option(parser)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    from spacy_korsent.files.labelled import read_nsmc

    args = parse_args(argv)
    with recorded(args.markdown):
        texts = read_nsmc(args.nsmc).texts[: args.requests]
        nlp = build(args)
        serve(nlp, texts[:32], 4)  # warm-up: threads, caches
        rows = [(str(callers), serve(nlp, texts, callers)) for callers in args.callers]
        rows.append(("1, nlp.pipe (batched)", batched(nlp, texts)))
        print(
            f"{len(texts)} NSMC requests, model {args.model.name}, backend {args.backend}; "
            f"{os.cpu_count()} CPUs, "
            f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n"
        )
        print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
