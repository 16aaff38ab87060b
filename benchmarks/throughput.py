"""Documents per second for Korean sentiment on CPU: the usual ways against this package.

Every method classifies the same first ``--docs`` cleaned NSMC test documents with the same
randomly initialised KoELECTRA-base-sized classifier (the real KoELECTRA v1 vocabulary, 12 layers,
hidden 768), each in a fresh Python process, so that its peak memory is its own and no method
profits from another's warm caches. Each is warmed up on a few documents first (which also loads
the model and, for ONNX and OpenVINO, converts it), then timed on all of them. ``--rounds N`` runs
every method N times in turn and reports medians, so that a machine that is busy for a while slows
all methods alike rather than one.

The random model's classification head is scaled (and centred) once, when the model is built, so
that its positive-class probabilities spread over 0-1 on NSMC reviews, as a trained model's do:
with the raw random head they all lie near 0.5, where the smallest change flips a label, and the
agreement columns would say little.

The peers are what a user would pick instead: the model card's loop, transformers' pipeline,
spacy-huggingface-pipelines, a hand-written length-sorted loop, Optimum's ONNX Runtime model
(fp32 and dynamic int8, through transformers' pipeline or fed length-sorted batches) and
OpenVINO (the model converted with ``openvino.convert_model``, at the CPU's default precision,
which is bfloat16 on CPUs with AVX512-BF16 or AMX, and at fp32).

    python benchmarks/throughput.py --nsmc ../shared/data/nsmc/ratings_test.txt \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt \\
        --emotion-vocab ../shared/vocab/klue-bert-base/vocab.txt

``--before DIR`` also runs every spacy-korsent method with the package of an earlier checkout
(``git worktree add DIR COMMIT``) in the same rounds, right after today's, to measure a change:
rows marked "(before)"; ``× korsent torch`` of a before-row is against today's torch.

Needs the ``bench`` extra (``pip install -e ".[bench]"``: onnx, onnxruntime,
spacy-huggingface-pipelines, optimum-onnx, openvino). ``--small`` swaps in tiny models to try the
script out quickly.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/cpu.py
from markdown_report import add_option, recorded  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

Runner = Callable[[list[str]], Optional[np.ndarray]]
"""Classifies texts; returns the sentiment probabilities [docs, 2] (None if it has none)."""

BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
WARMUP_DOCS = 16
PIPELINE_BATCH = 32
HEAD_DOCS = 256
HEAD_SPREAD = 3.0


# --- the models --------------------------------------------------------------------------------


def build_models(args: argparse.Namespace, calibration: list[str]) -> dict[str, Path]:
    """Build (once; they are cached) the random sentiment Electra and emotion BERT; the
    sentiment head is scaled on the ``calibration`` texts."""
    size = "small" if args.small else "base"
    root = args.cache / size
    dirs = {"sentiment": root / "sentiment-electra-spread", "emotion": root / "emotion-bert"}
    if not (dirs["sentiment"] / "config.json").exists():
        _save_random(dirs["sentiment"], "electra", args.vocab, 2, args.small, calibration)
    if args.emotion_vocab and not (dirs["emotion"] / "config.json").exists():
        _save_random(dirs["emotion"], "bert", args.emotion_vocab, 60, args.small, calibration)
    dirs["int8-pipeline"] = root / "sentiment-int8-pipeline"
    if "onnx-int8-saved" in args.methods and not dirs["int8-pipeline"].exists():
        print(f"exporting an int8 pipeline to {dirs['int8-pipeline']} ...", file=sys.stderr)
        export = ["export", str(dirs["sentiment"]), str(dirs["int8-pipeline"]), "--quantize"]
        subprocess.run(
            [sys.executable, "-m", "spacy_korsent", *export], check=True, stdout=sys.stderr
        )
    return dirs


def _save_random(
    path: Path, arch: str, vocab: Path, num_labels: int, small: bool, texts: list[str]
) -> None:
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
    model = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    if num_labels == 2:
        _spread_head(model, tokenizer, texts)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def _spread_head(model: object, tokenizer: object, texts: list[str]) -> None:
    """Point the output layer along the direction in which ``texts`` differ most, so that
    P(positive) spreads over 0-1 on them.

    A random output layer reads a direction in which texts barely differ: its probabilities all
    lie near 0.5, and scaled up it would turn rounding noise into large changes. Like a trained
    head, this one reads the first principal component of the features it is given (the head's
    hidden layer), scaled to a logit margin with a standard deviation of HEAD_SPREAD, centred on
    the median: half of the texts on each side of 0.5.
    """
    import torch

    head = model.classifier  # ElectraClassificationHead: dense, activation, out_proj
    features = []
    hook = head.out_proj.register_forward_hook(lambda _m, inputs, _o: features.append(inputs[0]))
    with torch.no_grad():
        inputs = tokenizer(
            texts, padding=True, truncation=True, max_length=128, return_tensors="pt"
        )
        model(**inputs)
        hook.remove()
        pooled = features[0]
        direction = torch.linalg.svd(pooled - pooled.mean(0), full_matrices=False).Vh[0]
        projected = pooled @ direction
        scale = HEAD_SPREAD / float(projected.std())
        weight = torch.zeros_like(head.out_proj.weight)
        weight[1] = direction * scale
        head.out_proj.weight.copy_(weight)
        head.out_proj.bias.copy_(torch.tensor([0.0, -float(projected.median()) * scale]))


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

    def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            ids, mask = torch.from_numpy(input_ids), torch.from_numpy(attention_mask)
            return model(input_ids=ids, attention_mask=mask).logits.numpy()

    return _sorted_batches(tokenizer, forward)


def _sorted_batches(tokenizer: object, forward: Callable[..., np.ndarray]) -> Runner:
    """Sort by length, batches of 32, each padded to its longest; the softmax of ``forward``."""

    def run(texts: list[str]) -> np.ndarray:
        encoded = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        rows = []
        for start in range(0, len(order), PIPELINE_BATCH):
            batch = {"input_ids": [encoded[i] for i in order[start : start + PIPELINE_BATCH]]}
            inputs = tokenizer.pad(batch, return_tensors="np")
            rows.append(forward(inputs["input_ids"], inputs["attention_mask"]))
        logits = np.concatenate(rows).astype(np.float32)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = np.empty_like(shifted)
        probs[order] = shifted / shifted.sum(axis=1, keepdims=True)
        return probs

    return run


def optimum_model(models: dict[str, Path], *, quantize: bool) -> tuple[object, object]:
    """Optimum's ONNX Runtime model, exported on load; ``quantize``: Optimum's dynamic int8
    recipe for AVX-512 VNNI CPUs, as in its documentation."""
    from optimum.onnxruntime import ORTModelForSequenceClassification, ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models["sentiment"])
    model = ORTModelForSequenceClassification.from_pretrained(models["sentiment"], export=True)
    if quantize:
        scratch = Path(tempfile.mkdtemp(prefix="korsent-bench-optimum-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=False)
        ORTQuantizer.from_pretrained(model).quantize(save_dir=scratch, quantization_config=config)
        del model
        model = ORTModelForSequenceClassification.from_pretrained(
            scratch, file_name="model_quantized.onnx"
        )
    return tokenizer, model


def optimum_pipeline(*, quantize: bool) -> Callable[[dict[str, Path]], Runner]:
    """Optimum's model in ``transformers.pipeline("text-classification")``, ``batch_size=32``."""

    def prepare(models: dict[str, Path]) -> Runner:
        from transformers import pipeline

        tokenizer, model = optimum_model(models, quantize=quantize)
        classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)

        def run(texts: list[str]) -> np.ndarray:
            outputs = classify(texts, batch_size=PIPELINE_BATCH, truncation=True, top_k=None)
            return _by_label(outputs, model.config.label2id)

        return run

    return prepare


