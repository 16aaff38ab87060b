"""A saved directory as a map of file names to bytes, and back.

The components' ``to_bytes`` / ``from_bytes`` and the pipeline shipped to Ray workers carry a
directory this way. People treat such bytes as data, so the names in them are names from outside:
:func:`member_path` is the one place where such a name becomes a path, and it refuses every name
that could lead out of the directory the files are unpacked in. Unpacking writes only new regular
files and directories (never through a link, never over a file); packing reads a link to a file
as that file, so links never travel.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import srsly

MAX_FILES = 1_000
"""Most files that packed bytes may hold (a saved component has about a dozen)."""
MAX_FILE_BYTES = 256 * 2**20
"""Largest file other than weights that packed bytes may hold (256 MiB; the largest tokenizer
files are tens of MB). Weights are limited only by the bytes themselves: unpacking writes no more
than it was given."""


def member_path(root: Path, name: object) -> Path:
    """``root / name`` for a file name from outside; ValueError if it could lead anywhere else.

    A name is relative and made of parts separated by ``/`` (or ``\\``, as on Windows), none of
    them empty, ``.`` or ``..``; it holds no NUL byte and no ``:`` (a drive or a file stream on
    Windows). So ``/etc/x``, ``C:x``, ``a/../../x``, ``..\\x`` and ``""`` are refused.
    """
    if not isinstance(name, str):
        raise ValueError(f"the file name {name!r} is not a string ({type(name).__name__})")
    parts = name.replace("\\", "/").split("/")
    if "\0" in name or ":" in name:
        problem = "holds a NUL byte or ':'"
    elif not name:
        problem = "is empty"
    elif not parts[0]:
        problem = "is absolute"
    elif any(part in ("", ".", "..") for part in parts):
        problem = "has an empty, '.' or '..' part"
    else:
        return root.joinpath(*parts)
    raise ValueError(f"the file name {name!r} {problem}: only names inside the directory are used")


def pack_directory(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by its name relative to it with ``/`` between parts.

    A link to a file is packed as the file it points to; a link to a directory is refused rather
    than left out (it could loop, and its files would be missing after unpacking).
    """
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() and path.is_dir():
            raise ValueError(
                f"{path} is a link to a directory: replace it by a copy of the directory."
            )
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def load_packed(data: bytes) -> object:
    """What msgpack ``data`` as ``to_bytes()`` writes holds (ValueError: why it is not msgpack)."""
    try:
        return srsly.msgpack_loads(data)
    except (ValueError, TypeError) as err:  # TypeError: a map keyed by a list
        reason = str(err) or type(err).__name__
        raise ValueError(f"they are not msgpack as to_bytes() writes it ({reason})") from None


def check_limits(files: object, *, large: tuple[str, ...] = ()) -> None:
    """Refuse more than :data:`MAX_FILES` files, or a file over :data:`MAX_FILE_BYTES` whose name
    matches none of the ``large`` patterns (the weights), before anything is written."""
    if not isinstance(files, dict):
        return  # unpack_files says what it is
    if len(files) > MAX_FILES:
        raise ValueError(f"they hold {len(files):,} files; at most {MAX_FILES:,} are unpacked")
    for name, data in files.items():
        is_large = any(fnmatch.fnmatchcase(str(name), pattern) for pattern in large)
        if isinstance(data, bytes) and len(data) > MAX_FILE_BYTES and not is_large:
            raise ValueError(
                f"the file {name!r} has {len(data):,} bytes; files other than weights are "
                f"unpacked up to {MAX_FILE_BYTES:,} bytes"
            )


def unpack_files(files: object, root: Path) -> None:
    """Write the map of file names to bytes ``files`` into the empty (or new) directory ``root``.

    Every name and value is checked before the first file is written (ValueError for a name
    :func:`member_path` refuses, a value that is not bytes, a name given twice or both as a file
    and as a directory); files are created, never opened through a link or over a file.
    """
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} is not empty; unpack into a new directory.")
    if not isinstance(files, dict):
        raise ValueError(f"expected a map of file names to bytes, not {type(files).__name__}")
    wanted: dict[tuple[str, ...], bytes] = {}
    for name, data in files.items():
        parts = member_path(root, name).relative_to(root).parts
        if not isinstance(data, bytes):
            raise ValueError(f"the file {name!r} does not hold bytes ({type(data).__name__})")
        if parts in wanted:
            raise ValueError(f"the file {name!r} is given twice")
        wanted[parts] = data
    for parts in wanted:
        folders = [parts[:depth] for depth in range(1, len(parts)) if parts[:depth] in wanted]
        if folders:
            raise ValueError(f"{'/'.join(folders[0])!r} is given both as a file and a directory")
    root.mkdir(parents=True, exist_ok=True)
    for parts, data in wanted.items():
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "xb") as stream:  # O_EXCL: fails on any existing file or link
                stream.write(data)
        except FileExistsError:  # a file system that ignores case: "A" and "a" are one name
            raise ValueError(f"the file {'/'.join(parts)!r} is given twice") from None
