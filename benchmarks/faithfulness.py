"""How faithful the token attributions are: ERASER comprehensiveness and sufficiency on NSMC.

For each cleaned NSMC test document, ``korean_sentiment`` predicts a label; each attribution
method (and a random ranking, the baseline) ranks the doc's tokens towards that label. For each
share ``k`` in 10%, 20%, ..., 50% of the doc's ``n`` tokens (the count rounded down, as ferret's
ERASER metrics do, so that a short doc skips the small shares; and rounded up, so that every share
takes at least one token: the ratio to random depends on it, and both are printed):

- comprehensiveness: p(label | doc) - p(label | doc without its top-k tokens); higher is better,
- sufficiency: p(label | doc) - p(label | only its top-k tokens); lower is better,

each averaged over the shares (AOPC, DeYoung et al. 2020, "ERASER") and over the documents.
Tokens are spaCy tokens (whitespace tokens aside); a reduced doc is the kept tokens with the
whitespace of all tokens, classified as a new text by the same component. Also prints the
documents per second of ``nlp.pipe`` with ``explain`` off and on for each method, and the model
rows (windows) run per document, counted at the backend and the model.

    python benchmarks/faithfulness.py ../shared/data/nsmc/ratings_test.txt \\
        [--model tests/fixtures/nsmc-koelectra-tiny] [--docs 1000] [--steps 32]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from markdown_report import add_option, recorded

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURE_MODEL = Path(__file__).parent.parent / "tests" / "fixtures" / "nsmc-koelectra-tiny"
SHARES = (0.1, 0.2, 0.3, 0.4, 0.5)
ROUNDINGS: dict[str, Callable[[float], int]] = {
    "⌊share·n⌋": math.floor,  # as ferret's ERASER metrics; short docs skip the small shares
    "⌈share·n⌉": math.ceil,  # at least one token at every share
}
METHODS = ("occlusion", "integrated_gradients")


class CountingBackend:
    """A backend that counts the model rows (windows) it runs, and those of its torch model."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.rows = 0
        self._hook = backend.model.register_forward_pre_hook(self._count, with_kwargs=True)

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.rows += len(ids)
        return self.backend(ids, mask)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)  # the gradient method finds the torch model here

    def _count(self, module: Any, args: tuple, kwargs: dict) -> None:
        inputs = kwargs.get("inputs_embeds")
        if inputs is not None:  # the gradient path; the backend's own calls are counted above
            self.rows += len(inputs)

    def remove(self) -> Any:
        self._hook.remove()
        return self.backend


def run_pipeline(
    model: str, texts: list[str], config: dict[str, Any]
) -> tuple[list[Any], float, float, Any]:
    """Docs, documents per second, model rows per document, and the component's engine.

    The engine classifies the reduced texts, and has its backend wrapped to count rows.
    """
    from spacy_korsent import blank_korean

    nlp = blank_korean()
    component = nlp.add_pipe("korean_sentiment", config={"model": model, **config})
    nlp.initialize()
    classifier = component.engine
    list(nlp.pipe(texts[:16]))  # warm-up
    counter = classifier.backend = CountingBackend(classifier.backend)
    start = time.perf_counter()
    docs = list(nlp.pipe(texts))
    speed = len(texts) / (time.perf_counter() - start)
    classifier.backend = counter.remove()
    return docs, speed, counter.rows / len(texts), classifier


def target_probabilities(classifier: Any, texts: list[str], targets: np.ndarray) -> np.ndarray:
    """p(target) of each text; a text left without subwords is classified as an empty window."""
    empty = classifier.probabilities([classifier.prefix + classifier.suffix])[0]
    probs = classifier.predict(texts)
    return np.array([(empty if p is None else p)[t] for p, t in zip(probs, targets)])


def aopc(
    classifier: Any,
    docs: list[Any],
    rankings: list[np.ndarray],
    targets: np.ndarray,
    rounding: Callable[[float], int],
) -> tuple[float, float]:
    """Mean comprehensiveness and sufficiency over the shares and the docs.

    A share that ``rounding`` turns into 0 tokens changes nothing and counts as 0 for both.
    """
    removed, kept, owners = [], [], []
    for index, (doc, ranking) in enumerate(zip(docs, rankings)):
        for share in SHARES:
            top = set(ranking[: rounding(share * len(ranking))].tolist())
            # A left-out token leaves its whitespace, so that no two words run together.
            removed.append("".join(t.whitespace_ if t.i in top else t.text_with_ws for t in doc))
            kept.append(
                "".join(t.text_with_ws if t.i in top else t.whitespace_ for t in doc)
                if top
                else doc.text
            )
            owners.append(index)
    full = np.array([doc.cats[doc._.sentiment["label"]] for doc in docs])[owners]
    chosen = targets[owners]
    comprehensiveness = full - target_probabilities(classifier, removed, chosen)
    sufficiency = full - target_probabilities(classifier, kept, chosen)
    return float(comprehensiveness.mean()), float(sufficiency.mean())


