"""Documents per second for Korean sentiment on CPU: the usual ways against this package.

Every method classifies the same first ``--docs`` cleaned NSMC test documents with the same
randomly initialised KoELECTRA-base-sized classifier (the real KoELECTRA v1 vocabulary, 12 layers,
hidden 768), each in a fresh Python process, so that its peak memory is its own and no method
profits from another's warm caches. Each is warmed up on a few documents first (which also loads
the model and, for ONNX, exports it), then timed on all of them. ``--rounds N`` runs every method
N times in turn and reports medians, so that a machine that is busy for a while slows all methods
alike rather than one.

    python benchmarks/throughput.py --nsmc ../shared/data/nsmc/ratings_test.txt \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt \\
        --emotion-vocab ../shared/vocab/klue-bert-base/vocab.txt

Needs the ``bench`` extra (``pip install -e ".[bench]"``: onnx, onnxruntime and
spacy-huggingface-pipelines). ``--small`` swaps in tiny models to try the script out quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

Runner = Callable[[list[str]], Optional[np.ndarray]]
"""Classifies texts; returns the sentiment probabilities [docs, 2] (None if it has none)."""

BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
WARMUP_DOCS = 16
PIPELINE_BATCH = 32


# --- the models --------------------------------------------------------------------------------


def build_models(args: argparse.Namespace) -> dict[str, Path]:
    """Build (once; they are cached) the random sentiment Electra and emotion BERT."""
    size = "small" if args.small else "base"
    root = args.cache / size
    dirs = {"sentiment": root / "sentiment-electra", "emotion": root / "emotion-bert"}
    if not (dirs["sentiment"] / "config.json").exists():
        _save_random(dirs["sentiment"], "electra", args.vocab, 2, args.small)
    if args.emotion_vocab and not (dirs["emotion"] / "config.json").exists():
        _save_random(dirs["emotion"], "bert", args.emotion_vocab, 60, args.small)
    return dirs


def _save_random(path: Path, arch: str, vocab: Path, num_labels: int, small: bool) -> None:
    import torch
    import transformers

    print(f"building a random {arch} classifier in {path} ...", file=sys.stderr)
    torch.manual_seed(0)
    tokenizer_class = {"electra": "ElectraTokenizerFast", "bert": "BertTokenizerFast"}[arch]
    tokenizer = getattr(transformers, tokenizer_class)(
        vocab_file=str(vocab), do_lower_case=False, strip_accents=False, model_max_length=512
    )
    sizes = SMALL if small else BASE
    extra = {"embedding_size": sizes["hidden_size"]} if arch == "electra" else {}
    config = transformers.AutoConfig.for_model(
        arch, vocab_size=tokenizer.vocab_size, num_labels=num_labels, **sizes, **extra
    )
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


# --- the methods -------------------------------------------------------------------------------


def card_loop(models: dict[str, Path]) -> Runner:
    """The model card's ``predict()``: one document at a time, padded to 128 tokens."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models["sentiment"])
    model = AutoModelForSequenceClassification.from_pretrained(models["sentiment"]).eval()

    def predict(text: str) -> np.ndarray:
        inputs = tokenizer(
            text, return_tensors="pt", truncation=True, max_length=128, padding="max_length"
        )
        with torch.no_grad():
            return torch.softmax(model(**inputs).logits, dim=-1)[0].numpy()

    return lambda texts: np.stack([predict(text) for text in texts])


def hf_pipeline(models: dict[str, Path]) -> Runner:
    """``transformers.pipeline("text-classification")`` with ``batch_size=32``."""
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(models["sentiment"]), device=-1)
    label2id = classify.model.config.label2id

    def run(texts: list[str]) -> np.ndarray:
        outputs = classify(texts, batch_size=PIPELINE_BATCH, truncation=True, top_k=None)
        return _by_label(outputs, label2id)

    return run


def spacy_hf(models: dict[str, Path]) -> Runner:
    """spacy-huggingface-pipelines' ``hf_text_pipe`` in ``nlp.pipe(batch_size=32)``."""
    import spacy_huggingface_pipelines  # noqa: F401  (registers the factory)

    from spacy_korsent import blank_korean

    nlp = blank_korean()
    pipe = nlp.add_pipe("hf_text_pipe", config={"model": str(models["sentiment"])})
    label2id = pipe.hf_pipeline.model.config.label2id

    def run(texts: list[str]) -> np.ndarray:
        docs = nlp.pipe(texts, batch_size=PIPELINE_BATCH)
        cats = [[{"label": k, "score": v} for k, v in doc.cats.items()] for doc in docs]
        return _by_label(cats, label2id)

    return run


