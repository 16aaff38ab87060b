"""``korsent cache``: list and clear the ONNX exports kept between runs.

The ONNX and OpenVINO backends export a model once and keep the export in the cache directory
(:mod:`spacy_korsent.inference.export_cache`); these commands show what it holds and free the
space. Clearing is safe while other runs use the cache: a running process keeps its own link to
the export it runs, and the next run exports again.
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime

from ..inference import export_cache
from ..inference.backends import BACKENDS
from .common import CommandError

DESCRIPTION = f"""\
List or clear the ONNX exports that the backends onnx, onnx-int8, openvino and openvino-bfloat16
keep between runs, so that only the first run of a model exports it. The cache directory is
${export_cache.CACHE_ENV} when set, else the user's cache directory (~/.cache/spacy-korsent on
Linux, ~/Library/Caches/spacy-korsent on macOS, %LOCALAPPDATA%\\spacy-korsent on Windows);
{export_cache.NO_CACHE_ENV}=1 exports every time and writes nothing there. (korsent distill keeps
its teacher labels in distill/ there; these commands leave them alone.)
"""
AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cache`` subcommand with its actions ``list`` and ``clear``."""
    parser = subparsers.add_parser(
        "cache",
        help="list or clear the cached ONNX exports",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="each export: key, backends, size, last use, model; and the total"
    )
    listing.set_defaults(func=run_list)
    clearing = actions.add_parser("clear", help="remove exports: all, or those chosen")
    clearing.add_argument(
        "keys",
        nargs="*",
        metavar="KEY",
        help="the exports to remove, by the key 'korsent cache list' shows (a unique beginning "
        "is enough); default: all",
    )
    clearing.add_argument(
        "--older-than",
        metavar="AGE",
        type=age_seconds,
        help="only exports not used for AGE: a number with m, h, d or w (minutes, hours, days, "
        "weeks), e.g. 30d; a bare number is days",
    )
    clearing.set_defaults(func=run_clear)


def age_seconds(text: str) -> float:
    """``30d``, ``12h``, ``45m``, ``2w`` or ``7`` (days) in seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age: a number with m, h, d or w (e.g. 30d), or days"
        )
    return float(match.group(1)) * AGE_UNITS[match.group(2) or "d"]


def run_list(args: argparse.Namespace) -> int:
    """Print the entries, least recently used first, and their total."""
    entries = export_cache.entries()
    where = export_cache.exports_dir()
    if not entries:
        print(f"No cached exports in {where}.")
        return 0
    rows = [("KEY", "BACKENDS", "SIZE", "LAST USED", "MODEL")]
    for entry in entries:
        model = entry.model if entry.whole else f"{entry.model} (damaged: made again when used)"
        rows.append(
            (entry.key[:12], _backends(entry.export), _size(entry.size), _date(entry.used), model)
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    total = sum(entry.size for entry in entries)
    print(f"{len(entries)} export{'s' * (len(entries) != 1)}, {_size(total)} in {where}")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    """Remove the chosen entries (all by default); unknown keys remove nothing."""
    entries = export_cache.entries()
    chosen = [_by_key(entries, key) for key in args.keys] if args.keys else entries
    if args.older_than is not None:
        cutoff = time.time() - args.older_than
        chosen = [entry for entry in chosen if entry.used < cutoff]
    export_cache.remove(chosen)
    freed = sum(entry.size for entry in chosen)
    count, where = len(chosen), export_cache.exports_dir()
    print(f"Removed {count} export{'s' * (count != 1)} ({_size(freed)}) from {where}.")
    return 0


def _by_key(entries: list[export_cache.Entry], key: str) -> export_cache.Entry:
    found = [entry for entry in entries if entry.key.startswith(key.lower())] if key else []
    if len(found) == 1:
        return found[0]
    where = export_cache.exports_dir()
    if not found:
        raise CommandError(
            f"no cached export {key!r} in {where}; 'korsent cache list' shows the keys."
        )
    raise CommandError(f"{key!r} begins {len(found)} keys in {where}; give more of it.")


def _backends(export: str) -> str:
    """The backends that run an export of this kind (``float32``: onnx and openvino alike)."""
    names = [kind.name for kind in BACKENDS.values() if kind.export == export]
    return ", ".join(names) or export


def _size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")
