"""How long ``korsent report`` takes on 50,000 and 200,000 analysed rows, and how much memory.

    python benchmarks/report.py ratings_train.txt [--rows 50000 200000] [--formats jsonl csv]

Builds ``korsent analyze -t both``-shaped rows from NSMC reviews (cycled when more are asked
for): a sentiment label that agrees with NSMC's 85% of the time, with a beta-distributed score;
one of the 60 emotions of the default emotion model, with its group and a top 3; a ``movie``
column (200 titles, Zipf-distributed) and a ``date`` over two years. Each file is written once,
then the report runs in a child process (``python -m spacy_korsent report --group-by movie
--date-column date``), timed from start to exit, its peak resident memory read from the kernel
(``os.wait4``'s rusage, what ``/usr/bin/time -v`` prints), with its CPU time (steadier than
wall-clock seconds on a busy machine). A one-row file gives the start-up cost.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from itertools import islice
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/cpu.py
from cpu import cpu_model_and_flags  # noqa: E402
from markdown_report import add_option, recorded  # noqa: E402


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nsmc", type=Path, help="NSMC ratings_train.txt (or ratings_test.txt)")
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument(
        "--formats", nargs="+", choices=("jsonl", "csv", "parquet"), default=["jsonl", "csv"]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the files and pages here (default: temp)")
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        reviews = read_nsmc(args.nsmc)
        folder = args.keep or Path(tempfile.mkdtemp(prefix="korsent-report-"))
        folder.mkdir(parents=True, exist_ok=True)
        print(machine())
        print(f"NSMC reviews from {args.nsmc} ({len(reviews):,}), seed {args.seed}\n")
        print("| rows | format | file MB | seconds | CPU seconds | rows/s | peak memory MB |")
        print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
        for fmt in args.formats:
            for count in [1, *args.rows]:
                path = folder / f"analysed-{count}.{fmt}"
                if not path.exists():
                    write(path, fmt, rows(reviews, count, args.seed))
                seconds, cpu, peak = report(path, folder / f"report-{count}-{fmt}.html")
                size = path.stat().st_size / 1e6
                speed = f"{count / seconds:,.0f}" if count > 1 else "–"
                label = "1 (start-up)" if count == 1 else f"{count:,}"
                print(
                    f"| {label} | {fmt} | {size:,.1f} | {seconds:.1f} | {cpu:.1f} | {speed} "
                    f"| {peak:,.0f} |"
                )
        print(f"\nfiles and pages in {folder}")
        return 0


def read_nsmc(path: Path) -> list[tuple[str, str, int]]:
    """(id, text, label) of each review with a text."""
    out = []
    with path.open(encoding="utf-8") as stream:
        next(stream)
        for line in stream:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[1].strip():
                out.append((parts[0], parts[1], int(parts[2])))
    return out


def rows(reviews: list[tuple[str, str, int]], count: int, seed: int) -> Iterator[dict]:
    """``count`` analysed rows with plausible scores (see the module docstring)."""
    from spacy_korsent.taxonomy import EMOTIONS

    rng = random.Random(seed)
    movies = [f"영화 {i:03d}" for i in range(200)]
    weights = [1 / (i + 1) for i in range(200)]
    start = date(2023, 1, 1)
    negative_emotions = [e for e in EMOTIONS if e.group != "기쁨"]
    positive_emotions = [e for e in EMOTIONS if e.group in ("기쁨", "당황")]
    for i in range(count):
        ident, text, truth = reviews[i % len(reviews)]
        agrees = rng.random() < 0.85
        positive = truth == 1 if agrees else truth == 0
        score = 0.5 + 0.5 * rng.betavariate(5, 1.2)
        emotion = rng.choice(positive_emotions if positive else negative_emotions)
        top = [emotion, *rng.sample(EMOTIONS, 2)]
        emotion_score = rng.uniform(0.15, 0.95)
        yield {
            "id": f"{ident}-{i // len(reviews)}" if i >= len(reviews) else ident,
            "document": text,
            "movie": rng.choices(movies, weights)[0],
            "date": (start + timedelta(days=rng.randrange(730))).isoformat(),
            "sentiment": "positive" if positive else "negative",
            "sentiment_score": score,
            "sentiment_negative": 1 - score if positive else score,
            "sentiment_positive": score if positive else 1 - score,
            "emotion": emotion.label,
            "emotion_score": emotion_score,
            "emotion_labels": [emotion.label],
            "emotion_group": emotion.group,
            "emotions_top": [
                {**e._asdict(), "score": emotion_score / (1 + k)} for k, e in enumerate(top)
            ],
        }


def write(path: Path, fmt: str, items: Iterator[dict]) -> None:
    """The rows as korsent analyze writes them: lists as JSON strings in CSV and Parquet, the
    scores as numbers in Parquet."""
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as stream:
            for item in items:
                stream.write(json.dumps(item, ensure_ascii=False) + "\n")
        return
    flat = ({k: _cell(v) for k, v in item.items()} for item in items)
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as stream:
            first = next(flat)
            writer = csv.DictWriter(stream, fieldnames=list(first))
            writer.writeheader()
            writer.writerow(first)
            writer.writerows(flat)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = None
    while batch := list(islice(flat, 8192)):
        table = pa.Table.from_pylist(batch)
        parquet = parquet or pq.ParquetWriter(path, table.schema)
        parquet.write_table(table)
    if parquet is not None:
        parquet.close()


def _cell(value: object) -> object:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def report(path: Path, page: Path) -> tuple[float, float, float]:
    """Seconds, CPU seconds and peak resident megabytes of ``korsent report`` on ``path`` in a
    child process."""
    command = [
        sys.executable, "-m", "spacy_korsent", "report", "-q", "-i", str(path), "-o", str(page),
        "--text-column", "document", "--group-by", "movie", "--date-column", "date",
    ]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"korsent report failed on {path} with exit code {child.returncode}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # kB on Linux


def machine() -> str:
    """The CPU's model and vector features, the core count, Python."""
    model, flags = cpu_model_and_flags()
    features = ("sse4_2", "avx", "avx2", "avx512f", "avx512_bf16", "amx_bf16")
    vector = [flag for flag in features if flag in flags]
    return (
        f"{model} ({' '.join(vector) or 'no vector flags read'}), {os.cpu_count()} cores, "
        f"{platform.system()}, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
