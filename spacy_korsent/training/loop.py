"""``korsent train``: the model card's recipe as a front end to the components' own training.

The model, its head, the loss and the optimizer step are the ones ``spacy train`` uses: the run
builds a pipeline with ``korean_sentiment`` (or ``korean_emotion``), lets ``initialize`` decide
the head from the labels, and trains with ``update`` and thinc's Adam (AdamW-style weight decay,
gradients clipped at 1.0, a linear warmup/decay schedule). What this loop adds is the recipe: epochs
with early stopping (patience 2 on the validation loss), a seeded validation split (or a file), a
best checkpoint saved atomically whenever the validation loss improves, Ctrl-C (and SIGTERM on
the command line) that keeps it, and a test file scored once at the end. The card chose its
checkpoint on the test set; this does not.

Everything that can be wrong with the input (files, columns, labels, a tokenizer that does not fit
the model) raises :class:`~spacy_korsent.files.readers.InputError` before the first training step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, cast

import numpy as np

from .. import scratch
from ..components.blank import blank_korean
from ..components.registry import EMOTION, SENTIMENT, resolve_model
from ..files.readers import InputError
from ..inference.engine import activate, window_means
from ..inference.loading import ModelNotFoundError, load_config, save_pretrained
from ..interrupts import whole
from ..metrics import NO_PREDICTION, accuracy, macro_f1
from .batching import epoch_bar, similar_length_batches
from .data import NSMC_LABELS, Labelled

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.training import Example

    from ..components.classifier import KoreanClassifier

CHECKPOINT_PREFIX = ".checkpoint-"
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
    interrupted: Optional[KeyboardInterrupt] = None
    """What stopped the run early (Ctrl-C, or :class:`~spacy_korsent.interrupts.Terminated`)."""

    @property
    def best(self) -> dict[str, float] | None:
        return self.log[self.best_epoch - 1] if self.best_epoch else None


# --- the pipeline ----------------------------------------------------------------------------


def build_pipeline(
    names: list[str],
    *,
    model: str | None,
    init_config: Path | None,
    tokenizer: str | None,
    settings: Settings,
    scratch: Path,
) -> tuple[Language, KoreanClassifier]:
    """A pipeline whose one component holds ``model`` (or a model built from ``init_config`` with
    random weights, written to ``scratch``), its head not yet fitted to ``names``.

    ``korean_sentiment`` for negative/positive, else ``korean_emotion``. The checkpoint is loaded
    under its own class names, so that ``initialize`` keeps its head exactly when they are the
    training labels (negative/positive also match ``LABEL_0``/``LABEL_1`` and the like).
    """
    source: str | Path
    if init_config is not None:
        source = write_random_model(names, init_config, tokenizer, settings.seed, scratch)
    else:
        assert model is not None
        source = model
        if tokenizer is not None:
            raise InputError("--tokenizer goes with --init-config; --model brings its own.")
    try:
        config = load_config(resolve_model(source))
    except ModelNotFoundError as err:
        raise InputError(str(err)) from err
    sentiment = set(names) == set(NSMC_LABELS)
    settings_for_component: dict[str, Any] = {
        "model": str(source),
        "max_length": settings.max_length,
        "truncate": True,
        "device": settings.device,
        "mixed_precision": settings.fp16,
    }
    if not (sentiment and config.num_labels == 2):
        settings_for_component["labels"] = [
            str(config.id2label[i]) for i in range(config.num_labels)
        ]
    nlp = blank_korean()
    nlp.max_length = sys.maxsize  # a huge text is windowed (or truncated), as in analyze
    factory = SENTIMENT if sentiment else EMOTION
    try:
        component = cast("KoreanClassifier", nlp.add_pipe(factory, config=settings_for_component))
        component.initialize()
    except ValueError as err:
        raise InputError(str(err)) from err
    return nlp, component


def model_classes(model: str) -> list[str]:
    """The class names of a checkpoint, negative/positive however it spells them (부정/긍정, ...):
    what fine-tuning keeps the head for."""
    from ..components.sentiment import canonical_sentiment

    try:
        config = load_config(resolve_model(model))
    except ModelNotFoundError as err:
        raise InputError(str(err)) from err
    names = [str(config.id2label[i]) for i in range(config.num_labels)]
    return canonical_sentiment(names) or names


def head_plan(component: KoreanClassifier, names: list[str]) -> str:
    """One line saying whether training keeps the checkpoint's head for ``names`` or replaces
    it (what ``initialize`` will do: it keeps it exactly when the classes are the same)."""
    model, classes = component.model_name, ", ".join(component.labels)
    if set(component.labels) == set(names):
        return f"fine-tuning {model} with its classification head ({classes})"
    return (
        f"replacing the classification head of {model} (classes {classes}) with a new, "
        f"untrained one for {', '.join(names)}"
    )


def write_random_model(
    names: list[str], init_config: Path, tokenizer: str | None, seed: int, scratch: Path
) -> Path:
    """A model from a transformers config with random weights, saved for the component to load."""
    from transformers import AutoModelForSequenceClassification, set_seed

    if tokenizer is None:
        raise InputError("--init-config needs --tokenizer (a tokenizer directory or vocab.txt).")
    config = _read_config(init_config, names)
    tok = _load_tokenizer(tokenizer, config)
    if len(tok) > config.vocab_size:
        raise InputError(
            f"the tokenizer has {len(tok)} tokens but {init_config} sets vocab_size="
            f"{config.vocab_size}; raise vocab_size to at least {len(tok)}."
        )
    set_seed(seed)
    path = scratch / "initial-model"
    save_pretrained(tok, AutoModelForSequenceClassification.from_config(config), path)
    return path


def _read_config(path: Path, names: list[str]) -> Any:
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
    labels = {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }
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
        raise InputError(f"could not load the tokenizer {name!r}: {err}") from err


def pick_device(settings: Settings) -> str:
    """``settings.device``, else the GPU when there is one, else the CPU."""
    import torch

    device = torch.device(settings.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {settings.device}: no CUDA device is available.")
    if settings.fp16 and device.type != "cuda":
        raise InputError("--fp16 needs a CUDA device; CPU training runs in float32.")
    return str(device)


# --- training --------------------------------------------------------------------------------


def examples(nlp: Language, data: Labelled) -> list[Example]:
    """Examples whose gold ``cats`` give every label 1.0 or 0.0."""
    from spacy.training import Example

    return [
        Example.from_dict(nlp.make_doc(text), {"cats": cats})
        for text, cats in zip(data.texts, data.cats())
    ]


def train(
    nlp: Language,
    component: KoreanClassifier,
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
    from spacy.util import fix_random_seed

    fix_random_seed(settings.seed)
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        train_set, val_set = examples(nlp, train_data), examples(nlp, val_data)
        component.initialize(lambda: train_set, nlp=nlp, labels=train_data.names)
        return _fit(component, train_set, val_set, output, settings)
    finally:
        torch.set_num_threads(threads)


def _fit(
    component: KoreanClassifier,
    train_set: list[Example],
    val_set: list[Example],
    output: Path,
    settings: Settings,
) -> Outcome:
    steps_per_epoch = -(-len(train_set) // settings.batch_size)
    optimizer = _optimizer(settings, settings.epochs * steps_per_epoch)
    lengths = _lengths(component, train_set)
    rng = np.random.default_rng(settings.seed)
    outcome = Outcome()
    stale = 0
    output.mkdir(parents=True, exist_ok=True)
    scratch.remove_stale(output, CHECKPOINT_PREFIX, unowned=True)  # from a killed run
    log_path = output / LOG_FILE
    log_path.write_text("", encoding="utf-8")
    try:
        for epoch in range(1, settings.epochs + 1):
            started = time.perf_counter()
            batches = similar_length_batches(lengths, settings.batch_size, rng)
            train_loss = _one_epoch(component, train_set, batches, optimizer, settings, epoch)
            val = evaluate(component, val_set, settings.batch_size * 2)
            entry = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val["loss"],
                "val_accuracy": val["accuracy"],
                "seconds": round(time.perf_counter() - started, 2),
            }
            improved = val["loss"] < outcome.best_val_loss
            # The log names an epoch as the best only once its checkpoint is in place.
            with saving_checkpoint(component, output) if improved else nullcontext():
                outcome.log.append(entry)
                with log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(entry) + "\n")
                if improved:
                    outcome.best_val_loss, outcome.best_epoch, stale = val["loss"], epoch, 0
            if not settings.quiet:
                print(_describe(entry), file=sys.stderr)
            if not improved:
                stale += 1
                if stale >= settings.patience:
                    break
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM on the command line
        outcome.interrupted = interrupt
    return outcome


def _optimizer(settings: Settings, total_steps: int) -> Any:
    """thinc's Adam as ``spacy train`` configures it, under a linear warmup and decay."""
    from thinc.api import Adam, warmup_linear

    schedule = warmup_linear(settings.lr, int(settings.warmup * total_steps), total_steps)
    return Adam(
        learn_rate=schedule,  # type: ignore[arg-type]  # thinc takes schedules; its hint says not
        L2=settings.weight_decay,
        L2_is_weight_decay=True,
        grad_clip=1.0,
        use_averages=False,
    )


