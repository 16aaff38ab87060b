"""blank_korean()'s tokenizer: spaCy's rule-based tokens, in time linear in the length of a text."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
from conftest import FIXTURES

from spacy_korsent import KoreanTokenizer, blank_korean
from spacy_korsent.components.tokenizer import LONG_CHUNK

NSMC_SLICE = FIXTURES / "nsmc_test_2000.txt"
SPACY_RULES = {"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}}

LONG_RUNS = [
    "!" * 600,
    "😀" * 600,
    "😀👍❤️" * 200 + "!!!",
    "ㅋ" * 600,
    "." * 600,
    "…" * 300 + "!",
    "ab" + "!" * 600 + "cd",
    "(" * 300 + "영화" + ")" * 300,
    ":)" * 300,
    "^^" * 300 + "ㅋㅋ",
    "!?" * 300 + "재밌다",
    "...!" * 150,
    "10%" * 200,
    '"' + "최고" * 100 + '"!!!',
    "http://example.com/" + "a" * 600,
    "진짜 " + "!" * 600 + "  \n  " + "😀" * 300 + " 끝",
    "\n" + "?" * 400 + "\t" + "~" * 400 + " ",
]


def tokens(doc: spacy.tokens.Doc) -> list[tuple[str, str, str]]:
    return [(token.text, token.whitespace_, token.norm_) for token in doc]


def nsmc_documents() -> list[str]:
    lines = NSMC_SLICE.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[1] for line in lines]


def random_texts(count: int) -> list[str]:
    """Texts from pieces that exercise the affix rules, special cases and whitespace."""
    pieces = list("!?.,:;()[]\"'-_^~*😀😂👍❤ㅋㅎ가나다abXD019%$#@/…") + [
        " ", "  ", "\n", "\xa0", ":)", "^_^", "C++", "a.", "...", "<3", "http://x.kr/a?b=c",
    ]  # fmt: skip
    generator = random.Random(17)
    return [
        "".join(generator.choice(pieces) for _ in range(generator.randint(60, 400)))
        for _ in range(count)
    ]


def test_the_same_tokens_as_spacy_on_nsmc() -> None:
    texts = nsmc_documents()
    nlp, rules = blank_korean(), spacy.blank("ko", config=SPACY_RULES)
    assert [tokens(nlp.make_doc(text)) for text in texts] == [
        tokens(rules.make_doc(text)) for text in texts
    ]


def test_the_position_based_split_gives_spacys_tokens_for_every_nsmc_chunk() -> None:
    """The split that long chunks get, applied to every chunk of ordinary text."""
    texts = nsmc_documents()
    nlp = blank_korean()
    nlp.tokenizer.long_chunk = 0
    rules = spacy.blank("ko", config=SPACY_RULES)
    assert [tokens(nlp.make_doc(text)) for text in texts] == [
        tokens(rules.make_doc(text)) for text in texts
    ]


@pytest.mark.parametrize("text", LONG_RUNS + random_texts(60), ids=lambda text: repr(text[:12]))
def test_long_runs_get_spacys_tokens(text: str) -> None:
    expected = tokens(spacy.blank("ko", config=SPACY_RULES).make_doc(text))
    assert tokens(blank_korean().make_doc(text)) == expected


def test_special_cases_apply_inside_long_chunks_as_in_spacy() -> None:
    special = [{"ORTH": "ㅎㅎ"}, {"ORTH": "!!", "NORM": "!"}]
    nlp, rules = blank_korean(), spacy.blank("ko", config=SPACY_RULES)
    for tokenizer in (nlp.tokenizer, rules.tokenizer):
        tokenizer.add_special_case("ㅎㅎ!!", special)
    # Split by the affix rules and merged back; then found whole while the rules peel affixes.
    text = "?" * 100 + "ㅎㅎ!! " + "ㅎㅎ!!" + "?" * 100
    assert tokens(nlp.make_doc(text)) == tokens(rules.make_doc(text))
    assert ("!!", "", "!") in tokens(nlp.make_doc(text))


def test_twenty_thousand_bangs_and_five_thousand_emoji_in_bounded_steps() -> None:
    """Every affix expression reads a bounded window, one or two per token: linear time. The
    clock is only a guard; spaCy's own tokenizer takes minutes on this text."""
    nlp = blank_korean()
    read: list[int] = []
    suffix_search = nlp.tokenizer.suffix_search
    nlp.tokenizer.suffix_search = lambda text: read.append(len(text)) or suffix_search(text)
    start = time.perf_counter()
    doc = nlp("!" * 20_000 + "😀" * 5_000)
    assert time.perf_counter() - start < 10
    assert [token.text for token in doc] == ["!"] * 20_000 + ["😀"] * 5_000
    assert max(read) <= LONG_CHUNK and len(read) <= len(doc)


def test_saved_pipelines_keep_the_tokenizer_and_its_special_cases(tmp_path: Path) -> None:
    nlp = blank_korean()
    nlp.tokenizer.add_special_case("ㅎㅎ!!", [{"ORTH": "ㅎㅎ"}, {"ORTH": "!!"}])
    nlp.to_disk(tmp_path / "saved")
    config = (tmp_path / "saved" / "config.cfg").read_text(encoding="utf-8")
    assert '@tokenizers = "spacy_korsent.KoreanTokenizer.v1"' in config
    text = "ㅎㅎ!!" + "!" * 300 + " 좋다"
    expected = tokens(nlp.make_doc(text))
    assert expected[:2] == [("ㅎㅎ", "", "ㅎㅎ"), ("!!", "", "!!")]
    loaded = spacy.load(tmp_path / "saved")
    assert isinstance(loaded.tokenizer, KoreanTokenizer)
    assert tokens(loaded.make_doc(text)) == expected
    from_bytes = blank_korean().from_bytes(nlp.to_bytes())
    assert tokens(from_bytes.make_doc(text)) == expected
    assert tokens(pickle.loads(pickle.dumps(nlp)).make_doc(text)) == expected


def test_spacy_load_finds_the_tokenizer_without_importing_the_package(tmp_path: Path) -> None:
    """Through the ``spacy_tokenizers`` entry point, as configs and ``spacy train`` need."""
    blank_korean().to_disk(tmp_path / "saved")
    script = (
        "import sys, spacy; nlp = spacy.load(sys.argv[1]); "
        "print(type(nlp.tokenizer).__name__, len(nlp('!' * 20000)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "saved")],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert run.returncode == 0, (
        f"{run.stderr[-2000:]}\n(the entry point needs the package installed: pip install -e .)"
    )
    assert run.stdout.split() == ["KoreanTokenizer", "20000"]


def test_pipelines_saved_with_spacys_tokenizer_still_load(tmp_path: Path) -> None:
    spacy.blank("ko", config=SPACY_RULES).to_disk(tmp_path / "old")
    loaded = spacy.load(tmp_path / "old")
    assert type(loaded.tokenizer) is spacy.tokenizer.Tokenizer
    assert [token.text for token in loaded("재밌다!!")] == ["재밌다", "!", "!"]


@pytest.mark.slow
def test_two_processes_tokenize_as_one() -> None:
    texts = LONG_RUNS * 2
    nlp = blank_korean()
    forked = [tokens(doc) for doc in nlp.pipe(texts, n_process=2, batch_size=4)]
    assert forked == [tokens(doc) for doc in nlp.pipe(texts)]
