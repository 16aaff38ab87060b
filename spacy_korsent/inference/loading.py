"""Load, place and save the Hugging Face model and tokenizer behind a component.

torch and transformers are imported inside the functions so that importing the package (and the
``korsent --help``) stays fast.

Loading is not thread-safe in transformers (nor is torch's ONNX exporter): threads that load at
the same time, even different models, can leave "meta" tensors behind that break every later load
in the process. Whoever loads or exports holds :data:`LOAD_LOCK`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

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


class ModelNotFoundError(OSError):
    """The model named in the component's config could not be loaded."""


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
    """``load(name)`` under :data:`LOAD_LOCK`, with a one-line error that says what to do."""
    name = str(name_or_path)
    with LOAD_LOCK:
        try:
            return load(name)
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(_not_found_message(name, err)) from err


def _not_found_message(name: str, err: Exception) -> str:
    """One line that names the model, says why it failed and how to use a local copy."""
    reason = " ".join(str(err).split())
    local = Path(name).expanduser()
    if local.exists():
        return (
            f"Could not load the model from the local directory {str(local)!r}: {reason}. "
            "The directory needs config.json, the weights (model.safetensors or pytorch_model.bin) "
            "and the tokenizer files, as written by save_pretrained()."
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


def resolve_device(device: Optional[str]) -> torch.device:
    """The explicit ``device``, else the GPU that spacy.prefer_gpu() activated, else the CPU."""
    import torch
    from thinc.api import get_current_ops

    if device:
        return torch.device(device)
    if type(get_current_ops()).__name__ == "CupyOps" and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def save_pretrained(tokenizer: Any, model: Any, path: Path) -> None:
    """Write weights, config and tokenizer so that :func:`load_pretrained` reads them back alone."""
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
