"""Distillation: how much faster a student is, and how many of the teacher's answers it keeps.

Two parts, one run (``--speed-only`` runs the second alone):

1. **A real teacher.** A 6-layer, hidden-128 ELECTRA (the KoELECTRA v1 vocabulary) trained here on
   NSMC training reviews (all but 5% kept for validation; ``--train-texts`` limits them) for
   one epoch, as tests/fixtures/train_nsmc_model.sh trains the test model, at 5e-4, is distilled
   with ``korsent distill`` on ``--distil-texts`` reviews from the full crawl
   (``nsmc-raw/reviews.tsv``: none in NSMC's test file, no labels used) into students of several
   shapes, one of them twice (started from the teacher, and from random weights, to measure the
   start; ``--without-random-start`` skips it). Every model classifies the full cleaned NSMC test
   set through ``korean_sentiment`` on torch fp32 and on ONNX int8: agreement with the teacher's
   fp32 labels, accuracy; then docs/s of each on ``--speed-texts`` test reviews, median of
   ``--rounds`` rounds taken in turn.

   An earlier teacher, hidden 256 trained on 30,000 reviews at the same rate, collapsed: it gave
   three probabilities only (0.23, about 0.5, 0.78; 72.6% accurate), and no student kept more
   than 96.1% of its labels, since 3.5 of the 3.9 points of disagreement were on the 14.6% of
   reviews it put within 0.05 of 0.5. On all 139,000 training reviews at that rate it did not
   learn at all. Hidden 128 learns on all of them at that rate (85.2% on its validation reviews).
2. **Speed at the real size.** A KoELECTRA-base-shaped teacher (12 layers, hidden 768, random
   weights: weights do not change speed) against students of the same shapes relative to it.

Stages are cached under ``--cache`` (teacher, texts, teacher labels, students, predictions), so a
rerun only measures again.

    nice python benchmarks/distill.py --nsmc ../shared/data/nsmc \\
        --raw ../shared/data/nsmc-raw/reviews.tsv \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu import cpu_description, load_note  # noqa: E402
from markdown_report import add_option, recorded  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]

TEACHER_CONFIG = {
    "model_type": "electra",
    "vocab_size": 32200,
    "embedding_size": 128,
    "hidden_size": 128,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "intermediate_size": 512,
    "max_position_embeddings": 512,
}
BASE_CONFIG = {
    **TEACHER_CONFIG,
    "embedding_size": 768,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
}
# (name, layers, hidden as a share of the teacher's width, init)
STUDENTS = [
    ("2 layers", 2, 1.0, "teacher"),
    ("2 layers, 1/2 width", 2, 0.5, "teacher"),
    ("2 layers, 1/2 width, random start", 2, 0.5, "random"),
    ("1 layer, 1/2 width", 1, 0.5, "teacher"),
]
BASE_STUDENTS = [("4 layers", 4, 1.0), ("4 layers, 1/2 width", 4, 0.5),
                 ("3 layers, 1/2 width", 3, 0.5), ("2 layers, 1/2 width", 2, 0.5)]  # fmt: skip
BACKENDS = ("torch", "onnx-int8")
TEACHER = "teacher ({num_hidden_layers} layers, {hidden_size})".format(**TEACHER_CONFIG)
BASE_TEACHER = "teacher ({num_hidden_layers} layers, {hidden_size})".format(**BASE_CONFIG)


def korsent(*argv: object) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "spacy_korsent", *map(str, argv)]
    print("$ korsent " + " ".join(map(str, argv)), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, env=env, stdout=sys.stderr)


# --- part 1: a trained teacher -------------------------------------------------------------------


def teacher_model(args: argparse.Namespace) -> Path:
    """The teacher, trained once on the first ``--train-texts`` NSMC training reviews (all)."""
    shape = "{num_hidden_layers}x{hidden_size}".format(**TEACHER_CONFIG)
    path = args.cache / f"teacher-{shape}-{args.train_texts or 'all'}"
    if (path / "config.json").exists():
        return path
    config = args.cache / "teacher-config.json"
    config.write_text(json.dumps(TEACHER_CONFIG))
    korsent(
        "train", args.nsmc / "ratings_train.txt", "--output", path, "--overwrite",
        "--init-config", config, "--tokenizer", args.vocab,
        *(("--limit", args.train_texts) if args.train_texts else ()),
        "--epochs", 1, "--batch-size", 32, "--lr", 5e-4, "--warmup", 0.05,
        "--weight-decay", 0.1, "--max-length", 128, "--val-fraction", 0.05, "--seed", 42,
        "--device", "cpu", "--quiet",
    )  # fmt: skip
    return path


def distil_texts(args: argparse.Namespace, test_texts: set[str]) -> Path:
    """``--distil-texts`` reviews of the crawl that are not in NSMC's test file, seeded."""
    path = args.cache / f"unlabelled-{args.distil_texts}.jsonl"
    if path.exists():
        return path
    with args.raw.open(encoding="utf-8", newline="") as stream:
        rows = csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
        pool = sorted(
            {
                row["review"]
                for row in rows
                if row["nsmc"] != "test"
                and row["review"].strip()
                and row["review"] not in test_texts
            }
        )
    chosen = np.random.default_rng(42).choice(len(pool), size=args.distil_texts, replace=False)
    with path.open("w", encoding="utf-8") as out:
        for index in sorted(chosen):
            out.write(json.dumps({"text": pool[index]}, ensure_ascii=False) + "\n")
    return path


