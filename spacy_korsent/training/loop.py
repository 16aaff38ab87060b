"""Fine-tune (or train from scratch) a sequence classifier that the components load directly.

The recipe is the sentiment model card's (up to 10 epochs, early stopping with patience 2 on the
validation loss, batch 32, learning rate 2e-5, 128 tokens) with one correction: the card chose its
checkpoint on the test set; here the validation set is a seeded split of the training data (or a
file of its own) and the test file is only read for the final report.

Everything that can be wrong with the input (files, columns, labels, a tokenizer that does not fit
the model) raises :class:`~spacy_korsent.files.readers.InputError` before the first training step.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..files.readers import InputError
from ..metrics import accuracy, macro_f1
from .data import Labelled

if TYPE_CHECKING:
    import torch

LOG_FILE = "training_log.jsonl"
ARGS_FILE = "training_args.json"
TEST_FILE = "test_metrics.json"


@dataclass
class Settings:
    """Hyperparameters; the defaults are the model card's recipe."""

    epochs: int = 10
    patience: int = 2
    batch_size: int = 32
    lr: float = 2e-5
    warmup: float = 0.0
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 42
    device: str | None = None
    threads: int | None = None
    fp16: bool = False
    quiet: bool = False


@dataclass
class Outcome:
    """What a training run did: the epoch log, the best epoch, and whether it was interrupted."""

    log: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_val_loss: float = float("inf")
    interrupted: bool = False

    @property
    def best(self) -> dict[str, float] | None:
        return self.log[self.best_epoch - 1] if self.best_epoch else None


# --- model -----------------------------------------------------------------------------------


def build_model(
    names: list[str],
    *,
    model: str | None,
    init_config: Path | None,
    tokenizer: str | None,
    max_length: int,
    seed: int,
) -> tuple[Any, Any]:
    """``model`` with a new head for ``names``, or ``init_config`` built with random weights."""
    from transformers import AutoModelForSequenceClassification, set_seed

    labels = {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }
    set_seed(seed)
    if init_config is not None:
        if tokenizer is None:
            raise InputError(
                "--init-config needs --tokenizer (a tokenizer directory or vocab.txt)."
            )
        config = _read_config(init_config, labels)
        tok = _load_tokenizer(tokenizer, config)
        if len(tok) > config.vocab_size:
            raise InputError(
                f"the tokenizer has {len(tok)} tokens but {init_config} sets vocab_size="
                f"{config.vocab_size}; raise vocab_size to at least {len(tok)}."
            )
        net = AutoModelForSequenceClassification.from_config(config)
    else:
        assert model is not None
        tok = _load_tokenizer(tokenizer or model, None)
        try:
            net = AutoModelForSequenceClassification.from_pretrained(
                model, ignore_mismatched_sizes=True, **labels
            )
        except (OSError, ValueError) as err:
            raise InputError(_cannot_load(model, err)) from err
    limit = getattr(net.config, "max_position_embeddings", None)
    if limit and max_length > limit:
        raise InputError(f"--max-length {max_length} is above the model's limit of {limit} tokens.")
    return tok, net


def _read_config(path: Path, labels: dict[str, Any]) -> Any:
    from transformers import AutoConfig

    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable JSON config ({err}).") from err
    if not isinstance(values, dict) or "model_type" not in values:
        raise InputError(f'{path}: a transformers config needs a model_type, e.g. "electra".')
    model_type = values.pop("model_type")
    for key in ("num_labels", "id2label", "label2id"):
        values.pop(key, None)
    try:
        return AutoConfig.for_model(model_type, **values, **labels)
    except ValueError as err:
        raise InputError(f"{path}: {err}") from err


def _load_tokenizer(name: str, config: Any) -> Any:
    """A tokenizer from a directory or hub id, or a WordPiece tokenizer from a ``vocab.txt``.

    A bare vocabulary gets the KoELECTRA/KLUE settings: no lower-casing, accents kept, CJK
    characters split, and the config's position limit as the longest input.
    """
    from transformers import AutoTokenizer, BertTokenizerFast, ElectraTokenizerFast

    if Path(name).is_file():
        electra = getattr(config, "model_type", "") == "electra"
        return (ElectraTokenizerFast if electra else BertTokenizerFast)(
            vocab_file=name,
            do_lower_case=False,
            strip_accents=False,
            tokenize_chinese_chars=True,
            model_max_length=getattr(config, "max_position_embeddings", 512),
        )
    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise InputError(_cannot_load(name, err)) from err