def sorted_loop(models: dict[str, Path]) -> Runner:
    """Hand-written: sort by length, batches of 32, pad each batch to its longest document."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models["sentiment"])
    model = AutoModelForSequenceClassification.from_pretrained(models["sentiment"]).eval()

    def run(texts: list[str]) -> np.ndarray:
        encoded = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        probs = np.empty((len(texts), model.config.num_labels), dtype=np.float32)
        for start in range(0, len(order), PIPELINE_BATCH):
            batch = order[start : start + PIPELINE_BATCH]
            inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, return_tensors="pt")
            with torch.no_grad():
                probs[batch] = torch.softmax(model(**inputs).logits, dim=-1).numpy()
        return probs

    return run


def korsent(
    *components: str, n_process: int = 1, batch_size: Optional[int] = None, **config: object
) -> Callable[..., Runner]:
    """This package's components through ``nlp.pipe``, with the given config."""

    def prepare(models: dict[str, Path]) -> Runner:
        from spacy_korsent import blank_korean

        nlp = blank_korean()
        for component in components:
            kind = component.split("_")[1]
            nlp.add_pipe(component, config={"model": str(models[kind]), **config})

        def run(texts: list[str]) -> Optional[np.ndarray]:
            docs = list(nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
            if "korean_sentiment" not in components:
                return None
            return np.array([list(doc._.sentiment["scores"].values()) for doc in docs])

        return run

    return prepare


def _by_label(outputs: list[list[dict]], label2id: dict[str, int]) -> np.ndarray:
    probs = np.zeros((len(outputs), len(label2id)), dtype=np.float32)
    for row, scores in enumerate(outputs):
        for item in scores:
            probs[row, label2id[item["label"]]] = item["score"]
    return probs


METHODS: dict[str, tuple[str, Callable[[dict[str, Path]], Runner]]] = {
    "card": ("model card predict() loop", card_loop),
    "pipeline": ("transformers pipeline, batch_size=32", hf_pipeline),
    "spacy-hf": ("spacy-huggingface-pipelines, batch_size=32", spacy_hf),
    "sorted": ("length-sorted, dynamically padded loop, 32/batch", sorted_loop),
    "torch": ("spacy-korsent torch (default)", korsent("korean_sentiment")),
    # spaCy hands a worker batch_size docs at a time: its default of 1,000 leaves one idle.
    "torch-2proc": (
        "spacy-korsent torch, nlp.pipe(n_process=2, batch_size=128)",
        korsent("korean_sentiment", n_process=2, batch_size=128),
    ),
    "onnx": ("spacy-korsent onnx fp32", korsent("korean_sentiment", backend="onnx")),
    "onnx-int8": (
        "spacy-korsent onnx int8",
        korsent("korean_sentiment", backend="onnx", quantize=True),
    ),
    "emotion": ("spacy-korsent emotion alone, torch", korsent("korean_emotion")),
    "both": (
        "spacy-korsent sentiment + emotion, one pipeline, torch",
        korsent("korean_sentiment", "korean_emotion"),
    ),
    "both-int8": (
        "spacy-korsent sentiment + emotion, one pipeline, onnx int8",
        korsent("korean_sentiment", "korean_emotion", backend="onnx", quantize=True),
    ),
}
NEEDS_EMOTION = {"emotion", "both", "both-int8"}


# --- running and reporting ---------------------------------------------------------------------


def measure(method: str, models: dict[str, Path], texts: list[str]) -> dict:
    """Run one method in this process: warm up, then time one pass over ``texts``."""
    start = time.perf_counter()
    run = METHODS[method][1](models)
    run(texts[:WARMUP_DOCS])
    setup = time.perf_counter() - start
    start = time.perf_counter()
    probs = run(texts)
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "method": method,
        "docs_per_s": len(texts) / seconds,
        "setup_s": setup,
        "peak_mb": max(own, workers) / 1024,  # ru_maxrss is in KiB on Linux
        "probs": None if probs is None else np.asarray(probs, dtype=np.float32).tolist(),
    }


