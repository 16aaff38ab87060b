"""``--markdown PATH``: a benchmark's report, as printed, also written to a Markdown file.

The docs include these files (``benchmarks/results/*.md``) instead of figures typed by hand. Each
file starts with when the run ended, the command that made it and the CPU it ran on (model,
family and vector features, from :mod:`cpu`) with the load beside it, since the machines the
benchmarks run on are shared. The file is written only when the run completes, so a failed or
interrupted run never replaces the last good one.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional, TextIO

from cpu import cpu_description, load_note


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="PATH",
        help="also write the report to PATH as Markdown, headed by the date, command and CPU "
        "(the docs include benchmarks/results/*.md)",
    )


class _Tee(io.TextIOBase):
    """Writes to the terminal's stdout and keeps a copy."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.kept = out, io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()


@contextlib.contextmanager
def recorded(path: Optional[Path]) -> Iterator[None]:
    """Print as usual; when the block ends without an error, also write what it printed to
    ``path`` (nothing with ``path`` None)."""
    if path is None:
        yield
        return
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        yield
    ended = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    heading = (
        f"*Written by `{command()}` on {ended}.*\n"
        f"*CPU: {cpu_description()}; {load_note()} at the end; "
        f"{platform.system()}, Python {platform.python_version()}.*\n\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(heading + tables_apart(tee.kept.getvalue().strip()) + "\n", encoding="utf-8")


def tables_apart(text: str) -> str:
    """``text`` with a blank line before every table that follows a line of text: Markdown reads
    a table only as a block of its own (a script's caption line right above it would swallow it).
    """
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("|") and lines and lines[-1].strip() and not lines[-1].startswith("|"):
            lines.append("")
        lines.append(line)
    return "\n".join(lines)


def command() -> str:
    """The command line that ran, less its ``--markdown PATH``."""
    words, kept = sys.argv[1:], []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--markdown":
            skip = True
        elif not word.startswith("--markdown="):
            kept.append(word)
    script = os.path.relpath(sys.argv[0]) if sys.argv[0] else "benchmarks/?"
    return shlex.join(["python", script, *kept])