def _lengths(component: KoreanClassifier, data: list[Example]) -> np.ndarray:
    """Each text's subword tokens (for batches of similar lengths)."""
    ids = component.engine.encode([example.predicted.text for example in data])
    return np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))


def _one_epoch(
    component: KoreanClassifier,
    data: list[Example],
    batches: list[np.ndarray],
    optimizer: Any,
    settings: Settings,
    epoch: int,
) -> float:
    """Train on every batch once, with a progress bar; the mean training loss."""
    total, seen = 0.0, 0
    bar = epoch_bar(batches, epoch, settings.epochs, quiet=settings.quiet)
    for batch in bar:
        losses = component.update([data[i] for i in batch], sgd=optimizer)
        optimizer.step_schedules()
        total += losses[component.name] * len(batch)
        seen += len(batch)
        bar.set_postfix(loss=f"{total / seen:.4f}", refresh=False)
    return total / seen


def evaluate(component: KoreanClassifier, data: list[Example], batch_size: int) -> dict[str, Any]:
    """Mean loss, accuracy and macro F1 of the component on ``data``, through its windows.

    For multi-label data, accuracy and macro F1 are over each text's best label being one of its
    gold labels (the loss is the training loss either way).
    """
    truth, _ = component.gold(data)
    gold = truth.argmax(axis=1)
    predicted = np.full(len(data), NO_PREDICTION, dtype=np.int64)
    loss_sum = 0.0
    for batch in similar_length_batches(_lengths(component, data), batch_size, None):
        chunk = [data[i] for i in batch]
        scores, _ = component.forward_windows([eg.predicted for eg in chunk], is_train=False)
        if scores is None:
            continue
        loss, _ = component.get_loss(chunk, scores)
        loss_sum += loss * len(chunk)
        probs = activate(scores.logits, multi_label=component.multi_label)
        best = window_means(probs, scores.owners, scores.lengths).argmax(axis=1)
        predicted[batch[sorted(set(scores.owners))]] = best
    # Multi-label: the best label is right when it is one of the gold labels.
    hit = (predicted >= 0) & (truth[np.arange(len(data)), np.maximum(predicted, 0)] >= 1.0)
    gold = np.where(hit, predicted, gold)
    return {
        "n": len(data),
        "loss": loss_sum / len(data),
        "accuracy": accuracy(gold, predicted),
        "macro_f1": macro_f1(gold, predicted),
    }