def optimum_sorted(*, quantize: bool) -> Callable[[dict[str, Path]], Runner]:
    """Optimum's model fed length-sorted, dynamically padded batches of 32."""

    def prepare(models: dict[str, Path]) -> Runner:
        import torch

        tokenizer, model = optimum_model(models, quantize=quantize)

        def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
            ids, mask = torch.from_numpy(input_ids), torch.from_numpy(attention_mask)
            return model(input_ids=ids, attention_mask=mask).logits.numpy()

        return _sorted_batches(tokenizer, forward)

    return prepare


def openvino_sorted(precision: Optional[str]) -> Callable[[dict[str, Path]], Runner]:
    """OpenVINO: the torch model converted by ``openvino.convert_model``, compiled for the CPU
    (``precision`` None: its default, bfloat16 on CPUs with AVX512-BF16 or AMX), fed
    length-sorted, dynamically padded batches of 32."""

    def prepare(models: dict[str, Path]) -> Runner:
        import openvino
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(models["sentiment"])
        model = AutoModelForSequenceClassification.from_pretrained(models["sentiment"]).eval()
        example = {"input_ids": torch.ones((2, 8), dtype=torch.long)}
        example["attention_mask"] = example["input_ids"]
        with torch.no_grad():
            converted = openvino.convert_model(model, example_input=example)
        del model
        settings = {"INFERENCE_PRECISION_HINT": precision} if precision else {}
        compiled = openvino.Core().compile_model(converted, "CPU", settings)
        request = compiled.create_infer_request()

        def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
            result = request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
            return result[compiled.output(0)]

        return _sorted_batches(tokenizer, forward)

    return prepare


