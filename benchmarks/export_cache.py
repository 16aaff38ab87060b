"""Seconds for ``korsent analyze`` on a file: ``--backend onnx-int8`` on its first run (empty
export cache: the model is exported, in a child process) and on its second (the export comes from
the cache), against ``--backend torch``, in the same rounds.

Each run is a fresh ``korsent analyze -i FILE -o OUT.jsonl -q`` process, timed from start to exit
as a user waits for it: start-up, loading, exporting or reading the cached export, classifying,
writing. The model is throughput.py's randomly initialised KoELECTRA-base-sized classifier (the
tiny test models would hide the export's cost). The export cache is a temporary directory
(``SPACY_KORSENT_CACHE``), emptied before each first run. ``--rounds N`` runs everything N times in
turn and reports medians; the ratios are of those medians.

    python benchmarks/export_cache.py --nsmc ../shared/data/nsmc/ratings_test.txt \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt

Without ``--nsmc`` the texts are the 2,000 reviews of tests/fixtures/nsmc_test_2000.txt (repeated
to reach 3,000); without ``--vocab``, tests/fixtures/koelectra-v1-vocab.txt (the same vocabulary).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # throughput.py, cpu.py

import throughput  # noqa: E402
from cpu import cpu_description, load_note  # noqa: E402
from markdown_report import add_option, recorded

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURE_TEXTS = ROOT / "tests" / "fixtures" / "nsmc_test_2000.txt"
FIXTURE_VOCAB = ROOT / "tests" / "fixtures" / "koelectra-v1-vocab.txt"
RUNS = ("torch", "onnx-int8, first run", "onnx-int8, second run")


def reviews(path: Path) -> list[str]:
    """The cleaned NSMC reviews in ``path`` (a ratings file, or the directory of one)."""
    from spacy_korsent.files.labelled import read_nsmc

    return read_nsmc(path / "ratings_test.txt" if path.is_dir() else path).texts


def texts_of(path: Path, count: int) -> tuple[list[str], bool]:
    """The first ``count`` cleaned NSMC reviews (repeated when there are fewer), and whether
    they had to be repeated."""
    texts = reviews(path)
    return list(itertools.islice(itertools.cycle(texts), count)), len(texts) < count


def analyze(model: Path, backend: str, source: Path, cache: Path) -> float:
    """Seconds for one ``korsent analyze`` process, start to exit."""
    env = {**os.environ, "SPACY_KORSENT_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("SPACY_KORSENT_NO_CACHE", None)
    command = [sys.executable, "-m", "spacy_korsent", "analyze", "-i", str(source)]
    command += ["-o", str(source.with_suffix(".jsonl")), "--sentiment-model", str(model)]
    command += ["--backend", backend, "-q"]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env)
    return time.perf_counter() - start


def one_round(model: Path, source: Path, cache: Path) -> dict[str, float]:
    """torch, then onnx-int8 on an empty cache, then onnx-int8 again."""
    shutil.rmtree(cache, ignore_errors=True)
    return {
        RUNS[0]: analyze(model, "torch", source, cache),
        RUNS[1]: analyze(model, "onnx-int8", source, cache),
        RUNS[2]: analyze(model, "onnx-int8", source, cache),
    }


def report(results: dict[int, list[dict[str, float]]], repeated: dict[int, bool]) -> str:
    lines = [
        "| texts | run | median s | texts/s | × torch |",
        "|---:|---|---:|---:|---:|",
    ]
    for count, rounds in results.items():
        medians = {run: statistics.median(r[run] for r in rounds) for run in RUNS}
        label = f"{count:,}" + (" (repeated)" if repeated[count] else "")
        for run in RUNS:
            seconds = medians[run]
            ratio = seconds / medians[RUNS[0]]
            lines.append(
                f"| {label} | {run} | {seconds:.1f} | {count / seconds:.0f} | {ratio:.2f} |"
            )
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    nsmc = SHARED / "data" / "nsmc" / "ratings_test.txt"
    vocab = SHARED / "vocab" / "koelectra-base-v1" / "vocab.txt"
    parser.add_argument(
        "--nsmc", type=Path, default=nsmc if nsmc.is_file() else FIXTURE_TEXTS,
        help="NSMC ratings_test.txt or its directory (default: ../shared's, else the test "
        "fixture's 2,000)",
    )  # fmt: skip
    parser.add_argument(
        "--vocab", type=Path, default=vocab if vocab.is_file() else FIXTURE_VOCAB,
        help="KoELECTRA v1 vocab.txt (default: ../shared's, else the test fixture's)",
    )  # fmt: skip
    parser.add_argument("--texts", type=int, nargs="+", default=[500, 3000], metavar="N")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians reported)")
    parser.add_argument("--small", action="store_true", help="a tiny model, to try the script")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "korsent-bench",
        help="where the random model is kept between runs (throughput.py's)",
    )  # fmt: skip
    add_option(parser)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    # throughput.py's model: its head fitted on the file's last reviews.
    calibration = reviews(args.nsmc)[-throughput.HEAD_DOCS :]
    model_args = argparse.Namespace(
        cache=args.cache, small=args.small, vocab=args.vocab, emotion_vocab=None, methods=[]
    )
    model = throughput.build_models(model_args, calibration)["sentiment"]
    load_before = load_note()
    results: dict[int, list[dict[str, float]]] = {count: [] for count in args.texts}
    repeated = {}
    with tempfile.TemporaryDirectory(prefix="korsent-export-cache-bench-") as work:
        for count in args.texts:
            texts, repeated[count] = texts_of(args.nsmc, count)
            source = Path(work) / f"texts-{count}.txt"
            source.write_text("".join(text.replace("\n", " ") + "\n" for text in texts))
        for round_number in range(1, args.rounds + 1):
            for count in args.texts:
                print(f"round {round_number}: {count} texts ...", file=sys.stderr, flush=True)
                seconds = one_round(model, Path(work) / f"texts-{count}.txt", Path(work) / "cache")
                results[count].append(seconds)
                print(
                    "  " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), file=sys.stderr
                )
    size = "tiny (--small)" if args.small else "KoELECTRA-base-sized, random weights"
    with recorded(args.markdown):
        print(
            f"korsent analyze on NSMC test reviews ({args.nsmc.name}), {size}, "
            f"{args.rounds} rounds (medians)\n"
        )
        print(report(results, repeated))
        print(f"\nMachine: {cpu_description()}")
        print(f"Load: before, {load_before}; after, {load_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
