"""What a model directory may make transformers read: the files inside it, nothing else.

transformers takes file paths from a model directory's JSON files and opens them: a tokenizer
argument in ``tokenizer_config.json`` (``vocab_file``, ``merges_file``, ``tokenizer_file``,
``spm_file``, ... and positional ``init_inputs``) is opened as given, over the file of the
standard name in the directory; ``fast_tokenizer_files`` and a weight index's shards are joined to
the directory (so ``../x`` or ``/x`` leave it); a PEFT ``adapter_config.json`` names another model
to load (``base_model_name_or_path``). And a file in the directory may be a link to one elsewhere.
A directory that came from someone else could so make loading read, and ``to_bytes()`` or a
re-saved pipeline carry, any file the process can read. :func:`check_model_files` refuses each of
these in one line that names the file, the key and the path, before transformers sees the
directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from .errors import ModelNotFoundError

TOKENIZER_FILE_KEYS = frozenset(
    {
        "artists_file", "emoji_file", "entity_vocab_file", "genres_file", "lyrics_file",
        "merges_file", "monolingual_vocab_file", "normalizer_file", "pretrained_vocab_file",
        "pretrained_vocab_file_torch", "sentencepiece_model_ckpt", "source_spm", "spm_file",
        "src_vocab_file", "target_spm", "target_vocab_file", "tgt_vocab_file", "tokenizer_file",
        "vocab", "vocab_file", "word_pronunciation_file", "word_shape_file",
    }
)  # fmt: skip
"""The files transformers' tokenizer classes open, by argument (their ``vocab_files_names``)."""

FILE_SUFFIXES = ("_file", "_path", "_dir", "_spm")
"""Other arguments with these endings are taken for files too (a tokenizer's nested settings,
such as ``sudachi_kwargs.sudachi_config_path``, or a key of a later transformers)."""

NOT_OPENED = frozenset(
    {
        "name_or_path", "special_tokens_map_file", "added_tokens_file", "tokenizer_config_file",
        "chat_template_file",
    }
)  # fmt: skip
"""Keys that transformers keeps but never opens (it reads these files from the directory by
their standard names): old models on the hub hold stale paths of their authors' machines here."""

COMMAND_LINE_KEYS = frozenset({"mecab_option"})
"""Settings handed to a program as its command line, which can name files anywhere."""

WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
TOKENIZER_CONFIG = "tokenizer_config.json"
ADAPTER_CONFIG = "adapter_config.json"
CHAT_TEMPLATES = "additional_chat_templates"
JSON_FILES = (TOKENIZER_CONFIG, ADAPTER_CONFIG, *WEIGHT_INDEXES)
"""The files whose keys name other files."""


def check_model_files(source: str) -> None:
    """Refuse (:class:`ModelNotFoundError`) a model whose files would make loading read outside
    its directory; ``source`` is a local directory or a hub id (checked in the Hugging Face cache,
    where its small JSON files are fetched first, as transformers would)."""
    directory = Path(source) if Path(source).is_dir() else _hub_snapshot(source)
    if directory is None:
        return
    root = containment_root(directory)
    for entry in _entries(directory):
        check_inside(entry, root, directory, f"{entry.relative_to(directory)} (a link)")
    tokenizer_config = _read_json(directory, TOKENIZER_CONFIG)
    for key, value in _file_settings(tokenizer_config):
        check_inside(Path(value), root, directory, f"{TOKENIZER_CONFIG}'s {key} {value!r}")
    for value in _json(tokenizer_config, "fast_tokenizer_files", dict).values():
        _check_named(directory, root, f"{TOKENIZER_CONFIG}'s fast_tokenizer_files", value)
    for index in WEIGHT_INDEXES:
        for shard in set(_json(_read_json(directory, index), "weight_map", dict).values()):
            _check_named(directory, root, f"{index}'s weight_map", shard)
    base = _json(_read_json(directory, ADAPTER_CONFIG), "base_model_name_or_path", str)
    if base:
        where = f"{ADAPTER_CONFIG}'s base_model_name_or_path {base!r}"
        check_inside(Path(base), root, directory, where)