def korsent(
    *components: str, n_process: int = 1, batch_size: Optional[int] = None, **config: object
) -> Callable[..., Runner]:
    """This package's components through ``nlp.pipe``, with the given config."""

    def prepare(models: dict[str, Path]) -> Runner:
        from spacy_korsent import blank_korean

        nlp = blank_korean()
        for component in components:
            kind = component.split("_")[1]
            settings = {"model": str(models[kind]), **_spelled(config)}
            nlp.add_pipe(component, config=settings)
        return _pipeline_runner(nlp, n_process=n_process, batch_size=batch_size)

    prepare.korsent = True  # type: ignore[attr-defined]
    return prepare


def _spelled(config: dict[str, object]) -> dict[str, object]:
    """``config`` as the imported package spells it (``--before``): before the precision joined
    the backend's name, ``torch-bfloat16`` was ``backend = "torch"`` with ``dtype = "bfloat16"``;
    before the one backend setting, int8 was ``backend = "onnx"`` with ``quantize = true`` and
    OpenVINO was ``backend = "onnx"`` with ``dtype = "bfloat16"``."""
    try:
        from spacy_korsent.inference.backends import BACKENDS as known
    except ImportError:
        known = {}
    backend = str(config.get("backend", "torch"))
    if backend in known:
        return config
    base, _, precision = backend.rpartition("-")
    if precision not in ("bfloat16", "float16"):
        base, precision = backend, ""
    old: dict[str, object] = {"backend": base, **({"dtype": precision} if precision else {})}
    if base == "onnx-int8" and base not in known:
        old.update(backend="onnx", quantize=True)
    elif base == "openvino" and base not in known:
        old.update(backend="onnx")
    return {**config, **old}


def saved_int8(models: dict[str, Path]) -> Runner:
    """``spacy.load()`` of a pipeline saved by ``korsent export --quantize`` (no export here)."""
    import spacy

    return _pipeline_runner(spacy.load(models["int8-pipeline"]))


