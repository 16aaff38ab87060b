"""How far the faster paths move a trained sentiment model's outputs from the torch backend's.

Classifies the cleaned NSMC test set with ``korean_sentiment`` five times (torch float32, torch
bfloat16, ONNX fp32, ONNX int8, the ONNX export in bfloat16 with OpenVINO) and prints, for each,
the accuracy against the gold labels, the share of documents whose label is the torch label, and
the largest and mean change of the positive-class probability. The bfloat16 rows are left out on
a CPU without native bfloat16, the OpenVINO row without the openvino package.

    python benchmarks/agreement.py tests/fixtures/nsmc-koelectra-tiny \\
        --nsmc ../shared/data/nsmc/ratings_test.txt
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Optional

import numpy as np
from markdown_report import add_option, recorded

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BACKENDS = {
    "torch": {},
    "torch bfloat16": {"backend": "torch-bfloat16"},
    "onnx fp32": {"backend": "onnx"},
    "onnx int8": {"backend": "onnx-int8"},
    "OpenVINO bfloat16": {"backend": "openvino-bfloat16"},
}


def positive_probabilities(
    model: str, settings: dict, texts: list[str]
) -> tuple[np.ndarray, float]:
    """P(positive) for every text, and the documents per second of ``nlp.pipe``."""
    from spacy_korsent import blank_korean

    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": model, **settings}).initialize()
    start = time.perf_counter()
    probs = np.array([doc.cats["positive"] for doc in nlp.pipe(texts)])
    return probs, len(texts) / (time.perf_counter() - start)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a trained binary sentiment model directory")
    parser.add_argument("--nsmc", type=Path, required=True, help="NSMC ratings_test.txt")
    parser.add_argument("--docs", type=int, help="only the first N cleaned documents")
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        from spacy_korsent.files.labelled import read_nsmc

        data = read_nsmc(args.nsmc)
        texts, gold = data.texts[: args.docs], np.array(data.labels[: args.docs])
        from spacy_korsent.inference.backends import backend_kind
        from spacy_korsent.inference.precision import cpu_supports_bfloat16

        def runs_here(backend: str) -> bool:
            kind = backend_kind(backend)
            return kind.dtype == "float32" or (
                cpu_supports_bfloat16()
                and (kind.runtime != "openvino" or bool(find_spec("openvino")))
            )

        backends = {
            name: settings
            for name, settings in BACKENDS.items()
            if runs_here(settings.get("backend", "torch"))
        }
        results = {
            name: positive_probabilities(args.model, s, texts) for name, s in backends.items()
        }
        reference = results["torch"][0]
        print(f"{len(texts):,} cleaned NSMC test documents, model {args.model}\n")
        print(
            "| backend | accuracy | same label as torch | labels changed | max \\|Δp\\| "
            "| mean \\|Δp\\| | docs/s |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, (probs, speed) in results.items():
            change = np.abs(probs - reference)
            changed = int(np.sum((probs > 0.5) != (reference > 0.5)))
            same = 1 - changed / len(texts)
            accuracy = np.mean((probs > 0.5) == gold)
            print(
                f"| {name} | {accuracy:.4f} | {same:.2%} | {changed:,} | {change.max():.1e} "
                f"| {change.mean():.1e} "
                f"| {speed:,.0f} |"
            )
        return 0


if __name__ == "__main__":
    sys.exit(main())