def check_inside(path: Path, root: Path, directory: Path, what: str) -> None:
    """Refuse ``path`` unless it leads (links followed) to a place inside ``root``."""
    if "\0" in str(path):  # no file has such a name; realpath() would raise
        raise ModelNotFoundError(f"Refusing {str(directory)!r}: {what} holds a NUL byte.")
    target = Path(os.path.realpath(path))
    if not target.is_relative_to(root):
        raise ModelNotFoundError(
            f"Refusing {str(directory)!r}: {what} leads outside it (to "
            f"{str(target)!r}). Only files inside a model directory are read: copy what the model "
            "needs into it (not as a link) under the names transformers looks for."
        )


def containment_root(directory: Path) -> Path:
    """The place a model directory's files may lead to: the directory itself (links resolved),
    or for a snapshot in the Hugging Face cache (``models--org--name/snapshots/<revision>``,
    whose files are links to ``../../blobs``) the model's whole folder in the cache."""
    root = Path(os.path.realpath(directory))
    if root.parent.name == "snapshots" and root.parent.parent.name.startswith("models--"):
        return root.parent.parent
    return root


def _entries(directory: Path) -> Iterator[Path]:
    """What transformers may open in ``directory``: its entries and the chat templates."""
    yield from sorted(directory.iterdir())
    templates = directory / CHAT_TEMPLATES
    if templates.is_dir() and not templates.is_symlink():
        yield from sorted(templates.iterdir())


def _file_settings(settings: Any) -> Iterator[tuple[str, str]]:
    """``(key, path)`` for each setting of a tokenizer config (nested ones too) that names a
    file: an argument of :data:`TOKENIZER_FILE_KEYS` or with a :data:`FILE_SUFFIXES` ending,
    and each positional argument (``init_inputs``: a vocabulary first)."""
    if isinstance(settings, dict):
        for key, value in settings.items():
            if key in COMMAND_LINE_KEYS and value:
                raise ModelNotFoundError(
                    f"Refusing the model's {TOKENIZER_CONFIG}: {key} = {value!r} is a command line "
                    "that can name files anywhere; remove it."
                )
            if isinstance(value, str) and _names_a_file(key):
                yield key, value
            elif key == "init_inputs" and isinstance(value, list):
                yield from (("init_inputs", item) for item in value if isinstance(item, str))
            else:
                yield from _file_settings(value)
    elif isinstance(settings, list):
        for item in settings:
            yield from _file_settings(item)


def _names_a_file(key: str) -> bool:
    return key in TOKENIZER_FILE_KEYS or (key.endswith(FILE_SUFFIXES) and key not in NOT_OPENED)


def _check_named(directory: Path, root: Path, where: str, name: object) -> None:
    """A file name that transformers joins to ``directory``."""
    if isinstance(name, str):
        check_inside(directory / name, root, directory, f"{where} entry {name!r}")


def _read_json(directory: Path, name: str) -> Any:
    """The JSON in ``directory / name`` (None without the file); a file that is not JSON is
    refused in one line (transformers would fail on it deep inside)."""
    path = directory / name
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else err
        raise ModelNotFoundError(
            f"Refusing the model directory {str(directory)!r}: its {name} cannot be read as "
            f"JSON ({reason})."
        ) from None


def _json(settings: Any, key: str, kind: type) -> Any:
    """``settings[key]`` where ``settings`` is a dict and the value a ``kind``, else empty."""
    value = settings.get(key) if isinstance(settings, dict) else None
    return value if isinstance(value, kind) else kind()


def _hub_snapshot(name: str) -> Optional[Path]:
    """The directory in the Hugging Face cache that holds the hub model ``name``, with the JSON
    files that name other files in it (None when it cannot be had: transformers says why).

    A file the cache knows (or knows to be missing) costs no request; another is fetched once, as
    transformers would fetch it.
    """
    from huggingface_hub import try_to_load_from_cache
    from transformers.utils import cached_file

    snapshot = None
    for file in ("config.json", *JSON_FILES):
        try:
            path = try_to_load_from_cache(name, file)
            if path is None:  # not asked yet
                path = cached_file(
                    name,
                    file,
                    _raise_exceptions_for_missing_entries=False,
                    _raise_exceptions_for_connection_errors=False,
                )
        except (OSError, ValueError):
            return None
        if file == "config.json":
            if not isinstance(path, str):
                return None
            snapshot = Path(path).parent
    return snapshot
