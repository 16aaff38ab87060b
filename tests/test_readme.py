"""Every block of the README runs as written (or is marked with the reason it cannot here).

- ```ini / ```cfg blocks parse with spaCy's config parser, and no value holds a ``#`` (spaCy's
  configs have no inline comments: the comment became part of the value).
- ```python blocks run, each on its own (it defines what it uses), in a scratch directory where
  ``tests/fixtures`` holds the test models. A block that needs what the tests cannot have (the
  hub, a cluster, a GPU, files made by a command before it) follows a line
  ``<!-- readme-test: skip, REASON -->``; the skipped blocks are counted below.
- Every ``korsent`` command of a ```bash / ```console block parses; the first commands run, and
  print what the README shows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from conftest import FIXTURES

from spacy_korsent.cli import build_parser, main

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip, (?P<reason>[^>]+?) -->")
SKIPPED = 4
"""Python blocks the README marks as needing what the tests cannot have."""


@dataclass(frozen=True)
class Block:
    language: str
    body: str
    line: int
    """The line of the opening fence."""
    skip: Optional[str]

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def blocks(language: tuple[str, ...]) -> list[Block]:
    """The README's fenced blocks in ``language``, with the skip reason of each."""
    found = []
    lines = README.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        fence = re.fullmatch(r"```(\w*)", lines[number])
        if fence is None:
            number += 1
            continue
        end = lines.index("```", number + 1)
        marker = SKIP.fullmatch(lines[number - 1]) if number else None
        if fence.group(1) in language:
            body = "\n".join(lines[number + 1 : end]) + "\n"
            reason = marker.group("reason") if marker else None
            found.append(Block(fence.group(1), body, number + 1, reason))
        number = end + 1
    return found


PYTHON = blocks(("python",))
CONFIGS = blocks(("ini", "cfg"))
SHELL = blocks(("bash", "console"))


def test_every_skip_marker_stands_before_a_python_block_and_says_why() -> None:
    text = README.read_text(encoding="utf-8")
    markers = text.count("<!-- readme-test:")
    skipped = [block for block in PYTHON if block.skip]
    assert markers == len(skipped) == SKIPPED, [(b.id, b.skip) for b in skipped]


@pytest.mark.parametrize("block", CONFIGS, ids=lambda block: block.id)
def test_config_blocks_parse_and_hold_no_comments_in_values(block: Block) -> None:
    from spacy.util import Config

    config = Config().from_str(block.body)
    values = [(section, key, value) for section, key, value in walk(config)]
    assert values
    assert [item for item in values if "#" in str(item[2])] == []
    headers = [line for line in block.body.splitlines() if line.startswith("[")]
    assert all(line.endswith("]") for line in headers), headers


def walk(config: Any, section: str = "") -> list[tuple[str, str, Any]]:
    out = []
    for key, value in config.items():
        if isinstance(value, dict):
            out += walk(value, f"{section}.{key}".lstrip("."))
        else:
            out.append((section, key, value))
    return out


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose ``tests/fixtures`` are the repository's."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(FIXTURES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("block", PYTHON, ids=lambda block: block.id)
def test_python_blocks_run_on_their_own(block: Block, scratch: Path) -> None:
    if block.skip:
        pytest.skip(block.skip)
    exec(compile(block.body, block.id, "exec"), {"__name__": "__readme__"})


def commands(block: Block) -> list[list[str]]:
    """The ``korsent`` commands of a shell block, each as its arguments."""
    lines = block.body.splitlines()
    if block.language == "console":  # commands follow "$ " (and their continuation lines)
        lines = _console_commands(lines)
    found = []
    for command in _joined(lines):
        words = shlex.split(command, comments=True)
        part: list[str] = []
        for word in [*words, "|"]:
            if word in ("|", "&&", ";"):
                if part[:1] == ["korsent"]:
                    found.append(part[1:])
                part = []
            else:
                part.append(word)
    return found


def _console_commands(lines: list[str]) -> list[str]:
    """The lines of a console block's commands, without the prompt; the rest is output."""
    kept, within = [], False
    for line in lines:
        if within or line.startswith("$ "):
            kept.append(line if within else line[2:])
            within = line.rstrip().endswith("\\")
    return kept


