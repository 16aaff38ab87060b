"""Load, place and save the Hugging Face model and tokenizer behind a component.

torch and transformers are imported inside the functions so that importing the package (and the
``korsent --help``) stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class ModelNotFoundError(OSError):
    """The model named in the component's config could not be loaded."""


def load_pretrained(name_or_path: str | Path) -> tuple[PreTrainedTokenizerBase, PreTrainedModel]:
    """Load a sequence-classification model and its tokenizer from a hub id or a local directory."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    name = str(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSequenceClassification.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise ModelNotFoundError(_not_found_message(name, err)) from err
    model.eval()
    return tokenizer, model


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
