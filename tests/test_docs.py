"""Every block of the README and of the docs (``docs/**/*.md``) runs as written (or is marked with
the reason it cannot here), and the docs' generated parts cover what the code defines.

- ```ini / ```cfg blocks parse with spaCy's config parser, and no value holds a ``#`` (spaCy's
  configs have no inline comments: the comment became part of the value).
- ```python blocks run, each on its own (it defines what it uses), in a scratch directory where
  ``tests/fixtures`` holds the test models. A block that needs what the tests cannot have (the
  hub, a cluster, a GPU, files made by a command before it) follows a line
  ``<!-- docs-test: skip, REASON -->``; the skipped blocks are counted below.
- Every ``korsent`` command of a ```bash / ```console block parses; the README's first commands
  run, and print what the README shows.
- Every command has a page with its options, which docs/hooks.py writes from its parser; the
  README's links lead to pages and headings that exist (MkDocs checks the docs' own links).
"""

from __future__ import annotations

import argparse
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
from conftest import FIXTURES, docs_hooks

from spacy_korsent.cli import build_parser, main

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
SKIP = re.compile(r"<!-- docs-test: skip, (?P<reason>[^>]+?) -->")
SKIPPED = 4
"""Python blocks the README and the docs mark as needing what the tests cannot have."""


@dataclass(frozen=True)
class Block:
    page: Path
    language: str
    body: str
    line: int
    """The line of the opening fence."""
    skip: Optional[str]

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(language: tuple[str, ...]) -> list[Block]:
    """The fenced blocks in ``language`` of every page, with the skip reason of each."""
    return [block for page in PAGES for block in page_blocks(page, language)]


def page_blocks(page: Path, language: tuple[str, ...]) -> list[Block]:
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
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
            found.append(Block(page, fence.group(1), body, number + 1, reason))
        number = end + 1
    return found


PYTHON = blocks(("python",))
CONFIGS = blocks(("ini", "cfg"))
SHELL = blocks(("bash", "console"))


def test_every_skip_marker_stands_before_a_python_block_and_says_why() -> None:
    lines = [line for page in PAGES for line in page.read_text(encoding="utf-8").splitlines()]
    markers = sum(line.startswith("<!-- docs-test:") for line in lines)  # not quoted in a line
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
    first = [block for block in SHELL if commands(block) and block.page == README][:2]
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
    analyze = ROOT / "docs" / "cli" / "analyze.md"
    block = next(b for b in SHELL if b.page == analyze and "--sentiment-model $M" in b.body)
    [argv] = commands(block)
    shown = [json.loads(line) for line in block.body.splitlines() if line.startswith("{")]
    monkeypatch.chdir(ROOT)
    model = str(FIXTURES.relative_to(ROOT) / "nsmc-koelectra-tiny")
    assert main([model if word == "$M" else word for word in argv]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row.keys() for row in rows] == [row.keys() for row in shown]
    for row, expected in zip(rows, shown):
        assert row == {k: pytest.approx(v, abs=1e-4) for k, v in expected.items()}


def test_the_evaluate_example_prints_what_the_docs_show(
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
    """base.cfg, then fill-config, korsent convert and spacy train as the docs run them:
    the command names the test model (``--paths.model``), so it runs offline as pasted; only a
    few steps are added."""
    from spacy.cli._util import parse_config_overrides
    from spacy.cli.init_config import fill_config
    from spacy.cli.train import train

    base = next(block for block in CONFIGS if block.body.startswith("# base.cfg"))
    steps = next(b for b in SHELL if b.page == base.page and b.line > base.line)
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


def test_every_command_has_a_page_in_the_nav_with_its_options() -> None:
    """A page per command of ``korsent``: written ones hold their options' marker; a command
    without one (a new command) gets a page made by the hook; the nav lists them all."""
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files, get_files

    from spacy_korsent.cli import COMMANDS

    hooks = docs_hooks()
    config = MkDocsConfig(config_file_path=str(ROOT / "mkdocs.yml"))
    with (ROOT / "mkdocs.yml").open("rb") as file:
        config.load_file(file)
    assert not config.validate()[0]
    config = config.plugins.on_config(config)  # the hooks as MkDocs runs them
    section = next(item for item in config["nav"] if hooks.CLI_SECTION in item)
    assert section[hooks.CLI_SECTION] == ["cli/index.md", *(f"cli/{n}.md" for n in COMMANDS)]

    files = get_files(config)
    written = {name for name in COMMANDS if files.get_file_from_path(f"cli/{name}.md")}
    for name in written:
        page = (ROOT / "docs" / "cli" / f"{name}.md").read_text(encoding="utf-8")
        assert page.count(f"<!-- korsent:options {name} -->") == 1, name
    one_less = Files([f for f in files if f.src_uri != "cli/export.md"])
    made = config.plugins.on_files(one_less, config=config).get_file_from_path("cli/export.md")
    assert made is not None and made.generated_by
    assert "<!-- korsent:options export -->" in made.content_string


@pytest.mark.parametrize("name", docs_hooks().subparsers())
def test_the_options_pages_list_every_option_of_the_parser(name: str) -> None:
    hooks = docs_hooks()
    parser = hooks.subparsers()[name]
    text = hooks.on_page_markdown(f"<!-- korsent:options {name} -->")
    listed = [action for action in parser._actions if action.help != argparse.SUPPRESS]
    for action in listed:
        for option in action.option_strings or [action.metavar or action.dest]:
            if option not in ("-h", "--help"):
                assert f"`{option}" in text, option
    assert "<!--" not in text
    assert text.count("| option | default | meaning |") >= 1


def test_the_command_list_links_every_command() -> None:
    text = docs_hooks().on_page_markdown("<!-- korsent:commands -->")
    for name in docs_hooks().subparsers():
        assert f"[`korsent {name}`]({name}.md)" in text


LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The ids of a page's headings, as MkDocs' toc extension makes them."""
    import markdown

    md = markdown.Markdown(extensions=["toc", "attr_list", "tables"])
    md.convert(page.read_text(encoding="utf-8"))

    def walk(tokens: list[dict[str, Any]]) -> set[str]:
        return {t["id"] for t in tokens} | {i for t in tokens for i in walk(t["children"])}

    return walk(md.toc_tokens)


def test_the_readme_links_lead_to_pages_and_headings_that_exist() -> None:
    links = [m.group("target") for m in LINK.finditer(README.read_text(encoding="utf-8"))]
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(local) > 10
    for link in local:
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else README
        assert target.is_file(), link
        assert not anchor or anchor in anchors(target), link


def test_the_api_reference_renders_every_public_name() -> None:
    """Each of ``spacy_korsent``'s lazy exports has its entry in docs/api.md (mkdocstrings renders
    it from the module that defines it)."""
    import spacy_korsent

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for name, module in spacy_korsent._LAZY.items():
        assert f"::: spacy_korsent.{module}.{name}\n" in api, name