def student_model(
    args: argparse.Namespace, teacher: Path, texts: Path, name: str, layers: int, width: float,
    init: str,
) -> Path:  # fmt: skip
    hidden = int(TEACHER_CONFIG["hidden_size"] * width)  # type: ignore[operator]
    # The teacher's name first: a student of another teacher is another student.
    path = args.cache / (
        f"{teacher.name}--student-{layers}x{hidden}-{init}-{args.distil_texts}-e{args.epochs}"
    )
    report = path / "distill.json"
    if report.exists() and "held_out" in json.loads(report.read_text()):
        return path
    korsent(
        "distill", "--teacher", teacher, "--texts", texts, "-o", path, "--overwrite",
        "--layers", layers, "--hidden", hidden, "--init", init, "--epochs", args.epochs,
        "--lr", args.lr, "--eval-every", args.eval_every, "--patience", 6,
        "--val-fraction", 0.05, "--cache", args.cache / "teacher-labels", "--speed-texts", 0,
        "--quiet",
    )  # fmt: skip
    return path


def quality_part(args: argparse.Namespace) -> None:
    from spacy_korsent.files.labelled import read_nsmc
    from spacy_korsent.training.student import parameters

    test = read_nsmc(args.nsmc / "ratings_test.txt")
    test.texts, test.labels = test.texts[: args.test_texts], test.labels[: args.test_texts]
    teacher = teacher_model(args)
    texts = distil_texts(args, set(test.texts))
    models = {TEACHER: teacher}
    for name, layers, width, init in STUDENTS:
        if (init == "random" and args.without_random_start) or name not in args.students:
            continue
        models[name] = student_model(args, teacher, texts, name, layers, width, init)
    gold = np.asarray(test.labels)
    probs = {
        (name, backend): predictions(args, path, backend, test.texts)
        for name, path in models.items()
        for backend in BACKENDS
    }
    reference = probs[(TEACHER, "torch")].argmax(axis=1)
    speeds = measure_speeds(models, test.texts[: args.speed_texts], args.rounds)
    teacher_fp32 = speeds[(TEACHER, "torch")]
    print(
        f"\nDistilled on {args.distil_texts:,} unlabelled crawl reviews ({args.epochs} epochs); "
        f"scored on {'the first ' if args.test_texts else 'the whole '}"
        f"{len(gold):,} reviews of the cleaned NSMC test set; docs/s on "
        f"{args.speed_texts:,} of them, median of {args.rounds} rounds.\n"
    )
    header = ("model", "params", "MB", "backend", "agreement", "accuracy", "docs/s",
              "× teacher same backend", "× teacher fp32")  # fmt: skip
    rows = []
    for name, path in models.items():
        module_params = _parameters(path, parameters)
        size = sum(f.stat().st_size for f in path.glob("*.safetensors")) / 1e6
        for backend in BACKENDS:
            predicted = probs[(name, backend)].argmax(axis=1)
            speed = speeds[(name, backend)]
            same = speeds[(TEACHER, backend)]
            rows.append([
                name, f"{module_params / 1e6:.1f}M", f"{size:.0f}", backend,
                f"{(predicted == reference).mean():.2%}", f"{(predicted == gold).mean():.2%}",
                f"{speed:.0f}", f"{speed / same:.1f}×", f"{speed / teacher_fp32:.1f}×",
            ])  # fmt: skip
    print(table(header, rows))
    print(
        "\nagreement: the share of test reviews with the fp32 teacher's label; × teacher: docs/s "
        "against the teacher's on the same backend, and on torch fp32."
    )
    if not args.without_random_start:
        init_table(models)


