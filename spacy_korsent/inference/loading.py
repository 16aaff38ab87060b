"""Load, place and save the Hugging Face model and tokenizer behind a component.

torch and transformers are imported inside the functions so that importing the package (and the
``korsent --help``) stays fast.

Loading is not thread-safe in transformers (nor is torch's ONNX exporter): threads that load at
the same time, even different models, can leave "meta" tensors behind that break every later load
in the process. Whoever loads or exports holds :data:`LOAD_LOCK`.
"""

from __future__ import annotations

import difflib
import json
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from .errors import ModelNotFoundError
from .model_files import WEIGHT_INDEXES, check_model_files

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

LOAD_LOCK = threading.RLock()
"""Held while a model is loaded, built or exported in this process."""


def _new_lock_in_child() -> None:
    # A lock held by another thread at fork time would never be released in the child.
    global LOAD_LOCK
    LOAD_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_new_lock_in_child)


HUB_TIMEOUT = 3.0
"""Seconds to wait for the hub's host before a hub id is given up as unreachable."""


def resolve_source(name: str | Path) -> str:
    """Where to load ``name`` from: a local directory, or a hub id.

    (A saved pipeline standing for its model is the components' business:
    :func:`spacy_korsent.components.registry.resolve_model`.) A hub id that is not in the Hugging
    Face cache fails at once, in one line, when the hub is switched off
    (``HF_HUB_OFFLINE``) or its host does not answer within :data:`HUB_TIMEOUT` seconds, instead
    of after transformers' retries.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    name = str(name)
    if path.exists():
        raise ModelNotFoundError(
            f"{name!r} is a file, not a model directory: give the directory that holds "
            "config.json, the weights and the tokenizer files (as save_pretrained() writes them)."
        )
    if looks_like_path(name):
        raise ModelNotFoundError(_no_directory_message(name, path))
    if _hub_snapshot(name) is not None:
        return name
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    problem = OSError("HF_HUB_OFFLINE is set") if offline else _hub_unreachable()
    if problem is not None:
        raise ModelNotFoundError(_not_found_message(name, problem))
    return name


def looks_like_path(name: str) -> bool:
    """Whether ``name`` is written as a path, not as a hub id (``org/name`` or ``name``): it
    starts with ``.``, ``/`` or ``~``, ends with a separator, or has more than one."""
    separators = "/\\" if os.sep == "\\" else "/"
    if name.startswith((".", "~", *separators)) or name.endswith(tuple(separators)):
        return True
    return sum(name.count(sep) for sep in separators) > 1 or (os.sep == "\\" and ":" in name)


def _no_directory_message(name: str, path: Path) -> str:
    """One line saying that the directory does not exist, with the nearest names beside it."""
    message = f"Could not load the model {name!r}: the directory {str(path)!r} does not exist"
    parent = path.parent
    if parent.is_dir():
        entries = sorted(entry.name for entry in parent.iterdir() if entry.is_dir())
        close = difflib.get_close_matches(path.name, entries, n=3)
        if close:
            return f"{message}; {str(parent)!r} has {', '.join(map(repr, close))}."
        return f"{message} ({str(parent)!r} exists)."
    return f"{message}, nor does {str(parent)!r}."


def _hub_snapshot(name: str) -> Optional[Path]:
    """The directory of the hub id ``name`` in the Hugging Face cache (None: not there)."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError

    try:
        config = try_to_load_from_cache(name, "config.json")
    except HFValidationError:  # not a hub id at all (e.g. a path that does not exist)
        return None
    return Path(config).parent if isinstance(config, str) else None


def local_model_dir(name: str) -> Optional[Path]:
    """The directory the model ``name`` is read from: itself, or a hub id's snapshot in the
    Hugging Face cache; None when it has none (a hub id not downloaded yet)."""
    path = Path(name).expanduser()
    return path if path.is_dir() else _hub_snapshot(name)


def _hub_unreachable() -> OSError | None:
    """Why the hub's host cannot be reached (None when it answers, or a proxy is in use)."""
    from huggingface_hub import constants

    proxies = ("https_proxy", "http_proxy", "all_proxy")
    if any(os.environ.get(key) or os.environ.get(key.upper()) for key in proxies):
        return None  # only the proxy knows; let the hub client try
    endpoint = urlsplit(constants.ENDPOINT)
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=HUB_TIMEOUT).close()
    except OSError as err:
        return OSError(f"the hub at {host}:{port} cannot be reached: {err.strerror or err}")
    return None