def run_isolated(method: str, args: argparse.Namespace) -> dict:
    """Run :func:`measure` for one method in a fresh interpreter and read its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        worker = ["--worker", method, "--result", result.name]
        subprocess.run([sys.executable, __file__, *sys.argv[1:], *worker], check=True)
        return json.loads(Path(result.name).read_text())


def medians(runs: list[dict]) -> dict:
    """One method's rounds in one row: median speed and setup, highest peak memory."""
    return {
        **runs[0],
        "docs_per_s": statistics.median(r["docs_per_s"] for r in runs),
        "setup_s": statistics.median(r["setup_s"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
    }


def report(results: list[dict], texts: int, rounds: int) -> str:
    """A markdown table of speed, speed ratios, peak memory and agreement with the torch path."""
    speed = {r["method"]: r["docs_per_s"] for r in results}
    reference = next((r["probs"] for r in results if r["method"] == "torch"), None)
    lines = [
        "| method | docs/s | × pipeline | × card loop | peak MB | setup s "
        "| max \\|Δp\\| | same label |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cells = [
            METHODS[r["method"]][0],
            f"{r['docs_per_s']:.1f}",
            _ratio(r["docs_per_s"], speed.get("pipeline")),
            _ratio(r["docs_per_s"], speed.get("card")),
            f"{r['peak_mb']:,.0f}",
            f"{r['setup_s']:.0f}",
            *_agreement(r["probs"], reference),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{texts} documents, {rounds} round(s), medians. docs/s: the timed pass only; setup s: "
        "loading the model (and the ONNX export) plus a warm-up on a few documents. Peak MB: the "
        "method's process's peak resident memory, setup included (with n_process=2, the largest "
        "process). max |Δp| and same label: the sentiment probabilities against spacy-korsent "
        "torch.",
    ]
    if {"torch", "emotion", "both"} <= speed.keys():
        apart = 1000 / speed["torch"] + 1000 / speed["emotion"]
        lines.append(
            f"Sentiment and emotion in one pipeline: {1000 / speed['both']:.1f} s per 1,000 "
            f"documents; the two separately: {apart:.1f} s."
        )
    return "\n".join(lines)


def _ratio(value: float, base: Optional[float]) -> str:
    return f"{value / base:.1f}×" if base else "–"


def _agreement(probs: Optional[list], reference: Optional[list]) -> list[str]:
    if probs is None or reference is None:
        return ["–", "–"]
    probs_a, ref_a = np.asarray(probs), np.asarray(reference)
    same = float((probs_a.argmax(1) == ref_a.argmax(1)).mean())
    return [f"{np.abs(probs_a - ref_a).max():.1e}", f"{same:.1%}"]


def machine() -> str:
    """A one-line description of the CPU this ran on."""
    import platform

    import torch

    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        model = names[0] if names else model
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc", type=Path, required=True, help="NSMC ratings_test.txt")
    parser.add_argument("--vocab", type=Path, required=True, help="KoELECTRA v1 vocab.txt")
    parser.add_argument(
        "--emotion-vocab", type=Path, help="klue/bert-base vocab.txt (for the emotion methods)"
    )
    parser.add_argument("--docs", type=int, default=512, help="how many documents (default 512)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of every method, in turn (medians reported)"
    )
    parser.add_argument(
        "--methods", nargs="+", choices=list(METHODS), default=list(METHODS), metavar="METHOD",
        help=f"which methods, in order (default: all of {', '.join(METHODS)})",
    )  # fmt: skip
    parser.add_argument("--small", action="store_true", help="tiny models, to try the script")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "korsent-bench",
        help="where the random models are kept between runs",
    )  # fmt: skip
    parser.add_argument("--worker", choices=list(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from spacy_korsent.files.labelled import read_nsmc

    texts = read_nsmc(args.nsmc).texts[: args.docs]
    models = build_models(args)
    if args.worker:
        result = measure(args.worker, models, texts)
        args.result.write_text(json.dumps(result))
        return 0
    methods = [m for m in args.methods if args.emotion_vocab or m not in NEEDS_EMOTION]
    runs: dict[str, list[dict]] = {method: [] for method in methods}
    for round_number in range(1, args.rounds + 1):
        for method in methods:
            print(f"round {round_number}: {method} ...", file=sys.stderr, flush=True)
            runs[method].append(run_isolated(method, args))
            print(f"  {runs[method][-1]['docs_per_s']:.1f} docs/s", file=sys.stderr, flush=True)
    print(report([medians(runs[method]) for method in methods], len(texts), args.rounds))
    print(f"\nMachine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