def _parameters(path: Path, count: Any) -> int:
    from spacy_korsent.inference.loading import load_model

    return int(count(load_model(path)))


def predictions(
    args: argparse.Namespace, model: Path, backend: str, texts: list[str]
) -> np.ndarray:
    """The model's probabilities on the test set through korean_sentiment (cached)."""
    cached = args.cache / "predictions" / f"{model.name}-{backend}-{len(texts)}.npy"
    if cached.exists():
        return np.load(cached)
    from spacy_korsent.training.teacher import TeacherSpec, predict, teacher_pipeline

    print(f"classifying the test set with {model.name} on {backend} ...", file=sys.stderr)
    probs = predict(teacher_pipeline(TeacherSpec(str(model), backend)), texts)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.save(cached, probs)
    return probs


def init_table(models: dict[str, Path]) -> None:
    """The teacher's start against a random one, for the shape trained both ways."""
    print(
        "\nStarting a 1/2-width student from the teacher (SVD-projected embeddings) or at random:"
    )
    header = ("start", "held-out agreement after each check (steps)", "best", "variance kept")
    rows = []
    for name, path in models.items():
        if "1/2 width" not in name or not name.startswith("2 layers"):
            continue
        report = json.loads((path / "distill.json").read_text())
        history = ", ".join(f"{h['agreement']:.3f} ({h['step']})" for h in report["history"])
        kept = report["student"].get("embedding_variance_kept")
        rows.append([
            report["student"]["init"], history, f"{report['best']['agreement']:.3f}",
            f"{kept:.0%}" if kept else "–",
        ])  # fmt: skip
    print(table(header, rows))


# --- part 2: speed at the real size -----------------------------------------------------------


