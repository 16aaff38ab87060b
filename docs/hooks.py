"""MkDocs hooks: the parts of the docs that are written from the code, at build time.

- ``<!-- korsent:settings -->`` becomes the components' settings table, from the one definition
  (:func:`spacy_korsent.components.factories.markdown_table`).
- ``<!-- korsent:commands -->`` becomes a table of the commands, each linked to its page.
- ``<!-- korsent:options COMMAND -->`` becomes the usage, description and options of ``korsent
  COMMAND``, from its argparse parser (:func:`spacy_korsent.cli.build_parser`).
- The "Command line" section of the nav gets one page per command in ``spacy_korsent.cli.COMMANDS``:
  ``docs/cli/COMMAND.md`` where it is written, else a page made here with the options alone, so a
  new command has a page the moment it is registered.

Nothing generated is committed; ``tests/test_docs.py`` checks the same functions.
"""

from __future__ import annotations

import argparse
import functools
import re
from typing import Any

CLI_SECTION = "Command line"
# A marker is replaced where it stands on a line of its own (not where a page quotes it).
SETTINGS = re.compile(r"^<!-- korsent:settings -->$", re.M)
COMMANDS = re.compile(r"^<!-- korsent:commands -->$", re.M)
OPTIONS = re.compile(r"^<!-- korsent:options (?P<command>[\w-]+) -->$", re.M)


def subparsers() -> dict[str, argparse.ArgumentParser]:
    """Every ``korsent`` subcommand's parser, by name, in the order of ``COMMANDS``."""
    from spacy_korsent.cli import COMMANDS

    return {name: _subcommands().choices[name] for name in COMMANDS}


@functools.cache
def _subcommands() -> argparse._SubParsersAction:
    """The ``korsent`` parser's subcommands (built once per build: it imports every command)."""
    from spacy_korsent.cli import build_parser

    return next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )


def options_markdown(name: str) -> str:
    """``korsent NAME``'s usage, description and one table of options per argument group."""
    parser = subparsers()[name]
    formatter = parser._get_formatter()
    usage = parser.format_usage().replace("usage: ", "", 1).strip()
    usage = re.sub(r"\s+", " ", usage)
    out = [f"```text\n{usage}\n```\n"]
    if parser.description:
        out.append(_paragraphs(parser.description) + "\n")
    for group in parser._action_groups:
        rows = [_row(formatter, action) for action in group._group_actions]
        rows = [row for row in rows if row]
        if not rows:
            continue
        out.append(f"**{group.title}**\n")
        out.append("| option | default | meaning |\n| --- | --- | --- |")
        out.append("\n".join(rows) + "\n")
    return "\n".join(out)


def commands_markdown() -> str:
    """A table of every command, linked to its page, with its one-line help."""
    helps = {choice.dest: choice.help for choice in _subcommands()._choices_actions}
    rows = [f"| [`korsent {name}`]({name}.md) | {helps.get(name, '')} |" for name in subparsers()]
    return "\n".join(["| command | what it does |", "| --- | --- |", *rows])


def _paragraphs(text: str) -> str:
    """A description's paragraphs, each on one line (argparse wraps them for a terminal); a
    paragraph laid out by indentation (a list of fields) keeps its layout in a text block."""
    parts = text.strip().split("\n\n")
    return "\n\n".join(
        f"```text\n{part}\n```" if part.startswith(" ") else _text(part) for part in parts
    )


def _text(text: str) -> str:
    """Help text as Markdown shows it: one line, ``<`` ``>`` ``*`` as written, not as markup."""
    text = " ".join(text.split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


def _row(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
        return ""
    if action.option_strings:
        metavar = formatter._format_args(action, action.dest.upper()) if action.nargs != 0 else ""
        names = ", ".join(
            f"`{option}{' ' + metavar if metavar else ''}`" for option in action.option_strings
        )
    else:
        names = f"`{formatter._metavar_formatter(action, action.dest)(1)[0]}`"
    default = action.default
    shown = (
        ""
        if default in (None, False, argparse.SUPPRESS)
        or action.nargs == 0
        or not action.option_strings
        else f"`{' '.join(map(str, default)) if isinstance(default, (list, tuple)) else default}`"
    )
    meaning = formatter._expand_help(action) if action.help else ""
    if action.choices and not isinstance(action.choices, dict) and "{" not in names:
        listed = ", ".join(f"`{choice}`" for choice in action.choices)
        meaning = f"{meaning} (one of {listed})" if meaning else f"one of {listed}"
    cells = [names, shown, _text(meaning)]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def generated_page(name: str) -> str:
    """The page of a command that has no written one yet."""
    return f"# `korsent {name}`\n\n<!-- korsent:options {name} -->\n"


def on_config(config: Any, **_: Any) -> Any:
    """The nav's "Command line" section: its first page, then one page per command."""
    for item in config["nav"] or []:
        if isinstance(item, dict) and CLI_SECTION in item:
            first = item[CLI_SECTION][0]
            item[CLI_SECTION] = [first, *(f"cli/{name}.md" for name in subparsers())]
    return config


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """A page for every command without a written one."""
    from mkdocs.structure.files import File

    for name in subparsers():
        path = f"cli/{name}.md"
        if files.get_file_from_path(path) is None:
            files.append(File.generated(config, path, content=generated_page(name)))
    return files


def on_page_markdown(markdown: str, **_: Any) -> str:
    """The page with its markers replaced by what they stand for."""
    if SETTINGS.search(markdown):
        from spacy_korsent.components import registry
        from spacy_korsent.components.factories import markdown_table

        table = markdown_table(registry.specs())
        markdown = SETTINGS.sub(lambda _: table, markdown)
    if COMMANDS.search(markdown):
        markdown = COMMANDS.sub(lambda _: commands_markdown(), markdown)
    return OPTIONS.sub(lambda match: options_markdown(match.group("command")), markdown)