def ranking(doc: Any, values: np.ndarray) -> np.ndarray:
    """Indices of the doc's non-space tokens, most supporting first (ties keep text order)."""
    words = np.array([t.i for t in doc if not t.is_space], dtype=np.int64)
    return words[np.argsort(-values[words], kind="stable")]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nsmc", type=Path, help="NSMC ratings_test.txt")
    parser.add_argument("--model", default=str(FIXTURE_MODEL), help="binary sentiment model")
    parser.add_argument("--docs", type=int, default=1000, help="first N cleaned documents")
    parser.add_argument("--steps", type=int, default=32, help="integrated gradients steps")
    parser.add_argument("--seed", type=int, default=0, help="of the random baseline")
    parser.add_argument(
        "--random-rounds", type=int, default=3, help="random rankings averaged (default: 3)"
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        from spacy_korsent.files.labelled import read_nsmc

        texts = read_nsmc(args.nsmc).texts[: args.docs]
        docs, speed, rows, classifier = run_pipeline(args.model, texts, {})
        docs = [doc for doc in docs if doc._.sentiment["label"] is not None]
        labels = list(docs[0]._.sentiment["scores"])  # every label, in class order
        targets = np.array([labels.index(doc._.sentiment["label"]) for doc in docs])
        rng = np.random.default_rng(args.seed)
        random_rankings = [
            [ranking(doc, rng.random(len(doc))) for doc in docs] for _ in range(args.random_rounds)
        ]
        speeds = [("off", speed, rows)]
        rankings = {}
        for method in args.methods:
            config = {"explain": True, "explain_method": method, "explain_steps": args.steps}
            explained, method_speed, method_rows, _ = run_pipeline(args.model, texts, config)
            explained = [doc for doc in explained if doc._.sentiment["label"] is not None]
            assert [d._.sentiment["label"] for d in explained] == [
                d._.sentiment["label"] for d in docs
            ]
            rankings[method] = [ranking(d, np.array(d._.sentiment_attribution)) for d in explained]
            speeds.append((method, method_speed, method_rows))

        shares = ", ".join(f"{share:.0%}" for share in SHARES)
        print(
            f"{len(docs):,} cleaned NSMC test documents ({args.nsmc}), model {args.model}; "
            f"integrated gradients with {args.steps} steps; random: the mean of "
            f"{args.random_rounds} random rankings\n"
        )
        print(f"Faithfulness: AOPC over removing (keeping) the top {shares} of a doc's n tokens\n")
        print("| attributions | tokens removed | comprehensiveness ↑ | × random | sufficiency ↓ |")
        print("| --- | --- | ---: | ---: | ---: |")
        for rounding_name, rounding in ROUNDINGS.items():
            scores = [aopc(classifier, docs, r, targets, rounding) for r in random_rankings]
            random_scores = np.mean(scores, axis=0)
            rows_out = [("random", random_scores)] + [
                (method, aopc(classifier, docs, ranked, targets, rounding))
                for method, ranked in rankings.items()
            ]
            for name, (comprehensiveness, sufficiency) in rows_out:
                print(
                    f"| {name} | {rounding_name} | {comprehensiveness:.4f} | "
                    f"{comprehensiveness / random_scores[0]:.1f}× | {sufficiency:.4f} |"
                )
        print("\nSpeed: nlp.pipe over the same documents\n")
        print("| explain | docs/s | × explain off | model rows (windows) per doc |")
        print("| --- | ---: | ---: | ---: |")
        for name, docs_per_second, rows_per_doc in speeds:
            print(
                f"| {name} | {docs_per_second:,.1f} | {docs_per_second / speed:.3f}× "
                f"| {rows_per_doc:,.1f} |"
            )
        return 0


if __name__ == "__main__":
    sys.exit(main())
