"""``spacy train`` against ``korsent train``: the test model's recipe, both ways, in one run.

The NSMC-trained test model (tests/fixtures/nsmc-koelectra-tiny) is a 4-layer, hidden-64 ELECTRA
with the KoELECTRA v1 vocabulary, trained from scratch by ``korsent train`` for one epoch on the
cleaned NSMC training set less a seeded 10% validation split (batch 32, learning rate 1e-3 with 5%
warmup and linear decay, weight decay 0.1, one CPU thread). This script trains the same model,
from the same random start, through ``spacy train`` (the data converted by ``korsent convert``
with the same split, a short config that names ``korean_sentiment``, completed by ``spacy init
fill-config``), and optionally through
``korsent train`` too, then scores both with ``korsent evaluate`` on the cleaned NSMC test set.

    python benchmarks/spacy_train.py --nsmc-dir ../shared/data/nsmc \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt [--korsent-train] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from markdown_report import add_option, recorded

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nsmc-koelectra-tiny"
"""The committed test model: its config.json gives the architecture to train from scratch."""
RECIPE = {"batch": 32, "lr": 1e-3, "warmup": 0.05, "weight_decay": 0.1, "seed": 42}

CONFIG = """
[paths]
train = null
dev = null

[system]
seed = {seed}

[nlp]
lang = "ko"
pipeline = ["korean_sentiment"]

[nlp.tokenizer]
@tokenizers = "spacy.Tokenizer.v1"

[components]

[components.korean_sentiment]
factory = "korean_sentiment"
model = "{model}"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
max_epochs = 1
max_steps = 0
patience = 0
eval_frequency = {eval_frequency}

[training.batcher]
@batchers = "spacy_korsent.batch_by_length.v1"
size = {batch}
tokenizer = "{model}"

[training.optimizer]
@optimizers = "Adam.v1"
L2 = {weight_decay}
L2_is_weight_decay = true
grad_clip = 1.0
use_averages = false

[training.optimizer.learn_rate]
@schedules = "warmup_linear.v1"
initial_rate = {lr}
warmup_steps = {warmup_steps}
total_steps = {total_steps}
"""


def run(command: list[object], env: dict[str, str]) -> float:
    """Run a command (its output shown), return its minutes; stop the script if it fails."""
    started = time.perf_counter()
    subprocess.run([str(part) for part in command], check=True, env=env)
    return (time.perf_counter() - started) / 60


def evaluate(model: Path, test: Path, work: Path, env: dict[str, str]) -> float:
    report = work / f"{model.parent.name}-{model.name}.json"
    korsent = [sys.executable, "-m", "spacy_korsent"]
    run([*korsent, "evaluate", test, "--model", model, "--json", report, "--quiet"], env)
    return float(json.loads(report.read_text())["accuracy"])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc-dir", type=Path, required=True, help="with ratings_*.txt")
    parser.add_argument("--vocab", type=Path, required=True, help="KoELECTRA v1 vocab.txt")
    parser.add_argument("--korsent-train", action="store_true", help="also run korsent train")
    parser.add_argument("--limit", type=int, help="train on the first N rows only (a quick try)")
    parser.add_argument("--work", type=Path, help="keep the outputs here (default: a temp dir)")
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        from spacy_korsent.training.loop import write_random_model

        work = args.work or Path(tempfile.mkdtemp(prefix="korsent-spacy-train-"))
        work.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        korsent = [sys.executable, "-m", "spacy_korsent"]
        train_file, test_file = (
            args.nsmc_dir / "ratings_train.txt",
            args.nsmc_dir / "ratings_test.txt",
        )
        limit = ["--limit", str(args.limit)] if args.limit else []

        config_json = FIXTURE / "config.json"
        start = write_random_model(
            ["negative", "positive"], config_json, str(args.vocab), RECIPE["seed"], work
        )
        train_spacy, dev_spacy = work / "train.spacy", work / "dev.spacy"
        run([*korsent, "convert", train_file, train_spacy, "--dev", dev_spacy, *limit], env)

        from spacy.tokens import DocBin

        n_train = len(DocBin().from_disk(train_spacy))
        total_steps = math.ceil(n_train / RECIPE["batch"])
        base, config = work / "base.cfg", work / "config.cfg"
        base.write_text(
            CONFIG.format(
                model=start,
                total_steps=total_steps,
                warmup_steps=int(RECIPE["warmup"] * total_steps),
                # Score the dev set at the start and at the end, as korsent train validates once an
                # epoch: the comparison is of training, not of how often each evaluates.
                eval_frequency=max(total_steps - 1, 1),
                **RECIPE,
            )
        )
        run([sys.executable, "-m", "spacy", "init", "fill-config", base, config], env)
        results = []
        spacy_out = work / "spacy-train"
        minutes = run(
            [sys.executable, "-m", "spacy", "train", config, "--output", spacy_out,
             "--paths.train", train_spacy, "--paths.dev", dev_spacy],
            env,
        )  # fmt: skip
        for name in ("model-last", "model-best"):
            accuracy = evaluate(
                spacy_out / name / "korean_sentiment" / "model", test_file, work, env
            )
            results.append((f"spacy train ({name})", accuracy, minutes))
        if args.korsent_train:
            korsent_out = work / "korsent-train"
            minutes = run(
                [*korsent, "train", train_file, "--output", korsent_out, "--overwrite",
                 "--init-config", config_json, "--tokenizer", args.vocab, "--epochs", 1,
                 "--batch-size", RECIPE["batch"], "--lr", RECIPE["lr"],
                 "--warmup", RECIPE["warmup"], "--weight-decay", RECIPE["weight_decay"],
                 "--seed", RECIPE["seed"],
                 "--device", "cpu", "--threads", 1, "--quiet", *limit],
                env,
            )  # fmt: skip
            results.append(("korsent train", evaluate(korsent_out, test_file, work, env), minutes))

        print(
            f"\n{n_train:,} training docs, {total_steps:,} steps of {RECIPE['batch']}, one thread"
        )
        print("| method | NSMC test accuracy | training minutes |")
        print("| --- | ---: | ---: |")
        for name, accuracy, minutes in results:
            print(f"| {name} | {accuracy:.4f} | {minutes:.1f} |")
        print("| korsent train (the committed fixture, recorded) | 0.8437 | about 4 |")
        print(f"\noutputs in {work}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
