"""Answers users can trust: neutral texts, calibrated scores, fitted thresholds, on held-out data.

Prints three tables:

1. **Neutral reviews.** Naver movie reviews that are not in NSMC (``nsmc`` = ``-`` in the full
   crawl), rated 1-4 (negative), 5-8 (neutral) or 9-10 (positive), split by movie into a fitting
   and a scoring part (no movie in both): the three-way macro-F1 on the scoring part of (a) the
   binary NSMC test model, (b) the same with a temperature and neutral band fitted on the fitting
   part (``korsent calibrate``'s fit), (c) a three-class model trained from the test model with
   ``korsent train`` on other reviews of the fitting movies (cached under ``--cache``).
2. **Calibration.** ECE (15 bins, top-class confidence) and log-loss before and after a
   temperature: on the NSMC test set (fitted on one half of a seeded split, scored on the other)
   and on the rated reviews' negative and positive texts (fitted on the fitting movies).
3. **KOTE thresholds.** The KOTE test model's micro/macro-F1 on KOTE's test split at 0.5, at one
   threshold and at per-label thresholds, both fitted on the 500 validation comments the model
   was not trained on (``tests/fixtures/train_kote_model.sh``: ``random.Random(42).shuffle`` of
   val.tsv's lines, the first 500), and the frequency baseline (the k labels most frequent on
   those 500 comments, k fitted there, for every comment).

    python benchmarks/trust.py --data ../shared/data

Probabilities are cached under ``--cache`` (delete it after changing a model).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
from markdown_report import add_option, recorded

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
NSMC_MODEL = FIXTURES / "nsmc-koelectra-tiny"
KOTE_MODEL = FIXTURES / "kote-koelectra-tiny"
THREE_WAY = {**dict.fromkeys("1234", 0), **dict.fromkeys("5678", 1), "9": 2, "10": 2}
LABEL_MAP = ",".join(
    f"{rating}={('negative', 'neutral', 'positive')[cls]}" for rating, cls in THREE_WAY.items()
)
UNCALIBRATED = {"temperature": 1.0}


def probabilities(
    cache: Path, name: str, factory: str, model: Path, texts: list[str], **settings: object
) -> np.ndarray:
    """The model's own probabilities for ``texts`` (no calibration), cached as ``name``.npy."""
    path = cache / f"{name}.npy"
    if path.exists():
        return np.load(path)
    from spacy_korsent import blank_korean

    component = blank_korean().add_pipe(
        factory, config={"model": str(model), **UNCALIBRATED, **settings}
    )
    found = component.engine.predict(texts)  # type: ignore[attr-defined]
    width = next(p for p in found if p is not None).shape[0]
    probs = np.stack([np.full(width, np.nan) if p is None else p for p in found])
    np.save(path, probs)
    return probs


def read_reviews(path: Path) -> list[dict[str, str]]:
    """Rated reviews not in NSMC, with a text."""
    with path.open(encoding="utf-8", newline="") as file:
        rows = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            row
            for row in rows
            if row["nsmc"] == "-" and row["rating"] in THREE_WAY and row["review"].strip()
        ]