def _joined(lines: list[str]) -> list[str]:
    """Lines with their backslash continuations joined."""
    out, current = [], ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
        else:
            out.append(current + line)
            current = ""
    return out


@pytest.mark.parametrize("block", [b for b in SHELL if commands(b)], ids=lambda block: block.id)
def test_korsent_commands_in_shell_blocks_parse(
    block: Block, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    for argv in commands(block):
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{block.id}: korsent {shlex.join(argv)}: {capsys.readouterr().err}")


def test_the_main_job_prints_what_the_readme_shows() -> None:
    """The first commands: the README's promise that the main job runs offline as written."""
    first = [block for block in SHELL if commands(block)][:2]
    [install_and_run], [shown] = commands(first[0]), commands(first[1])
    assert install_and_run == shown[:-1]  # the same command, with one text fewer
    lines = first[1].body.splitlines()
    output = lines[next(n for n, line in enumerate(lines) if not line.startswith(("$", " "))) :]
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "spacy_korsent", *shown],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == output


def test_the_first_json_lines_example_gives_what_it_shows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    block = next(b for b in SHELL if b.language == "console" and "--sentiment-model $M" in b.body)
    [argv] = commands(block)
    shown = [json.loads(line) for line in block.body.splitlines() if line.startswith("{")]
    monkeypatch.chdir(ROOT)
    model = str(FIXTURES.relative_to(ROOT) / "nsmc-koelectra-tiny")
    assert main([model if word == "$M" else word for word in argv]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row.keys() for row in rows] == [row.keys() for row in shown]
    for row, expected in zip(rows, shown):
        assert row == {k: pytest.approx(v, abs=1e-4) for k, v in expected.items()}


def test_the_evaluate_example_prints_what_the_readme_shows(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real figures on the committed fixtures, no placeholders: every line but the speed."""
    block = next(b for b in SHELL if "$ korsent evaluate tests/fixtures/nsmc_test_2000" in b.body)
    [argv] = commands(block)
    shown = block.body.splitlines()[1:]
    monkeypatch.chdir(ROOT)
    assert main([*argv, "-q"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:-1] == shown[:-1]
    speed = re.compile(r"([\d,]+ documents) in [\d.]+ s: [\d,.]+ docs/s")
    ran, claimed = speed.fullmatch(printed[-1]), speed.fullmatch(shown[-1])
    assert ran and claimed and ran.group(1) == claimed.group(1)


def test_the_spacy_train_recipe_runs_as_written(
    scratch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """base.cfg, then fill-config, korsent convert and spacy train as the README runs them:
    the command names the test model (``--paths.model``), so it runs offline as pasted; only a
    few steps are added."""
    from spacy.cli._util import parse_config_overrides
    from spacy.cli.init_config import fill_config
    from spacy.cli.train import train

    base = next(block for block in CONFIGS if block.body.startswith("# base.cfg"))
    steps = next(block for block in SHELL if block.line > base.line)
    (scratch / "base.cfg").write_text(base.body, encoding="utf-8")
    reviews = [("정말 재밌어요", "positive"), ("최악이다", "negative"),
               ("또 보고 싶다", "positive"), ("시간 낭비", "negative")] * 5  # fmt: skip
    lines = ["review,sentiment", *(f"{text},{label}" for text, label in reviews)]
    (scratch / "reviews.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    fill, convert, run = [shlex.split(line, comments=True) for line in _joined(
        steps.body.splitlines())]  # fmt: skip
    assert fill[:5] == ["python", "-m", "spacy", "init", "fill-config"]
    fill_config(Path(fill[6]), Path(fill[5]), silent=True)
    assert convert[0] == "korsent" and main(convert[1:]) == 0
    assert run[:4] == ["python", "-m", "spacy", "train"]
    model = run[run.index("--paths.model") + 1]
    assert model == "tests/fixtures/nsmc-koelectra-tiny", "the hub id belongs in the prose"
    short = ["--training.max_steps", "4", "--training.eval_frequency", "2"]
    overrides = parse_config_overrides([*run[7:], *short])
    train(Path(run[4]), Path(run[6]), overrides=overrides)
    capsys.readouterr()
    best = scratch / run[6] / "model-best"
    assert (best / "korean_sentiment" / "model" / "config.json").is_file()