@contextmanager
def saving_checkpoint(component: KoreanClassifier, output: Path) -> Iterator[None]:
    """Write the model (a Hugging Face directory) in a staging directory in ``output``, then move
    its files in, the weights last, and run the block that records it.

    Ctrl-C and SIGTERM wait for the move and the block, and only the weights change from one
    epoch to the next, so an interruption (even SIGKILL) leaves the previous checkpoint whole and
    the log naming it; a killed run's staging directory is removed by the next run in ``output``.
    """
    with scratch.temporary(CHECKPOINT_PREFIX, output) as staging:
        saved = staging / "model"
        component.save_model(saved)
        with whole():
            for file in sorted(saved.iterdir(), key=_is_weights):
                os.replace(file, output / file.name)
            yield


def _is_weights(file: Path) -> bool:
    return file.suffix in (".safetensors", ".bin") or file.name.endswith(".index.json")


def test_report(output: Path, test_data: Labelled, settings: Settings) -> dict[str, Any]:
    """Score the best checkpoint in ``output`` on the test set and write :data:`TEST_FILE`."""
    with scratch.temporary("korsent-test-") as work:
        nlp, component = build_pipeline(
            test_data.names,
            model=str(output),
            init_config=None,
            tokenizer=None,
            settings=settings,
            scratch=work,
        )
        component.initialize(labels=test_data.names)
        metrics = evaluate(component, examples(nlp, test_data), settings.batch_size * 2)
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