def base_models(args: argparse.Namespace) -> dict[str, Path]:
    """A random KoELECTRA-base-shaped teacher and its students (built once, cached)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, ElectraTokenizerFast

    from spacy_korsent.training.student import build_student

    root = args.cache / "base"
    teacher = root / "teacher"
    models = {BASE_TEACHER: teacher}
    tokenizer = ElectraTokenizerFast(
        vocab_file=str(args.vocab), do_lower_case=False, strip_accents=False,
        model_max_length=512,
    )  # fmt: skip
    module = None
    if not (teacher / "config.json").exists():
        values = {k: v for k, v in BASE_CONFIG.items() if k != "model_type"}
        config = AutoConfig.for_model("electra", num_labels=2, **values)
        module = AutoModelForSequenceClassification.from_config(config).eval()
        module.save_pretrained(teacher)
        tokenizer.save_pretrained(teacher)
    for name, layers, width in BASE_STUDENTS:
        hidden = int(BASE_CONFIG["hidden_size"] * width)  # type: ignore[operator]
        path = root / f"student-{layers}x{hidden}"
        models[name] = path
        if (path / "config.json").exists():
            continue
        if module is None:
            module = AutoModelForSequenceClassification.from_pretrained(teacher).eval()
        student, _ = build_student(module, layers=layers, hidden=hidden)
        student.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return models


def speed_part(args: argparse.Namespace, texts: list[str]) -> None:
    models = base_models(args)
    sample = texts[: args.base_texts]
    speeds = measure_speeds(models, sample, args.rounds)
    print(
        f"\nAt the real size: a KoELECTRA-base-shaped teacher and students (random weights), "
        f"docs/s on {len(sample):,} NSMC test reviews, median of {args.rounds} rounds.\n"
    )
    teacher = BASE_TEACHER
    header = ("model", "torch fp32", "onnx int8", "int8 × fp32", "× teacher fp32",
              "× teacher int8")  # fmt: skip
    rows = []
    for name in models:
        fp32, int8 = speeds[(name, "torch")], speeds[(name, "onnx-int8")]
        rows.append([
            name, f"{fp32:.1f}", f"{int8:.1f}", f"{int8 / fp32:.1f}×",
            f"{fp32 / speeds[(teacher, 'torch')]:.1f}× / {int8 / speeds[(teacher, 'torch')]:.1f}×",
            f"{int8 / speeds[(teacher, 'onnx-int8')]:.1f}×",
        ])  # fmt: skip
    print(table(header, rows))
    print("\n× teacher fp32: the model on torch fp32 / on int8, against the teacher on torch fp32.")


# --- measuring ---------------------------------------------------------------------------------


def measure_speeds(
    models: dict[str, Path], texts: list[str], rounds: int
) -> dict[tuple[str, str], float]:
    """docs/s of every model on every backend, through korean_sentiment: each pipeline is built
    (and exported) once, then every round times each in turn; the median of the rounds."""
    from spacy_korsent.training.measure import docs_per_second
    from spacy_korsent.training.teacher import TeacherSpec, teacher_pipeline

    pipelines = {
        (name, backend): teacher_pipeline(TeacherSpec(str(path), backend))
        for name, path in models.items()
        for backend in BACKENDS
    }
    times: dict[tuple[str, str], list[float]] = {key: [] for key in pipelines}
    for round_number in range(rounds):
        for key, nlp in pipelines.items():
            times[key].append(docs_per_second(nlp, texts))
            print(f"round {round_number + 1}: {key}: {times[key][-1]:.1f} docs/s", file=sys.stderr)
    return {key: statistics.median(values) for key, values in times.items()}


def table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |" for row in rows
    ]
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc", type=Path, required=True, help="folder of ratings_*.txt")
    parser.add_argument("--raw", type=Path, help="nsmc-raw/reviews.tsv (not for --speed-only)")
    parser.add_argument("--vocab", type=Path, required=True, help="KoELECTRA v1 vocab.txt")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/korsent-distill-bench"))
    parser.add_argument(
        "--train-texts", type=int, help="the teacher's training reviews (default: all)"
    )
    parser.add_argument("--distil-texts", type=int, default=20_000, help="unlabelled reviews")
    parser.add_argument("--epochs", type=int, default=2, help="distillation epochs")
    parser.add_argument("--lr", type=float, default=3e-4, help="distillation learning rate")
    parser.add_argument(
        "--eval-every", type=int, default=300, help="batches between held-out checks"
    )
    parser.add_argument("--test-texts", type=int, help="score on the first N (default: all)")
    parser.add_argument("--speed-texts", type=int, default=1000, help="texts timed (part 1)")
    parser.add_argument("--base-texts", type=int, default=300, help="texts timed (part 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--speed-only", action="store_true", help="part 2 alone")
    parser.add_argument(
        "--students", nargs="+", metavar="NAME", default=[name for name, *_ in STUDENTS],
        choices=[name for name, *_ in STUDENTS], help="the students of part 1 (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--without-random-start", action="store_true",
        help="leave out the student trained from random weights (and the table comparing starts)",
    )  # fmt: skip
    add_option(parser)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    from spacy_korsent.files.labelled import read_nsmc

    with recorded(args.markdown):
        started = time.perf_counter()
        print(f"CPU: {cpu_description()}; at the start: {load_note()}", flush=True)
        if not args.speed_only:
            if args.raw is None:
                raise SystemExit("--raw reviews.tsv is needed (or give --speed-only)")
            quality_part(args)
            print(f"\nCPU: {cpu_description()}; {load_note()}", flush=True)
        speed_part(args, read_nsmc(args.nsmc / "ratings_test.txt").texts)
        print(f"\nCPU: {cpu_description()}; {load_note()}")
        print(f"({time.perf_counter() - started:.0f}s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