def _pipeline_runner(
    nlp: object, *, n_process: int = 1, batch_size: Optional[int] = None
) -> Runner:
    def run(texts: list[str]) -> Optional[np.ndarray]:
        docs = list(nlp.pipe(texts, n_process=n_process, batch_size=batch_size))
        if "korean_sentiment" not in nlp.pipe_names:
            return None
        return np.array([list(doc._.sentiment["scores"].values()) for doc in docs])

    return run


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
    "optimum": (
        "Optimum ORTModel fp32, transformers pipeline, batch_size=32",
        optimum_pipeline(quantize=False),
    ),
    "optimum-sorted": (
        "Optimum ORTModel fp32, length-sorted 32/batch",
        optimum_sorted(quantize=False),
    ),
    "optimum-int8": (
        "Optimum ORTModel int8, transformers pipeline, batch_size=32",
        optimum_pipeline(quantize=True),
    ),
    "optimum-int8-sorted": (
        "Optimum ORTModel int8, length-sorted 32/batch",
        optimum_sorted(quantize=True),
    ),
    "openvino": (
        "OpenVINO, CPU's default precision, length-sorted 32/batch",
        openvino_sorted(None),
    ),
    "openvino-fp32": ("OpenVINO, fp32, length-sorted 32/batch", openvino_sorted("f32")),
    "torch": ("spacy-korsent torch (default)", korsent("korean_sentiment")),
    "torch-bf16": (
        "spacy-korsent torch-bfloat16",
        korsent("korean_sentiment", backend="torch-bfloat16"),
    ),
    "onnx-bf16": (
        "spacy-korsent openvino-bfloat16",
        korsent("korean_sentiment", backend="openvino-bfloat16"),
    ),
    # spaCy hands a worker batch_size docs at a time: its default of 1,000 leaves one idle.
    "torch-2proc": (
        "spacy-korsent torch, nlp.pipe(n_process=2, batch_size=128)",
        korsent("korean_sentiment", n_process=2, batch_size=128),
    ),
    "onnx": ("spacy-korsent onnx fp32", korsent("korean_sentiment", backend="onnx")),
    "onnx-int8": (
        "spacy-korsent onnx int8 (first use: export in a child process)",
        korsent("korean_sentiment", backend="onnx-int8"),
    ),
    "onnx-int8-saved": ("spacy-korsent onnx int8, spacy.load() of a saved pipeline", saved_int8),
    "emotion": ("spacy-korsent emotion alone, torch", korsent("korean_emotion")),
    "both": (
        "spacy-korsent sentiment + emotion, one pipeline, torch",
        korsent("korean_sentiment", "korean_emotion"),
    ),
    "both-int8": (
        "spacy-korsent sentiment + emotion, one pipeline, onnx int8",
        korsent("korean_sentiment", "korean_emotion", backend="onnx-int8"),
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
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    probs = run(texts)
    seconds, cpu_seconds = time.perf_counter() - start, _cpu_seconds() - cpu_start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "method": method,
        "docs_per_s": len(texts) / seconds,
        "docs_per_cpu_s": len(texts) / cpu_seconds,
        "setup_s": setup,
        "peak_mb": _own_peak_mb(),
        "child_mb": children / 1024 if children else None,  # ru_maxrss is in KiB on Linux
        "probs": None if probs is None else np.asarray(probs, dtype=np.float32).tolist(),
    }


def _own_peak_mb() -> float:
    """This process's peak resident memory.

    From /proc (VmHWM) where there is one: Linux carries ru_maxrss over exec, so a worker would
    report the peak of the process that started it when that was higher.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (n_process workers)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_isolated(method: str, args: argparse.Namespace, before: Optional[Path] = None) -> dict:
    """Run :func:`measure` for one method in a fresh interpreter and read its JSON result;
    with ``before``, the package is imported from that checkout."""
    env = dict(os.environ)
    if is_korsent(method):  # setup s is a first run's: it exports (later runs read the cache)
        env["SPACY_KORSENT_NO_CACHE"] = "1"
    if before:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(before), env.get("PYTHONPATH")]))
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        worker = ["--worker", method, "--result", result.name]
        subprocess.run([sys.executable, __file__, *sys.argv[1:], *worker], check=True, env=env)
        return json.loads(Path(result.name).read_text())


def is_korsent(method: str) -> bool:
    """Whether ``method`` runs this package's components (and so has a before-row)."""
    return getattr(METHODS[method][1], "korsent", False)


def _commit(checkout: Path) -> str:
    run = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return run.stdout.strip()[:90] or "not a git checkout"