def split_by_movie(
    reviews: list[dict[str, str]], sample: int, train: int, seed: int
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    """``sample`` reviews split by movie into fitting and scoring halves, and up to ``train``
    other reviews of the fitting movies."""
    rng = random.Random(seed)
    chosen = rng.sample(range(len(reviews)), sample + 20 * train)
    movies = sorted({reviews[i]["movie_id"] for i in chosen})
    rng.shuffle(movies)
    fitting_movies = set(movies[: len(movies) // 2])
    picked = [reviews[i] for i in chosen[:sample]]
    fit = [row for row in picked if row["movie_id"] in fitting_movies]
    score = [row for row in picked if row["movie_id"] not in fitting_movies]
    rest = [reviews[i] for i in chosen[sample:] if reviews[i]["movie_id"] in fitting_movies]
    return fit, score, rest[:train]


def three_class_model(cache: Path, rows: list[dict[str, str]], epochs: int) -> Path:
    """A negative/neutral/positive model trained from the NSMC test model (cached)."""
    output = cache / "three-class-model"
    if (output / "config.json").exists():
        return output
    data = cache / "three-class-train.tsv"
    with data.open("w", encoding="utf-8") as file:
        file.write("text\trating\n")
        for row in rows:
            file.write(f"{' '.join(row['review'].split())}\t{row['rating']}\n")
    command = [
        *(sys.executable, "-m", "spacy_korsent", "train", str(data)),
        *("--model", str(NSMC_MODEL), "-o", str(output), "--overwrite"),
        *("--label-column", "rating", "--no-quoting", "--label-map", LABEL_MAP),
        *("--labels", "negative,neutral,positive", "--epochs", str(epochs)),
        *("--lr", "5e-4", "--batch-size", "32", "--val-fraction", "0.1", "--patience", "1"),
        *("--seed", "42", "--device", "cpu", "--threads", "1", "--quiet"),
    ]
    subprocess.run(command, check=True)
    return output


def neutral_table(args: argparse.Namespace) -> None:
    from spacy_korsent.calibrate import fit_single_label
    from spacy_korsent.calibration import scale_probabilities
    from spacy_korsent.metrics import macro_f1

    reviews = read_reviews(args.data / "nsmc-raw" / "reviews.tsv")
    fit, score, train = split_by_movie(reviews, args.sample, args.train, args.seed)
    gold_fit = np.array([THREE_WAY[row["rating"]] for row in fit])
    gold = np.array([THREE_WAY[row["rating"]] for row in score])
    texts = [row["review"] for row in score]
    binary_fit = probabilities(
        args.cache, "reviews-fit", "korean_sentiment", NSMC_MODEL, [r["review"] for r in fit]
    )
    binary = probabilities(args.cache, "reviews-score", "korean_sentiment", NSMC_MODEL, texts)
    # Gold in the model's classes: negative 0, positive 1, neutral 2 (= len(labels)).
    as_model = np.array([0, 2, 1])
    fitted = fit_single_label(binary_fit, as_model[gold_fit], ["negative", "positive"])
    calibration = fitted.calibration
    assert calibration.temperature is not None and calibration.neutral_band is not None
    scaled = scale_probabilities(binary, calibration.temperature, multi_label=False)
    band = calibration.neutral_band.classify(scaled[:, 1])
    model = three_class_model(args.cache, train, args.epochs)
    three = probabilities(args.cache, "reviews-score-3class", "korean_sentiment", model, texts)
    rows = [
        ("(a) binary NSMC test model (never neutral)", np.where(binary[:, 1] >= 0.5, 2, 0)),
        (
            f"(b) + temperature {calibration.temperature} and neutral band "
            f"[{calibration.neutral_band.low:.3f}, {calibration.neutral_band.high:.3f})",
            band,
        ),
        (f"(c) three-class model ({len(train):,} reviews, korsent train)", three.argmax(1)),
    ]
    counts = np.bincount(gold, minlength=3)
    print(
        f"\n1. Three-way macro-F1 on {len(score):,} reviews of held-out movies (negative "
        f"{counts[0]:,}, neutral {counts[1]:,}, positive {counts[2]:,}); fitted on {len(fit):,} "
        "reviews of other movies\n"
    )
    print("| answer | macro-F1 | neutral F1 | accuracy |\n| --- | ---: | ---: | ---: |")
    for name, pred in rows:
        neutral_f1 = macro_f1(gold, pred, labels=[1])
        print(
            f"| {name} | {macro_f1(gold, pred, labels=[0, 1, 2]):.3f} | {neutral_f1:.3f} | "
            f"{(gold == pred).mean():.3f} |"
        )
    extreme = (gold == 1) & ((binary[:, 1] > 0.9) | (binary[:, 1] < 0.1))
    print(
        f"\nNeutral reviews the binary model puts above 0.9 or below 0.1: "
        f"{extreme.sum() / max(counts[1], 1):.1%}"
    )
    polar = gold != 1
    calibration_rows(
        "rated reviews (negative and positive, held-out movies)",
        binary_fit[gold_fit != 1],
        (gold_fit[gold_fit != 1] == 2).astype(int),
        binary[polar],
        (gold[polar] == 2).astype(int),
    )


def calibration_rows(
    name: str, fit_probs: np.ndarray, fit_gold: np.ndarray, probs: np.ndarray, gold: np.ndarray
) -> None:
    from spacy_korsent.calibration import fit_temperature, log_loss, scale_probabilities
    from spacy_korsent.metrics import expected_calibration_error

    temperature = fit_temperature(fit_probs, fit_gold, multi_label=False)
    scaled = scale_probabilities(probs, temperature, multi_label=False)

    def ece(p: np.ndarray) -> float:
        return expected_calibration_error(p.max(1), p.argmax(1) == gold)

    CALIBRATION.append(
        f"| {name} | {len(fit_gold):,} / {len(gold):,} | {temperature} | {ece(probs):.4f} | "
        f"{ece(scaled):.4f} | {log_loss(probs, gold, multi_label=False):.4f} | "
        f"{log_loss(scaled, gold, multi_label=False):.4f} |"
    )


CALIBRATION: list[str] = []


def nsmc_calibration(args: argparse.Namespace) -> None:
    from spacy_korsent.files.labelled import read_nsmc

    data = read_nsmc(args.data / "nsmc" / "ratings_test.txt")
    probs = probabilities(args.cache, "nsmc-test", "korean_sentiment", NSMC_MODEL, data.texts)
    gold = np.array(data.labels)
    order = np.random.default_rng(args.seed).permutation(len(gold))
    fit, score = order[: len(order) // 2], order[len(order) // 2 :]
    calibration_rows(
        "NSMC test set (seeded halves)", probs[fit], gold[fit], probs[score], gold[score]
    )


def kote_table(args: argparse.Namespace) -> None:
    from spacy_korsent.calibrate import fit_multi_label
    from spacy_korsent.calibration import (
        THRESHOLD_PRIOR,
        best_f1_threshold,
        fit_thresholds,
        scale_probabilities,
    )
    from spacy_korsent.metrics import multilabel_scores

    lines = (args.data / "kote" / "val.tsv").read_text(encoding="utf-8").splitlines(True)
    random.Random(42).shuffle(lines)
    labels = (args.data / "kote" / "labels.txt").read_text(encoding="utf-8").split()
    dev_texts, dev_gold = kote_rows(lines[:500], len(labels))
    test_lines = (args.data / "kote" / "test.tsv").read_text(encoding="utf-8").splitlines(True)
    test_texts, gold = kote_rows(test_lines, len(labels))
    dev = probabilities(
        args.cache, "kote-dev", "korean_emotion", KOTE_MODEL, dev_texts, thresholds={}
    )
    test = probabilities(
        args.cache, "kote-test", "korean_emotion", KOTE_MODEL, test_texts, thresholds={}
    )
    shared = best_f1_threshold(dev.ravel(), dev_gold.ravel())
    calibrated = fit_multi_label(dev, dev_gold, labels, threshold=0.5).calibration
    assert calibrated.temperature is not None and calibrated.thresholds is not None
    scaled = scale_probabilities(test, calibrated.temperature, multi_label=True)
    cuts = np.array([calibrated.thresholds[label] for label in labels])
    own = fit_thresholds(dev, dev_gold, labels, prior=0)
    own_cuts = np.array([own.per_label[label] for label in labels])
    frequent = np.argsort(-dev_gold.sum(0), kind="stable")

    def top_k(k: int, n: int) -> np.ndarray:
        pred = np.zeros((n, len(labels)), dtype=bool)
        pred[:, frequent[:k]] = True
        return pred

    k = max(
        range(1, len(labels) + 1),
        key=lambda k: multilabel_scores(dev_gold, top_k(k, len(dev_gold)), labels)["micro_f1"],
    )
    rows = [
        (
            f"frequency baseline (the {k} labels most frequent on the 500, always)",
            top_k(k, len(gold)),
        ),
        ("the model at 0.5", test >= 0.5),
        (f"one threshold fitted on the 500 ({shared:.3f})", test >= shared),
        (
            f"each label's F1-best threshold on the 500 ({len(own.fitted)} labels; the rest "
            f"{own.shared:.3f})",
            test >= own_cuts,
        ),
        (
            f"korsent calibrate's fit: temperature {calibrated.temperature}, per-label "
            f"thresholds drawn towards {shared:.3f} with a prior of {THRESHOLD_PRIOR}",
            scaled >= cuts,
        ),
    ]
    print(
        f"\n3. KOTE test split ({len(gold):,} comments, {gold.sum(1).mean():.2f} labels each); "
        "thresholds fitted on 500 validation comments the model was not trained on\n"
    )
    print(
        "| predictions | micro-F1 | macro-F1 | labels per comment |\n| --- | ---: | ---: | ---: |"
    )
    for name, pred in rows:
        scores = multilabel_scores(gold, pred, labels)
        print(
            f"| {name} | {scores['micro_f1']:.3f} | {scores['macro_f1']:.3f} | "
            f"{pred.sum(1).mean():.2f} |"
        )
    dev_scaled = scale_probabilities(dev, calibrated.temperature, multi_label=True)
    prior_table(dev_scaled, dev_gold, scaled, gold, labels)


PRIORS = (0, 10, 25, 50, 100, 200, 10**9)


def prior_table(
    dev: np.ndarray, dev_gold: np.ndarray, test: np.ndarray, gold: np.ndarray, labels: list[str]
) -> None:
    """How strongly per-label thresholds should be drawn towards the shared one, chosen without
    the test split: 5-fold cross-validation on the 500 validation comments (thresholds fitted on
    four folds, the fifth predicted; micro-F1 of the pooled predictions), beside each prior's
    test score for reference."""
    from spacy_korsent.calibration import fit_thresholds
    from spacy_korsent.metrics import multilabel_scores

    folds = np.arange(len(dev)) % 5
    np.random.default_rng(0).shuffle(folds)

    def predict(fit_probs: np.ndarray, fit_gold: np.ndarray, probs: np.ndarray, prior: int):
        fitted = fit_thresholds(fit_probs, fit_gold, labels, prior=prior)
        return probs >= np.array([fitted.per_label[label] for label in labels])

    print(
        "\nThe prior, chosen on the validation comments alone (5-fold cross-validation; "
        f"{PRIORS[-1]:.0e}: the shared threshold for every label):\n"
    )
    print("| prior | CV micro-F1 | CV macro-F1 | test micro-F1 | test macro-F1 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    cv_scores = {}
    for prior in PRIORS:
        pooled = np.zeros_like(dev_gold)
        for fold in range(5):
            out = folds == fold
            pooled[out] = predict(dev[~out], dev_gold[~out], dev[out], prior)
        cv = multilabel_scores(dev_gold, pooled, labels)
        on_test = multilabel_scores(gold, predict(dev, dev_gold, test, prior), labels)
        cv_scores[prior] = cv["micro_f1"]
        print(
            f"| {prior:g} | {cv['micro_f1']:.3f} | {cv['macro_f1']:.3f} | "
            f"{on_test['micro_f1']:.3f} | {on_test['macro_f1']:.3f} |"
        )
    print(f"\nBest prior by cross-validated micro-F1: {max(cv_scores, key=cv_scores.get):g}")


def kote_rows(lines: list[str], n_labels: int) -> tuple[list[str], np.ndarray]:
    """KOTE's ``id<TAB>text<TAB>0,6,10`` lines as texts and a multi-hot matrix."""
    texts, indices = [], []
    for line in lines:
        _, text, cell = line.rstrip("\n").split("\t")
        texts.append(text)
        indices.append([int(value) for value in cell.split(",") if value])
    truth = np.zeros((len(texts), n_labels), dtype=bool)
    for row, columns in enumerate(indices):
        truth[row, columns] = True
    return texts, truth


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/korsent-trust"))
    parser.add_argument("--sample", type=int, default=8000, help="reviews to fit and score on")
    parser.add_argument("--train", type=int, default=4000, help="reviews to train (c) on")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kote-only", action="store_true", help="table 3 alone")
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        args.cache.mkdir(parents=True, exist_ok=True)
        import torch

        torch.set_num_threads(1)
        from report import machine  # benchmarks/report.py

        print(f"{machine()}; torch threads 1")
        if args.kote_only:
            kote_table(args)
            return 0
        neutral_table(args)
        nsmc_calibration(args)
        print(
            "\n2. Expected calibration error (15 bins) and log-loss before and after a temperature "
            "fitted on the first part\n"
        )
        print(
            "| data | texts fitted / scored | temperature | ECE before | ECE after | log-loss "
            "before | log-loss after |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        )
        print("\n".join(CALIBRATION))
        kote_table(args)
        return 0


if __name__ == "__main__":
    sys.exit(main())
