"""Time against text length: spaCy's tokenizer as blank_korean() used it, and KoreanTokenizer.

    python benchmarks/tokenization.py --nsmc ../shared/data/nsmc/ratings_test.txt \\
        [--lengths 1000 3000 10000 30000 100000] [--repeats 3] [--budget 30]

Three kinds of text of each length: ordinary text (NSMC reviews joined by spaces), a run of
``!`` and a run of emoji. Three tables of medians over ``--repeats`` runs: tokenization alone
(``nlp.make_doc``), the whole analysis (``nlp(text)`` with the test sentiment model,
tests/fixtures/nsmc-koelectra-tiny), and the analysis after tokenization (the component alone,
the same for both tokenizers: Hugging Face tokenizer, subword windows, the model). "before" is
``spacy.Tokenizer.v1``, quadratic on the runs: a measurement that would take longer than
``--budget`` seconds, extrapolated from the previous lengths, is skipped and shown as its
estimate in brackets.

Then it checks that both tokenizers give the same tokens (text, whitespace, norm) on every review
of the NSMC file, and how long each takes over all of them.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).parent))
from markdown_report import add_option, recorded
from throughput import machine  # noqa: E402  (this directory's benchmark)

TEST_MODEL = Path(__file__).parents[1] / "tests" / "fixtures" / "nsmc-koelectra-tiny"
SPACY_RULES = {"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}}
KINDS = ("ordinary", "!!!", "emoji")


def texts_of(kind: str, length: int, reviews: list[str]) -> str:
    if kind == "!!!":
        return "!" * length
    if kind == "emoji":
        return "😀" * length
    joined, total = [], 0
    for review in reviews:
        if total >= length:
            break
        joined.append(review)
        total += len(review) + 1
    return " ".join(joined)[:length]


def median_seconds(run: Callable[[], object], repeats: int, reset: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        reset()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(
    run: Callable[[str], object],
    texts: dict[int, str],
    repeats: int,
    budget: float,
    reset: Callable[[], object] = lambda: None,
) -> dict[int, tuple[float, bool]]:
    """Seconds per length, and whether it was measured (False: an estimate). A length is
    estimated from the previous one as length**k, k the growth between the last two lengths
    measured (between 1 and 2; 2 after the first); over the budget it is not run, over a tenth
    of it it is run once instead of ``repeats`` times. ``reset`` goes before every run, untimed."""
    results: dict[int, tuple[float, bool]] = {}
    points: list[tuple[int, float]] = []
    for length, text in texts.items():
        estimate, exponent = 0.0, 2.0
        if len(points) >= 2 and points[-1][1] > 0 and points[-2][1] > 0:
            (n1, t1), (n2, t2) = points[-2:]
            exponent = min(2.0, max(1.0, math.log(t2 / t1) / math.log(n2 / n1)))
        if points:
            estimate = points[-1][1] * (length / points[-1][0]) ** exponent
        if estimate > budget:
            results[length] = (estimate, False)
            points.append((length, estimate))
            continue
        runs = repeats if estimate < budget / 10 else 1
        results[length] = (median_seconds(lambda text=text: run(text), runs, reset), True)
        points.append((length, results[length][0]))
    return results


def fresh(nlp: object) -> Callable[[], object]:
    """Empties the tokenizer's cache of chunks, which would otherwise answer every run after the
    first from memory (spaCy has no public call for it)."""
    return nlp.tokenizer._flush_cache  # type: ignore[attr-defined]


def docs_run(component: Callable[[object], object], docs: dict[str, object]) -> Callable:
    """Runs ``component`` on the doc made beforehand of a text."""
    return lambda text: component(docs[text])


def cell(result: tuple[float, bool]) -> str:
    seconds, measured = result
    text = f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
    return text if measured else f"[~{text}]"


def ratio(value: float) -> str:
    return f"{value:.1f}x" if value < 10 else f"{value:.0f}x"


def table(title: str, rows: dict[str, dict[str, dict[int, tuple[float, bool]]]]) -> str:
    """``rows[kind][label][length]``; a before/after ratio where both are there."""
    lengths = list(next(iter(next(iter(rows.values())).values())))
    labels = list(next(iter(rows.values())))
    header = ["characters"] + [f"{kind} {label}" for kind in rows for label in labels]
    if labels == ["before", "after"]:
        header += [f"{kind} ratio" for kind in rows]
    lines = [f"\n{title}\n", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for length in lengths:
        cells = [f"{length:,}"] + [cell(rows[k][label][length]) for k in rows for label in labels]
        if labels == ["before", "after"]:
            cells += [ratio(rows[k]['before'][length][0] / rows[k]['after'][length][0])
                      for k in rows]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def nsmc_identity(before: object, after: object, reviews: list[str]) -> str:
    def tokens(nlp: object, text: str) -> list[tuple[str, str, str]]:
        return [(t.text, t.whitespace_, t.norm_) for t in nlp.make_doc(text)]  # type: ignore[attr-defined]

    seconds = {}
    outputs = {}
    for label, nlp in (("before", before), ("after", after)):
        start = time.perf_counter()
        outputs[label] = [tokens(nlp, text) for text in reviews]
        seconds[label] = time.perf_counter() - start
    differ = sum(a != b for a, b in zip(outputs["before"], outputs["after"]))
    count = sum(map(len, outputs["after"]))
    return (
        f"\nNSMC: {len(reviews):,} reviews, {count:,} tokens; reviews tokenized differently: "
        f"{differ}. Tokenizing all of them (tokens listed): before {seconds['before']:.2f} s, "
        f"after {seconds['after']:.2f} s."
    )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc", type=Path, required=True, help="NSMC ratings_test.txt")
    parser.add_argument("--lengths", type=int, nargs="+",
                        default=[1_000, 3_000, 10_000, 30_000, 100_000])  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="skip a measurement estimated to take longer (seconds)")  # fmt: skip
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        import spacy

        from spacy_korsent import blank_korean

        lines = args.nsmc.read_text(encoding="utf-8").splitlines()[1:]
        reviews = [line.split("\t")[1] for line in lines if line.count("\t") == 2]
        before = spacy.blank("ko", config=SPACY_RULES)
        after = blank_korean()
        for nlp in (before, after):
            nlp.add_pipe("korean_sentiment", config={"model": str(TEST_MODEL)})
            nlp("모델을 불러온다")
        texts = {kind: {n: texts_of(kind, n, reviews) for n in args.lengths} for kind in KINDS}

        component = after.get_pipe("korean_sentiment")
        tokenization, analysis, components = {}, {}, {}
        for kind in KINDS:
            print(f"{kind} ...", file=sys.stderr, flush=True)
            tokenization[kind] = {
                label: measure(nlp.make_doc, texts[kind], args.repeats, args.budget, fresh(nlp))
                for label, nlp in (("before", before), ("after", after))
            }
            analysis[kind] = {
                label: measure(nlp, texts[kind], args.repeats, args.budget, fresh(nlp))
                for label, nlp in (("before", before), ("after", after))
            }
            docs = {text: after.make_doc(text) for text in texts[kind].values()}
            components[kind] = {
                "both": measure(docs_run(component, docs), texts[kind], args.repeats, args.budget)
            }
        print(table("Tokenization (nlp.make_doc), median", tokenization))
        print(table("Whole analysis (nlp(text), test sentiment model), median", analysis))
        print(table("Analysis after tokenization (the component alone), median", components))
        print(nsmc_identity(before, after, reviews))
        print(f"\nMachine: {machine()}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