def load_tokenizer(name_or_path: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer of a hub id or local model directory."""
    from transformers import AutoTokenizer

    return _loading(name_or_path, AutoTokenizer.from_pretrained)


def load_config(name_or_path: str | Path) -> PretrainedConfig:
    """The transformers config (labels, sizes, problem type) of a hub id or local directory."""
    from transformers import AutoConfig

    return _loading(name_or_path, AutoConfig.from_pretrained)


def load_model(name_or_path: str | Path, config: Optional[Any] = None) -> PreTrainedModel:
    """The sequence classifier's weights, in evaluation mode; ``config`` overrides the saved one."""
    from transformers import AutoModelForSequenceClassification

    extra = {"config": config} if config is not None else {}
    model = _loading(
        name_or_path, lambda name: AutoModelForSequenceClassification.from_pretrained(name, **extra)
    )
    model.eval()
    return model


def load_pretrained(name_or_path: str | Path) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Load a sequence-classification model and its tokenizer from a hub id or a local directory."""
    return load_tokenizer(name_or_path), load_model(name_or_path)


def _loading(name_or_path: str | Path, load: Any) -> Any:
    """``load(name)`` under :data:`LOAD_LOCK`, with a one-line error that says what to do.

    The name is resolved first (:func:`resolve_source`): a hub id that cannot be reached fails at
    once. A model whose files would make transformers read outside its directory is refused
    (:mod:`.model_files`).
    """
    name = resolve_source(name_or_path)
    with LOAD_LOCK:
        check_model_files(name)
        try:
            return load(name)
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(_not_found_message(name, err)) from err


def _not_found_message(name: str, err: Exception) -> str:
    """One line that names the model, says why it failed and how to use a local copy."""
    reason = " ".join(str(err).split())
    local = Path(name).expanduser()
    if local.exists():
        missing = _missing_in_model_dir(local)
        if missing is None and len(reason) > REASON_LIMIT:  # transformers' list of model types
            reason = reason[:REASON_LIMIT] + "..."
        return (
            f"Could not load the model from the local directory {str(local)!r}: "
            f"{missing or reason}. The directory needs config.json (with model_type), the "
            "weights (model.safetensors or pytorch_model.bin) and the tokenizer files, as "
            "written by save_pretrained()."
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    where = "the hub is switched off (HF_HUB_OFFLINE)" if offline else "no such local directory"
    short = name.rstrip("/").split("/")[-1]
    return (
        f"Could not load the model {name!r}: {where}, and it is not in the Hugging Face cache "
        f"({type(err).__name__}: {reason}). A hub id needs network access once. To work offline, "
        f"download it on a machine with network access (huggingface-cli download {name} "
        f"--local-dir ./{short}) and pass that directory as the component's model: "
        f"nlp.add_pipe(..., config={{'model': './{short}'}})."
    )


REASON_LIMIT = 300
"""Characters of a loader's message kept in ours (transformers' can list every model type)."""


def _missing_in_model_dir(path: Path) -> Optional[str]:
    """What keeps ``path`` from being a model directory, in a few words (None: nothing seen)."""
    config = path / "config.json"
    if not config.is_file():
        return "it has no config.json"
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return f"its config.json cannot be read as JSON ({type(err).__name__}: {err})"
    if not isinstance(settings, dict) or not settings.get("model_type"):
        return "its config.json has no model_type"
    return None


def resolve_device(device: Optional[str]) -> torch.device:
    """The explicit ``device``, else the GPU that spacy.prefer_gpu() activated, else the CPU."""
    import torch
    from thinc.api import get_current_ops

    if device:
        return check_device(device)
    if type(get_current_ops()).__name__ == "CupyOps" and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


DEVICE_KINDS = ("cpu", "cuda", "mps")
"""The kinds of torch device a model runs on."""


def check_device(device: str, option: str = "device=") -> torch.device:
    """``device`` as a torch device of this machine: a ValueError in one line, which names it
    after ``option`` (``device=``, ``--device ``), for a name torch does not know, another kind of
    device or a GPU the machine lacks."""
    import torch

    try:
        place = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"{option}{device!r} is not a torch device ({err}).") from None
    if place.type not in DEVICE_KINDS:
        raise ValueError(
            f"{option}{device!r}: a model runs on 'cpu', 'cuda', 'cuda:N' or 'mps', not "
            f"{place.type!r}."
        )
    available = {
        "cpu": 1,
        "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "mps": int(torch.backends.mps.is_available()),
    }[place.type]
    if not available:
        raise ValueError(f"{option}{device!r}: torch sees no {place.type} device on this machine.")
    if place.index is not None and place.index >= available:
        raise ValueError(
            f"{option}{device!r}: this machine has {available} {place.type} device(s), "
            f"numbered from 0 to {available - 1}."
        )
    return place


WEIGHT_SHARDS = ("model*.safetensors", "pytorch_model*.bin")
"""The files of a Hugging Face directory that hold the weights themselves."""
WEIGHT_FILES = (*WEIGHT_SHARDS, *WEIGHT_INDEXES)
"""The weights and their indexes."""


def weight_files(directory: Path) -> list[Path]:
    """The weight files in the Hugging Face model ``directory``, in a fixed order."""
    return [file for pattern in WEIGHT_FILES for file in sorted(directory.glob(pattern))]


def save_pretrained(tokenizer: Any, model: Any, path: Path) -> None:
    """Write weights, config and tokenizer so that :func:`load_pretrained` reads them back alone."""
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
