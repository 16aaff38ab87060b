"""How korean_sentencizer (Kiwi) and spaCy's sentencizer split NSMC reviews: counts and examples.

    python benchmarks/sentences.py ratings_test.txt [--docs 1000] [--examples 8] [--seed 0]

Reads the cleaned NSMC file, draws a seeded sample of reviews, splits each with both components
(the same blank_korean() tokenizer underneath), and prints a table of sentence counts and speed,
then a table of reviews on which the two disagree, each split shown with " | " between sentences.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Optional

from markdown_report import add_option, recorded


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nsmc", type=Path, help="NSMC ratings_test.txt or ratings_train.txt")
    parser.add_argument("--docs", type=int, default=1000, help="reviews in the sample")
    parser.add_argument("--examples", type=int, default=8, help="disagreements to show")
    parser.add_argument("--seed", type=int, default=0)
    add_option(parser)
    args = parser.parse_args(argv)
    with recorded(args.markdown):
        from spacy_korsent import blank_korean
        from spacy_korsent.files.labelled import read_nsmc

        texts = read_nsmc(args.nsmc).texts
        sample = random.Random(args.seed).sample(texts, min(args.docs, len(texts)))
        splitters = {"korean_sentencizer": blank_korean(), "sentencizer": blank_korean()}
        for name, nlp in splitters.items():
            nlp.add_pipe(name)
            nlp("워밍업 문장.")  # Kiwi loads its model on first use
        splits: dict[str, list[list[str]]] = {}
        seconds: dict[str, float] = {}
        for name, nlp in splitters.items():
            started = time.perf_counter()
            splits[name] = [[s.text.strip() for s in doc.sents] for doc in nlp.pipe(sample)]
            seconds[name] = time.perf_counter() - started

        print(f"{len(sample):,} NSMC reviews from {args.nsmc} (seed {args.seed})\n")
        print("| splitter | sentences | per review | reviews with 2+ | docs/s |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, docs in splits.items():
            total = sum(map(len, docs))
            several = sum(len(doc) > 1 for doc in docs)
            speed = len(docs) / seconds[name]
            print(
                f"| {name} | {total:,} | {total / len(docs):.2f} | {several:,} "
                f"({several / len(docs):.1%}) | {speed:,.0f} |"
            )
        korean, rules = splits["korean_sentencizer"], splits["sentencizer"]
        differ = [i for i, (a, b) in enumerate(zip(korean, rules)) if a != b]
        print(
            f"\nthe two splits differ on {len(differ):,} reviews"
            f" ({len(differ) / len(sample):.1%})\n"
        )
        print("| review | korean_sentencizer | sentencizer |\n| --- | --- | --- |")
        for i in differ[: args.examples]:
            cells = [sample[i], " | ".join(korean[i]), " | ".join(rules[i])]
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