def _cannot_load(name: str, err: Exception) -> str:
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    hint = " (the hub is switched off: HF_HUB_OFFLINE)" if offline else ""
    return (
        f"could not load {name!r}{hint}: {err} Give a directory written by save_pretrained() or a "
        "hub id that can be downloaded."
    )


# --- training --------------------------------------------------------------------------------


def pick_device(settings: Settings) -> torch.device:
    """``settings.device``, else the GPU when there is one, else the CPU."""
    import torch

    device = torch.device(settings.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {settings.device}: no CUDA device is available.")
    if settings.fp16 and device.type != "cuda":
        raise InputError("--fp16 needs a CUDA device; CPU training runs in float32.")
    return device


class Encoded:
    """Token ids (truncated to ``max_length``) and labels, batched with dynamic padding."""

    def __init__(self, tokenizer: Any, data: Labelled, max_length: int) -> None:
        encoding = tokenizer(data.texts, truncation=True, max_length=max_length)
        self.ids: list[list[int]] = encoding["input_ids"]
        self.labels = np.asarray(data.labels, dtype=np.int64)
        self.lengths = np.fromiter(map(len, self.ids), dtype=np.int64, count=len(self.ids))
        self.pad_id = tokenizer.pad_token_id or 0

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
        """Index batches of similar lengths; shuffled (with ``rng``) or in length order.

        Shuffled: a random permutation is cut into pools of 50 batches, each pool is sorted by
        length and cut into batches, and the batches are shuffled, so padding stays small while
        every epoch sees a different order.
        """
        if rng is None:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + size] for i in range(0, len(order), size)]
        order = rng.permutation(len(self))
        pool = size * 50
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + size] for i in range(0, len(chunk), size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def tensors(self, batch: np.ndarray, device: torch.device) -> dict[str, torch.Tensor]:
        import torch

        width = int(self.lengths[batch].max())
        ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, index in enumerate(batch):
            ids[row, : self.lengths[index]] = self.ids[index]
            mask[row, : self.lengths[index]] = 1
        return {
            "input_ids": torch.from_numpy(ids).to(device),
            "attention_mask": torch.from_numpy(mask).to(device),
            "labels": torch.from_numpy(self.labels[batch]).to(device),
        }


def train(
    tokenizer: Any,
    model: Any,
    train_data: Labelled,
    val_data: Labelled,
    output: Path,
    settings: Settings,
) -> Outcome:
    """Train with early stopping, writing the best checkpoint and one log line per epoch.

    The checkpoint in ``output`` is replaced whenever the validation loss improves, so a
    KeyboardInterrupt (caught here: ``Outcome.interrupted``) leaves the best model so far.
    """
    import torch
    from transformers import set_seed

    device = pick_device(settings)
    set_seed(settings.seed)
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        train_set = Encoded(tokenizer, train_data, settings.max_length)
        val_set = Encoded(tokenizer, val_data, settings.max_length)
        model.to(device)
        return _fit(tokenizer, model, train_set, val_set, output, settings, device)
    finally:
        torch.set_num_threads(threads)


def _fit(
    tokenizer: Any,
    model: Any,
    train_set: Encoded,
    val_set: Encoded,
    output: Path,
    settings: Settings,
    device: torch.device,
) -> Outcome:
    steps_per_epoch = -(-len(train_set) // settings.batch_size)
    step = _Stepper(model, settings, settings.epochs * steps_per_epoch)
    rng = np.random.default_rng(settings.seed)
    outcome = Outcome()
    stale = 0
    output.mkdir(parents=True, exist_ok=True)
    log_path = output / LOG_FILE
    log_path.write_text("", encoding="utf-8")
    try:
        for epoch in range(1, settings.epochs + 1):
            started = time.perf_counter()
            batches = train_set.batches(settings.batch_size, rng)
            train_loss = _one_epoch(model, train_set, batches, step, device, settings, epoch)
            val = evaluate(model, val_set, settings.batch_size, device)
            entry = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val["loss"],
                "val_accuracy": val["accuracy"],
                "seconds": round(time.perf_counter() - started, 2),
            }
            outcome.log.append(entry)
            with log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")
            if not settings.quiet:
                print(_describe(entry), file=sys.stderr)
            if val["loss"] < outcome.best_val_loss:
                outcome.best_val_loss, outcome.best_epoch, stale = val["loss"], epoch, 0
                save_checkpoint(tokenizer, model, output)
            else:
                stale += 1
                if stale >= settings.patience:
                    break
    except KeyboardInterrupt:
        outcome.interrupted = True
    return outcome


class _Stepper:
    """AdamW under a linear warmup/decay schedule, with loss scaling when training in fp16."""

    def __init__(self, model: Any, settings: Settings, total_steps: int) -> None:
        import torch
        from transformers import get_linear_schedule_with_warmup

        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        warmup = int(settings.warmup * total_steps)
        self.schedule = get_linear_schedule_with_warmup(self.optimizer, warmup, total_steps)
        self.scaler = torch.amp.GradScaler("cuda", enabled=settings.fp16)

    def __call__(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()


def _one_epoch(
    model: Any,
    data: Encoded,
    batches: list[np.ndarray],
    step: _Stepper,
    device: torch.device,
    settings: Settings,
    epoch: int,
) -> float:
    """Train on every batch once, with a progress bar; the mean training loss."""
    import torch
    from tqdm.auto import tqdm

    model.train()
    total, seen = 0.0, 0
    bar = tqdm(
        batches,
        desc=f"epoch {epoch}/{settings.epochs}",
        unit="batch",
        file=sys.stderr,
        disable=settings.quiet or not sys.stderr.isatty(),
    )
    for batch in bar:
        with torch.autocast("cuda", dtype=torch.float16, enabled=settings.fp16):
            loss = model(**data.tensors(batch, device)).loss
        step(loss)
        total += loss.item() * len(batch)
        seen += len(batch)
        bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
    return total / seen


def evaluate(model: Any, data: Encoded, batch_size: int, device: torch.device) -> dict[str, Any]:
    """Mean loss, accuracy and macro F1 of ``model`` on ``data`` (truncated inputs, no windows)."""
    import torch

    model.eval()
    loss_sum = 0.0
    predicted = np.empty(len(data), dtype=np.int64)
    with torch.inference_mode():
        for batch in data.batches(batch_size * 2, None):
            inputs = data.tensors(batch, device)
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            logits = logits.logits.float()
            loss_sum += torch.nn.functional.cross_entropy(
                logits, inputs["labels"], reduction="sum"
            ).item()
            predicted[batch] = logits.argmax(-1).cpu().numpy()
    return {
        "n": len(data),
        "loss": loss_sum / len(data),
        "accuracy": accuracy(data.labels, predicted),
        "macro_f1": macro_f1(data.labels, predicted),
    }


def save_checkpoint(tokenizer: Any, model: Any, output: Path) -> None:
    """Write the model and tokenizer next to ``output`` first, then move the files in.

    An interruption while writing thus leaves the previous checkpoint whole.
    """
    from ..inference.loading import save_pretrained

    staging = Path(tempfile.mkdtemp(prefix=".checkpoint-", dir=output))
    try:
        save_pretrained(tokenizer, model, staging)
        for file in staging.iterdir():
            os.replace(file, output / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def test_report(output: Path, test_data: Labelled, settings: Settings) -> dict[str, Any]:
    """Score the best checkpoint in ``output`` on the test set and write :data:`TEST_FILE`."""

    from ..inference.loading import load_pretrained

    tokenizer, model = load_pretrained(output)
    device = pick_device(settings)
    model.to(device)
    encoded = Encoded(tokenizer, test_data, settings.max_length)
    metrics = evaluate(model, encoded, settings.batch_size, device)
    (output / TEST_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def write_args(output: Path, args: dict[str, Any], names: list[str]) -> None:
    """Record how the run was made (the arguments and the label order) beside the model."""
    record = {**args, "label_names": names}
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    (output / ARGS_FILE).write_text(text, encoding="utf-8")


def _describe(entry: dict[str, float]) -> str:
    return (
        f"epoch {entry['epoch']}: train_loss {entry['train_loss']:.4f}, "
        f"val_loss {entry['val_loss']:.4f}, val_accuracy {entry['val_accuracy']:.4f} "
        f"({entry['seconds']:.0f}s)"
    )