def medians(runs: list[dict]) -> dict:
    """One method's rounds in one row: median speed and setup, highest peak memory."""
    return {
        **runs[0],
        "docs_per_s": statistics.median(r["docs_per_s"] for r in runs),
        "docs_per_cpu_s": statistics.median(r["docs_per_cpu_s"] for r in runs),
        "setup_s": statistics.median(r["setup_s"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "child_mb": max((r["child_mb"] or 0 for r in runs), default=0) or None,
    }


def report(results: list[dict], texts: int, rounds: int) -> str:
    """A markdown table of speed, speed ratios, peak memory and agreement with the torch path."""
    speed = {r["method"]: r["docs_per_s"] for r in results if not r.get("before")}
    reference = next(
        (r["probs"] for r in results if r["method"] == "torch" and not r.get("before")), None
    )
    lines = [
        "| method | docs/s | × pipeline | × card loop | × korsent torch | docs/CPU-s "
        "| peak MB | child MB | setup s | max \\|Δp\\| | same label |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cells = [
            METHODS[r["method"]][0] + (" (before)" if r.get("before") else ""),
            f"{r['docs_per_s']:.1f}",
            _ratio(r["docs_per_s"], speed.get("pipeline")),
            _ratio(r["docs_per_s"], speed.get("card")),
            _ratio(r["docs_per_s"], speed.get("torch")),
            f"{r['docs_per_cpu_s']:.1f}",
            f"{r['peak_mb']:,.0f}",
            f"{r['child_mb']:,.0f}" if r["child_mb"] else "–",
            f"{r['setup_s']:.0f}",
            *_agreement(r["probs"], reference),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{texts} documents, {rounds} round(s), medians. docs/s: the timed pass only (docs/CPU-s: "
        "per second of CPU time of the process and its workers, steadier than docs/s on a busy "
        "machine, but blind to idle cores and counting spin-waiting threads); setup s: "
        "loading the model (and any export or conversion; spacy-korsent's methods run without "
        "the export cache, as a first run does) plus a warm-up on a few documents. "
        "Peak MB: the method's process's peak resident memory, setup included; child MB: the "
        "largest of its child processes (spacy-korsent's ONNX export, n_process workers), at "
        "least what the method's process held when it started that child. "
        "max |Δp| and same label: the sentiment probabilities against spacy-korsent torch.",
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
    """A one-line description of the CPU this ran on: model, vector features, load."""
    import platform

    import torch
    from cpu import cpu_description, load_note

    return (
        f"{cpu_description()}; {platform.system()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}; {load_note()}"
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
    parser.add_argument(
        "--before", type=Path, help="an earlier checkout whose package every korsent method "
        "also runs, in the same rounds (a before/after comparison)",
    )  # fmt: skip
    parser.add_argument("--worker", choices=list(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    add_option(parser)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    from spacy_korsent.files.labelled import read_nsmc

    cleaned = read_nsmc(args.nsmc).texts
    texts = cleaned[: args.docs]
    # The head is fitted on the last documents, none of them timed: a timed document right at
    # the centre (p = 0.5) would flip its label on any rounding.
    models = build_models(args, cleaned[-HEAD_DOCS:])
    if args.worker:
        result = measure(args.worker, models, texts)
        args.result.write_text(json.dumps(result))
        return 0
    with recorded(args.markdown):
        methods = [m for m in args.methods if args.emotion_vocab or m not in NEEDS_EMOTION]
        rows = [(method, None) for method in methods]
        if args.before:
            rows = [
                row
                for method in methods
                for row in [(method, None)] + [(method, args.before)] * is_korsent(method)
            ]
        runs: dict[tuple[str, Optional[Path]], list[dict]] = {row: [] for row in rows}
        for round_number in range(1, args.rounds + 1):
            for method, before in rows:
                which = " (before)" if before else ""
                print(f"round {round_number}: {method}{which} ...", file=sys.stderr, flush=True)
                result = run_isolated(method, args, before)
                runs[method, before].append({**result, "before": bool(before)})
                print(f"  {result['docs_per_s']:.1f} docs/s", file=sys.stderr, flush=True)
        print(report([medians(runs[row]) for row in rows], len(texts), args.rounds))
        if args.before:
            print(f"\nBefore: the package at {args.before} ({_commit(args.before)}).")
        print(f"\nMachine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
