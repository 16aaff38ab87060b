"""Which int8 recipe is fastest on this CPU and still gives the fp32 model's labels?

The component's int8 path (``backend="onnx-int8"``) exports the model to ONNX and
quantizes it dynamically with ONNX Runtime: int8 weights per output channel, uint8 activations
quantized on the fly with one scale per token (``spacy_korsent.inference.row_quantization``),
MatMul only (U8S8). This tries it against ONNX Runtime's own dynamic quantization (one scale per
batch for the activations) and the other recipes ONNX Runtime offers, on the same
KoELECTRA-base-shaped model that benchmarks/throughput.py builds (random weights, the head
spread so that labels mean something):

- per-tensor instead of per-channel weights; uint8 weights (U8U8); ``reduce_range`` (7-bit weights,
  which avoids VPMADDUBSW's saturation on AVX2);
- the graph first fused by ONNX Runtime's transformer optimizer (one Attention op, fused
  LayerNorm and GELU), then quantized (MatMul and Attention);
- OpenVINO running the int8 graph, and OpenVINO on the fp32 graph, for reference.

Each variant runs through the package's window engine (length-sorted batches, shard threads), on
the same texts, rounds taken in turn; agreement is with the fp32 torch labels. "batch Δp" is
the largest change of P(positive) between a text classified alone and in a batch of others.

    python benchmarks/int8.py --nsmc ../shared/data/nsmc/ratings_test.txt \\
        --vocab ../shared/vocab/koelectra-base-v1/vocab.txt
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu import cpu_description, load_note  # noqa: E402
from markdown_report import add_option, recorded

Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]
ALONE = 50
"""Texts classified one at a time too, for the batch Δp column."""


def quantized(source: Path, target: Path, **options: Any) -> Path:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    settings: dict[str, Any] = {
        "weight_type": QuantType.QInt8,
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        # the fused graph's contrib ops defeat ONNX's shape inference: say the tensors are float
        "extra_options": {"DefaultTensorType": TensorProto.FLOAT},
    }
    settings.update(options)
    if not target.exists():
        logging.getLogger().setLevel(logging.ERROR)
        quantize_dynamic(str(source), str(target), **settings)
    return target


def fused(source: Path, target: Path, heads: int, hidden: int) -> Path:
    from onnxruntime.transformers.optimizer import optimize_model

    if not target.exists():
        model = optimize_model(
            str(source), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1
        )
        model.save_model_to_file(str(target))
    return target


def variants(fp32: Path, work: Path, heads: int, hidden: int) -> dict[str, tuple[str, Path]]:
    """name -> (runtime, graph)."""
    from onnxruntime.quantization import QuantType

    from spacy_korsent.inference.onnx_export import quantize

    graph = fused(fp32, work / "fused.onnx", heads, hidden)
    per_token = work / "per-token.onnx"
    if not per_token.exists():
        quantize(fp32, per_token)
    return {
        "onnx fp32": ("ort", fp32),
        "int8 per-channel U8S8, activations per token (the package's)": ("ort", per_token),
        "int8 per-channel U8S8, activations per batch": ("ort", quantized(fp32, work / "pc.onnx")),
        "int8 per-tensor U8S8": ("ort", quantized(fp32, work / "pt.onnx", per_channel=False)),
        "int8 per-channel U8U8": (
            "ort",
            quantized(fp32, work / "u8.onnx", weight_type=QuantType.QUInt8),
        ),
        "int8 per-channel, reduce_range": (
            "ort",
            quantized(fp32, work / "rr.onnx", reduce_range=True),
        ),
        "fused fp32": ("ort", graph),
        "fused + int8 per-channel": (
            "ort",
            quantized(graph, work / "fused-pc.onnx", op_types_to_quantize=["MatMul", "Attention"]),
        ),
        "fused + int8 per-tensor": (
            "ort",
            quantized(
                graph,
                work / "fused-pt.onnx",
                per_channel=False,
                op_types_to_quantize=["MatMul", "Attention"],
            ),
        ),  # fmt: skip
        "openvino fp32": ("openvino", fp32),
        "openvino on the int8 graph": ("openvino", work / "pc.onnx"),
    }


def backend(runtime: str, graph: Path) -> Forward:
    """ONNX Runtime as the package runs it, or OpenVINO at fp32 precision on all cores (the
    package's OpenVINO backend is for bfloat16, which this CPU may lack)."""
    from spacy_korsent.inference.onnx_backend import OnnxBackend

    if runtime == "ort":
        return OnnxBackend(graph)
    import openvino

    hints = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    compiled = openvino.Core().compile_model(str(graph), "CPU", hints)
    request = compiled.create_infer_request()

    def forward(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        result = request.infer({"input_ids": ids, "attention_mask": mask})
        return np.asarray(next(iter(result.values())), dtype=np.float32)

    return forward


def timed(classifier: Any, texts: list[str]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds (all threads) that classifying ``texts`` took."""
    wall, cpu = time.perf_counter(), time.process_time()
    classifier.predict(texts)
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc", type=Path, required=True, help="NSMC ratings_test.txt")
    parser.add_argument("--vocab", type=Path, required=True, help="KoELECTRA v1 vocab.txt")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--agreement-docs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="a tiny model, to try the script")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "korsent-bench")
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        import throughput

        from spacy_korsent.files.labelled import read_nsmc
        from spacy_korsent.inference.engine import WindowClassifier
        from spacy_korsent.inference.loading import load_pretrained
        from spacy_korsent.inference.onnx_export import export_onnx
        from spacy_korsent.inference.torch_backend import TorchBackend

        print(f"CPU: {cpu_description()}; at the start: {load_note()}", flush=True)
        args.emotion_vocab, args.methods = None, []
        cleaned = read_nsmc(args.nsmc).texts
        model_dir = throughput.build_models(args, cleaned[-throughput.HEAD_DOCS :])["sentiment"]
        work = args.cache / ("small" if args.small else "base") / "int8-variants"
        work.mkdir(parents=True, exist_ok=True)
        fp32 = work / "fp32.onnx"
        if not fp32.exists():
            export_onnx(model_dir, fp32, quantize=False)
        tokenizer, module = load_pretrained(model_dir)
        config = module.config
        graphs = variants(fp32, work, config.num_attention_heads, config.hidden_size)

        def engine(forward: Any) -> WindowClassifier:
            return WindowClassifier(
                tokenizer, forward, max_length=128, stride=32, truncate=False, batch_tokens=1024
            )

        import torch

        check = cleaned[: args.agreement_docs]
        reference = np.stack(engine(TorchBackend(module, torch.device("cpu"))).predict(check))
        engines = {"torch fp32": engine(TorchBackend(module, torch.device("cpu")))}
        for name, (runtime, graph) in graphs.items():
            engines[name] = engine(backend(runtime, graph))
        texts = cleaned[: args.docs]
        speeds: dict[str, list[float]] = {name: [] for name in engines}
        per_cpu: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(args.rounds):
            for name, classifier in engines.items():
                classifier.predict(texts[:16])
                wall, cpu = timed(classifier, texts)
                speeds[name].append(len(texts) / wall)
                per_cpu[name].append(len(texts) / cpu)
                print(
                    f"{name}: {speeds[name][-1]:.1f} docs/s, {per_cpu[name][-1]:.1f} docs/CPU-s",
                    file=sys.stderr,
                    flush=True,
                )
        base = statistics.median(speeds["torch fp32"])
        base_cpu = statistics.median(per_cpu["torch fp32"])
        print(
            f"\n{args.docs} NSMC test reviews, median of {args.rounds} rounds; "
            f"agreement with torch fp32 labels on {len(check):,} reviews.\n"
        )
        print(
            "docs/s: wall clock; docs/CPU-s: per second of this process's CPU time over all its "
            "threads, which other work on the machine disturbs less (a thread that spins while "
            "waiting counts as busy).\n"
        )
        print(
            "| variant | docs/s | × torch fp32 | docs/CPU-s | × torch fp32 | agreement "
            "| batch Δp | graph MB |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, classifier in engines.items():
            probs = reference if name == "torch fp32" else np.stack(classifier.predict(check))
            same = float((probs.argmax(1) == reference.argmax(1)).mean())
            graph = graphs.get(name, (None, None))[1]
            size = f"{graph.stat().st_size / 1e6:.0f}" if graph else "–"
            speed, cpu = statistics.median(speeds[name]), statistics.median(per_cpu[name])
            alone = np.stack([classifier.predict([text])[0] for text in check[:ALONE]])
            moved = float(np.abs(alone[:, 1] - probs[:ALONE, 1]).max())
            print(
                f"| {name} | {speed:.1f} | {speed / base:.2f}× | {cpu:.1f} | {cpu / base_cpu:.2f}× "
                f"| {same:.2%} | {moved:.1e} | {size} |"
            )
        print(f"\nCPU: {cpu_description()}; {load_note()}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
