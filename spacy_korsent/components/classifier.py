"""What the sentiment and emotion components share: a trainable spaCy pipe over a Hugging Face
sequence classifier.

The component follows spaCy's pipe protocol: ``predict`` / ``set_annotations`` (run under
``get_error_handler()`` by ``__call__`` and ``pipe``), ``initialize`` / ``update`` / ``get_loss`` /
``finish_update`` for ``spacy train``, ``cfg`` as a dict, and ``to_disk`` / ``from_disk`` through
``spacy.util`` with ``exclude``. Its Thinc model (:mod:`.model`) wraps the torch module for
training; predictions go through the window engine (:mod:`spacy_korsent.inference.engine`), which
runs the same module (or its ONNX export) with length bucketing and shard threads.

The model is loaded lazily, once, by whichever thread needs it first (``initialize``, the first
doc, ``to_disk``): ``spacy.load()`` of a saved pipeline never touches the hub, and a pipeline shared
by a server's threads works from the first request. On the ONNX backend the torch weights stay on
disk until something needs them (training, or saving weights that are not on disk yet).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, cast

import numpy as np
import srsly
from spacy import util
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer
from thinc.types import Floats2d

from .. import scratch
from ..explain.attribution import check_method
from ..explain.docs import (
    Attributions,
    attribute_docs,
    register_attribution_extension,
    store_attributions,
)
from ..files.packing import pack_directory, unpack_files
from ..inference import loading
from ..inference.engine import WindowClassifier
from ..inference.precision import check_dtype
from ..training.loss import window_loss
from .extensions import register_extension, stored_name
from .model import (
    classifier_model,
    get_module,
    problem_type,
    set_module,
    uses_mixed_precision,
    with_new_head,
)

Result = dict[str, Any]

MODEL_DIR = "model"
ONNX_FILE = "model.onnx"
WEIGHT_FILES = (
    "model*.safetensors",
    "model.safetensors.index.json",
    "pytorch_model*.bin",
    "pytorch_model.bin.index.json",
)
"""The files of a Hugging Face directory that hold weights (copied when they are on disk)."""

SHARED_DEFAULTS: dict[str, Any] = {
    "labels": None,
    "max_length": 128,
    "stride": 32,
    "truncate": False,
    "batch_tokens": 1024,
    "buffer_size": 1024,
    "device": None,
    "dtype": "float32",
    "n_threads": None,
    "backend": "torch",
    "quantize": False,
    "sentences": False,
    "set_cats": True,
    "mixed_precision": False,
    "grad_scaler_config": {},
    "explain": False,
    "explain_method": "occlusion",
    "explain_steps": 32,
}
"""Factory defaults common to both components (documented in the README's config reference)."""


class DocPrediction(NamedTuple):
    """A doc's probabilities (None for a doc without text) and those of its sentences."""

    doc: Optional[np.ndarray]
    sentences: list[Optional[np.ndarray]]
    attributions: Optional[Attributions] = None
    """With ``explain``: the tokens' attributions towards the doc's (and sentences') label."""


class WindowScores(NamedTuple):
    """The Thinc model's output for a batch of docs: one row of logits per window.

    ``owners[i]`` is the doc (index in the batch) of window ``i``, ``lengths[i]`` its tokens.
    """

    logits: np.ndarray
    owners: list[int]
    lengths: list[int]


class KoreanClassifier(TrainablePipe):
    """Base of ``korean_sentiment`` and ``korean_emotion``; subclasses say how to read the model."""

    extension: str = ""
    """Name of the Doc/Span extension the component provides, e.g. ``sentiment``."""
    attribution_extension: str = ""
    """Doc/Span/Token extension with the token attributions, e.g. ``sentiment_attribution``."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        source: str,
        labels: Optional[list[str]],
        max_length: int,
        stride: int,
        truncate: bool,
        batch_tokens: int,
        buffer_size: int,
        device: Optional[str],
        dtype: str,
        n_threads: Optional[int],
        backend: str,
        quantize: bool,
        sentences: bool,
        set_cats: bool,
        scorer: Optional[Callable[..., dict[str, Any]]],
        explain: bool,
        explain_method: str,
        explain_steps: int,
        multi_label: Optional[bool] = None,
    ) -> None:
        if backend not in ("torch", "onnx"):
            raise ValueError(f"{name}: backend must be 'torch' or 'onnx', not {backend!r}.")
        if quantize and backend != "onnx":
            raise ValueError(f"{name}: quantize=true needs backend='onnx'.")
        check_dtype(dtype)
        if backend == "onnx" and dtype == "float16":
            raise ValueError(f"{name}: dtype='float16' needs backend='torch' (on a CUDA GPU).")
        if backend == "onnx" and dtype == "bfloat16" and quantize:
            raise ValueError(
                f"{name}: quantize=true (int8, fastest) and dtype='bfloat16' (closer to float32) "
                "are two ways to speed up backend='onnx': choose one."
            )
        try:
            check_method(explain_method, backend)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        if explain_steps < 1:
            raise ValueError(f"{name}: explain_steps must be at least 1, not {explain_steps}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.cfg: dict[str, Any] = {
            "labels": [],
            "positive_label": None,
            "multi_label": bool(multi_label),
            "source": source,
            "onnx_quantized": None,
        }
        self.label_names = list(labels) if labels else None
        self.multi_label_setting = multi_label
        self.max_length = max_length
        self.stride = stride
        self.truncate = truncate
        self.batch_tokens = batch_tokens
        self.buffer_size = buffer_size
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.backend = backend
        self.quantize = quantize
        self.sentences = sentences
        self.set_cats = set_cats
        self.scorer = scorer
        self.explain = explain
        self.explain_method = explain_method
        self.explain_steps = explain_steps
        self._engine: Optional[WindowClassifier] = None
        self._config: Any = None
        self._weights: Optional[str] = None
        self._export: Optional[Path] = None
        self._scratch_root: Optional[tuple[int, Path]] = None  # (process id, directory)
        register_extension(self.extension)
        register_attribution_extension(self.attribution_extension)

    # --- what a subclass decides -------------------------------------------------------------

    def read_labels(self, config: Any) -> list[str]:
        """Output label names for a checkpoint's transformers config; raise if it does not fit."""
        raise NotImplementedError

    def make_result(self, probs: np.ndarray) -> Result:
        """The plain-data extension value for one text's probabilities."""
        raise NotImplementedError

    def empty_result(self) -> Result:
        """The extension value for a text without tokens (empty, whitespace, control characters)."""
        raise NotImplementedError

    # --- labels ------------------------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        """Output labels in class order (empty until the model is loaded)."""
        return tuple(self.cfg["labels"])

    @property
    def model_name(self) -> str:
        """The hub id or directory the component's model came from (``model`` in its config)."""
        return str(self.cfg["source"])

    @property
    def label_data(self) -> list[str]:
        """The labels, for ``spacy init labels`` and ``[initialize.components.NAME.labels]``."""
        return list(self.labels)

    @property
    def multi_label(self) -> bool:
        """True for a sigmoid per label (several labels per text), False for a softmax."""
        return bool(self.cfg["multi_label"])

    def _set_labels(self, labels: list[str], multi_label: bool) -> None:
        positive = "positive" if len(labels) == 2 and "positive" in labels else None
        self.cfg.update(labels=list(labels), multi_label=multi_label, positive_label=positive)
        if self._engine is not None:
            self._engine.multi_label = multi_label

    # --- prediction: spaCy's pipe protocol ---------------------------------------------------

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate docs in input order, bucketing ``max(batch_size, buffer_size)`` at a time."""
        return super().pipe(stream, batch_size=max(batch_size, self.buffer_size))

    def predict(self, docs: Iterable[Doc]) -> list[DocPrediction]:
        """Probabilities of each doc (and each sentence with ``sentences``), without a model
        call for docs without text."""
        docs = list(docs)
        texts: list[str] = []
        sentence_counts: list[Optional[int]] = []
        for doc in docs:
            text = doc.text  # built from the tokens on each access: once is enough
            if not text.strip():
                sentence_counts.append(None)
                continue
            sents = self._sentences(doc)
            sentence_counts.append(len(sents))
            texts.append(text)
            texts.extend(sent.text for sent in sents)
        if not texts:
            predictions = [DocPrediction(None, []) for _ in docs]
        else:
            probs = iter(self._ready().predict(texts))
            predictions = [
                DocPrediction(None, [])
                if count is None
                else DocPrediction(next(probs), [next(probs) for _ in range(count)])
                for count in sentence_counts
            ]
        return self._attributed(docs, predictions) if self.explain else predictions

    def set_annotations(self, docs: Iterable[Doc], scores: list[DocPrediction]) -> None:
        """Write the extension values (and ``doc.cats``) from :meth:`predict`'s probabilities."""
        for doc, prediction in zip(docs, scores):
            self._set(doc, prediction.doc)
            if prediction.sentences:
                for sent, probs in zip(doc.sents, prediction.sentences):
                    self._set(sent, probs)
            if prediction.attributions is not None:
                store_attributions(doc, prediction.attributions, self.attribution_extension)

    # --- explanations ------------------------------------------------------------------------

    def explain_docs(self, docs: Iterable[Doc]) -> None:
        """Annotate ``docs`` with token attributions too, whatever ``explain`` says.

        Sets ``token._.<attribution_extension>`` (and the doc's list and, with ``sentences``, each
        sentence's) towards the predicted label, by ``explain_method``: for docs that were
        annotated with ``explain = false`` (``korsent analyze --html`` explains only the rows it
        shows).
        """
        docs = list(docs)
        predictions = self.predict(docs)
        if not self.explain:
            predictions = self._attributed(docs, predictions)
        self.set_annotations(docs, predictions)

    def _attributed(self, docs: list[Doc], predictions: list[DocPrediction]) -> list[DocPrediction]:
        """The predictions with attributions towards each doc's and sentence's top label."""
        gradients = self.explain_method == "integrated_gradients"
        options = {"steps": self.explain_steps} if gradients else {}
        attributions = attribute_docs(
            self._ready(), docs, predictions, method=self.explain_method, **options
        )
        return [p._replace(attributions=a) for p, a in zip(predictions, attributions)]

    def _sentences(self, doc: Doc) -> list[Span]:
        if not self.sentences:
            return []
        if not doc.has_annotation("SENT_START"):
            raise ValueError(
                f"{self.name}: sentences=true needs sentence boundaries, and no earlier "
                f"component set them. Add one first, e.g. "
                f"nlp.add_pipe('sentencizer', before='{self.name}')."
            )
        return list(doc.sents)

    def _set(self, target: Doc | Span, probs: Optional[np.ndarray]) -> None:
        result = self.empty_result() if probs is None else self.make_result(probs)
        target._.set(stored_name(self.extension), result)
        if self.set_cats and probs is not None and isinstance(target, Doc):
            target.cats.update(zip(self.labels, map(float, probs)))

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Score ``doc.cats`` against gold cats, under keys prefixed with the extension name."""
        self._load_source()  # the labels
        return super().score(examples, **kwargs)

    # --- training: spaCy's trainable pipe protocol -------------------------------------------

    def initialize(
        self,
        get_examples: Optional[Callable[[], Iterable[Example]]] = None,
        *,
        nlp: Any = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        """Load the model and take the labels from the training examples' gold ``cats``.

        Labels (from ``labels``, else every cat in the examples) equal to the checkpoint's keep its
        classification head; other labels get a new head on the same encoder. Several gold labels
        at 1.0 in one doc make the component multi-label (a sigmoid per label). Without gold cats
        (``nlp.initialize()`` alone, or no examples) the checkpoint stays as it is.
        """
        examples: Callable[[], Iterable[Example]] = get_examples or list
        if get_examples is not None:
            validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        with loading.LOAD_LOCK:  # a pipeline initialised in one thread, used in another
            self._load_source()
            found, multi_sets = _scan_cats(examples())
            wanted = list(labels) if labels is not None else found
            if wanted:
                several = any(len(positive & set(wanted)) > 1 for positive in multi_sets)
                self._fit_labels(wanted, several)
            self._ready()

    def _fit_labels(self, wanted: list[str], several: bool) -> None:
        if len(set(wanted)) != len(wanted) or len(wanted) < 2:
            raise ValueError(
                f"{self.name}: a classifier needs at least two distinct labels, not {wanted}."
            )
        if several and self.multi_label_setting is False:
            raise ValueError(
                f"{self.name}: some training docs have several gold labels at 1.0, but "
                "multi_label=false; set multi_label=true or give each doc one label."
            )
        multi_label = several or self.multi_label or bool(self.multi_label_setting)
        if set(wanted) == set(self.labels):
            self._set_labels(list(self.labels), multi_label)
            self._module().config.problem_type = problem_type(multi_label)
            util.logger.info(
                "%s: the training labels are the checkpoint's (%s): keeping its head%s.",
                self.name, ", ".join(self.labels), ", multi-label" if multi_label else "",
            )  # fmt: skip
            return
        module = with_new_head(self._module(), wanted, multi_label=multi_label)
        util.logger.info(
            "%s: new %s head for the labels %s on the encoder of %s (checkpoint labels: %s).",
            self.name, "multi-label" if multi_label else "single-label", ", ".join(wanted),
            self.cfg["source"], ", ".join(self.labels),
        )  # fmt: skip
        self._set_labels(wanted, multi_label)
        self._use_module(module)
        self._weights_changed()

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[dict[str, float]] = None,
    ) -> dict[str, float]:
        """One gradient step on a batch: every window of every doc, the loss on their mean.

        ``drop`` is not used: the transformer applies its own dropout (``hidden_dropout_prob``).
        """
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        self._check_trainable()
        scores, backprop = self.forward_windows([eg.predicted for eg in examples], is_train=True)
        if scores is None:
            return losses
        loss, d_logits = self.get_loss(examples, scores)
        backprop(d_logits)
        if sgd not in (None, False):
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def forward_windows(
        self, docs: list[Doc], *, is_train: bool
    ) -> tuple[Optional[WindowScores], Callable[[np.ndarray], Any]]:
        """The Thinc model on every window of ``docs`` (None when no doc has a token)."""
        self._module()
        engine = self._engine
        assert engine is not None
        windows, owners = engine.split([doc.text for doc in docs])
        if not windows:
            return None, lambda d_logits: None
        inputs = engine.pad(windows)
        if is_train:
            logits, backprop = self.model.begin_update(inputs)
        else:
            logits, backprop = self.model.predict(inputs), lambda d_logits: None
        return WindowScores(
            self.model.ops.to_numpy(logits), owners, list(map(len, windows))
        ), backprop

    def get_loss(self, examples: Iterable[Example], scores: WindowScores) -> tuple[float, Any]:
        """Cross-entropy (binary per label when multi-label) on the docs' window-mean
        probabilities, and its gradient for the window logits (see :mod:`..training.loss`)."""
        truth, known = self.gold(list(examples))
        loss, d_logits = window_loss(
            scores.logits, scores.owners, scores.lengths, truth, known, multi_label=self.multi_label
        )
        return loss, self.model.ops.asarray2f(cast(Floats2d, d_logits))

    def gold(self, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        """Gold probabilities ``[docs, labels]`` from ``doc.cats``, and which of them are given."""
        truth = np.zeros((len(examples), len(self.labels)), dtype=np.float32)
        known = np.zeros(truth.shape, dtype=bool)
        for row, example in enumerate(examples):
            for column, label in enumerate(self.labels):
                value = example.reference.cats.get(label)
                if value is not None:
                    truth[row, column], known[row, column] = value, True
        return truth, known

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the gradients; an ONNX export of the old weights is then stale."""
        super().finish_update(sgd)
        self._weights_changed()

    def _check_trainable(self) -> None:
        if self.dtype != "float32":
            raise ValueError(
                f"{self.name}: dtype={self.dtype!r} is for inference; train in float32 "
                "(with mixed_precision=true on a GPU) and set dtype afterwards."
            )
        if uses_mixed_precision(self.model) and self._module().device.type != "cuda":
            raise ValueError(
                f"{self.name}: mixed_precision=true trains on a CUDA GPU; set it to false on CPU."
            )

    # --- model life cycle --------------------------------------------------------------------

    @property
    def engine(self) -> WindowClassifier:
        """The window engine (tokenizer, windows, backend), with the model loaded."""
        return self._ready()

    def _ready(self) -> WindowClassifier:
        """The engine with a backend for the current weights, built by the first thread to ask."""
        engine = self._engine
        if engine is None or engine.backend is None:
            with loading.LOAD_LOCK:
                self._load_source()
                engine = self._engine
                assert engine is not None
                if engine.backend is None:
                    engine.backend = self._make_backend()
        return engine

    def _load_source(self) -> None:
        """Tokenizer, config and labels of the model named in the config; weights stay on disk."""
        with loading.LOAD_LOCK:
            if self._engine is not None:
                return
            source = self.cfg["source"]
            tokenizer, config = loading.load_tokenizer(source), loading.load_config(source)
            labels = self.read_labels(config)
            multi_label = self.multi_label_setting
            if multi_label is None:
                multi_label = config.problem_type == problem_type(True)
            weights = loading.resolve_source(source)  # a saved pipeline stands for its model/
            self._install(tokenizer, config, labels, bool(multi_label), weights=weights)

    def _install(
        self, tokenizer: Any, config: Any, labels: list[str], multi_label: bool, *, weights: str
    ) -> None:
        limit = _position_limit(tokenizer, config)
        if self.max_length > limit:
            raise ValueError(
                f"{self.name}: max_length={self.max_length} is above the model's limit of {limit} "
                "tokens. Longer texts are split into windows anyway; lower max_length."
            )
        self._config = config
        self._weights, self._export = weights, None
        set_module(self.model, None, tokenizer)
        self._engine = WindowClassifier(
            tokenizer,
            None,
            max_length=self.max_length,
            stride=self.stride,
            truncate=self.truncate,
            batch_tokens=self.batch_tokens,
            multi_label=multi_label,
        )
        self._set_labels(labels, multi_label)

    def _module(self) -> Any:
        """The torch module, loaded from the weights on disk the first time it is needed."""
        module = get_module(self.model)
        if module is None:
            with loading.LOAD_LOCK:
                self._load_source()
                module = get_module(self.model)
                if module is None:
                    assert self._weights is not None
                    module = loading.load_model(self._weights, self._labelled_config())
                    self._use_module(module)
        return module

    def _labelled_config(self) -> Any:
        """The checkpoint's transformers config with this component's labels and problem type."""
        config = self._config
        config.id2label = dict(enumerate(self.labels))
        config.label2id = {label: index for index, label in enumerate(self.labels)}
        config.problem_type = problem_type(self.multi_label)
        return config

    def _use_module(self, module: Any) -> None:
        assert self._engine is not None
        module = module.to(loading.resolve_device(self.device))
        set_module(self.model, module, self._engine.tokenizer)
        if self.backend == "torch":  # the torch backend runs this module; an export does not
            self._engine.backend = None

    def _weights_changed(self) -> None:
        """The module in memory now differs from any weights on disk and any export."""
        self._weights = None
        self._export, self.cfg["onnx_quantized"] = None, None
        if self.backend == "onnx" and self._engine is not None:
            self._engine.backend = None

    def _make_backend(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        if self.backend == "onnx":
            from ..inference.onnx_backend import OnnxBackend
            from ..inference.onnx_export import export_onnx

            if self._export is None:
                self._export = export_onnx(
                    self._weights_on_disk(), self._scratch(ONNX_FILE), quantize=self.quantize
                )
                self.cfg["onnx_quantized"] = self.quantize
            if self.dtype == "bfloat16":  # ONNX Runtime has no bfloat16 kernels for x86 CPUs
                from ..inference.openvino_backend import OpenVinoBackend

                return OpenVinoBackend(self._export, n_threads=self.n_threads)
            return OnnxBackend(self._export, n_threads=self.n_threads)
        from ..inference.torch_backend import TorchBackend

        return TorchBackend(
            self._module(),
            loading.resolve_device(self.device),
            dtype=self.dtype,
            n_threads=self.n_threads,
        )

    def _weights_on_disk(self) -> str:
        """Where the current weights can be read: the source, or a scratch copy of the module."""
        if self._weights is None:
            scratch = self._scratch(MODEL_DIR)
            self.save_model(scratch)
            self._weights = str(scratch)
        return self._weights

    def _scratch(self, name: str) -> Path:
        """``name`` in this component's scratch directory, emptied of an earlier version.

        One directory per component (and process), removed with it: exports and weight copies made
        after each training step replace the last ones rather than pile up. A killed process's
        directory is removed by the next one that makes one (:mod:`spacy_korsent.scratch`).
        """
        if self._scratch_root is None or self._scratch_root[0] != os.getpid():
            root = scratch.make_directory()  # a worker process gets its own
            weakref.finalize(self, scratch.remove, root)
            self._scratch_root = (os.getpid(), root)
        path = self._scratch_root[1] / name
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
        return path

    # --- serialization -----------------------------------------------------------------------

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Labels and settings (``cfg``), the model as a Hugging Face directory (``model/``) and,
        on the ONNX backend, the export of the same weights (``model.onnx``)."""
        self._ready()
        # cfg says whether model.onnx is an export of these weights (none without one).
        self.cfg["onnx_quantized"] = self.quantize if self._export is not None else None
        writers = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            MODEL_DIR: self.save_model,
            ONNX_FILE: self._save_export,
        }
        util.to_disk(path, writers, exclude)

    def save_model(self, path: Path) -> None:
        """Write the model as a Hugging Face directory (weights, config with the labels,
        tokenizer) that transformers and the components load; weights on disk are copied."""
        assert self._engine is not None
        path.mkdir(parents=True, exist_ok=True)
        files = _weight_files(self._weights) if get_module(self.model) is None else []
        if files:
            for file in files:
                if file.resolve() != (path / file.name).resolve():
                    shutil.copyfile(file, path / file.name)
            self._labelled_config().save_pretrained(path)
            self._engine.tokenizer.save_pretrained(path)
        else:  # in memory, or not in a local directory (a hub id): written from the module
            loading.save_pretrained(self._engine.tokenizer, self._module(), path)

    def _save_export(self, path: Path) -> None:
        """The export of the saved weights; an older export in the directory is removed."""
        if self._export is None:
            path.unlink(missing_ok=True)
        elif self._export.resolve() != path.resolve():
            shutil.copyfile(self._export, path)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> KoreanClassifier:
        """Read what :meth:`to_disk` wrote: labels from ``cfg``, never from the original model."""
        path = Path(path)
        readers: dict[str, Callable[[Path], None]] = {
            "cfg": self._read_cfg,
            MODEL_DIR: self._read_model,
        }
        util.from_disk(path, readers, exclude)
        return self

    settings_in_cfg: tuple[str, ...] = ()
    """cfg keys that record a factory setting: on loading, the setting (the pipeline's config,
    perhaps overridden) wins over the value saved with the component."""

    def _read_cfg(self, path: Path) -> None:
        legacy = path.with_name("cfg.json")  # spacy-korsent 0.1 wrote cfg.json
        settings = {key: self.cfg[key] for key in self.settings_in_cfg}
        self.cfg.update(srsly.read_json(path if path.exists() or not legacy.exists() else legacy))
        self.cfg.update(settings)

    def _read_model(self, path: Path) -> None:
        with loading.LOAD_LOCK:
            tokenizer, config = loading.load_tokenizer(path), loading.load_config(path)
            if self.cfg["labels"]:
                labels, multi_label = list(self.cfg["labels"]), self.multi_label
            else:  # cfg excluded: the saved model's config names them too
                labels = self.read_labels(config)
                multi_label = config.problem_type == problem_type(True)
            self._install(tokenizer, config, labels, multi_label, weights=str(path))
            saved_export = path.with_name(ONNX_FILE)
            if self.backend == "torch":
                self._module()  # now: the directory may be gone by the first doc
            elif self.cfg.get("onnx_quantized") == self.quantize and saved_export.is_file():
                # The saved export fits (same quantization): use it; weights stay on disk.
                self._export = Path(shutil.copyfile(saved_export, self._scratch(ONNX_FILE)))
            else:
                self.cfg["onnx_quantized"] = None
            self._ready()

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            self.to_disk(tmp, exclude=exclude)
            return srsly.msgpack_dumps(pack_directory(Path(tmp)))

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = ()) -> KoreanClassifier:
        """Unpack into a directory that lives with the component (weights may be read later).

        The bytes are data: a file name in them that could lead out of that directory is refused
        (ValueError) before anything is written (see :mod:`spacy_korsent.files.packing`).
        """
        unpacked = self._scratch("unpacked")
        try:
            unpack_files(srsly.msgpack_loads(bytes_data), unpacked)
        except ValueError as err:
            raise ValueError(f"{self.name}: these bytes cannot be loaded: {err}") from None
        return self.from_disk(unpacked, exclude=exclude)


def make_component(
    cls: type[KoreanClassifier],
    nlp: Any,
    name: str,
    model: str,
    mixed_precision: bool,
    grad_scaler_config: dict,
    **settings: Any,
) -> Any:
    """A component of ``cls`` for the model ``model`` (hub id or directory), from a factory's
    settings; the mixed-precision settings go to its Thinc model."""
    thinc_model = classifier_model(
        mixed_precision=mixed_precision, grad_scaler_config=grad_scaler_config
    )
    return cls(nlp.vocab, thinc_model, name, source=model, **settings)


def _scan_cats(examples: Iterable[Example]) -> tuple[list[str], set[frozenset[str]]]:
    """One pass over the examples' gold cats (a training corpus is read from disk each pass).

    Returns every label in order of first appearance, and each set of two or more labels at 1.0
    that one doc has (the evidence of multi-label data).
    """
    seen: dict[str, None] = {}
    several: set[frozenset[str]] = set()
    for example in examples:
        cats = example.reference.cats
        for label, value in cats.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"gold cats must lie between 0 and 1; {label!r} is {value} in the doc "
                    f"{example.reference.text[:50]!r}."
                )
            seen[label] = None
        positive = frozenset(label for label, value in cats.items() if value >= 1.0)
        if len(positive) > 1:
            several.add(positive)
    return list(seen), several


def _weight_files(weights: Optional[str]) -> list[Path]:
    """The weight files of a local Hugging Face directory (none for a hub id or no directory)."""
    if not weights or not Path(weights).is_dir():
        return []
    return [file for pattern in WEIGHT_FILES for file in sorted(Path(weights).glob(pattern))]


def _position_limit(tokenizer: Any, config: Any) -> int:
    """The longest input the model takes, from its position embeddings and tokenizer settings."""
    limits = [getattr(config, "max_position_embeddings", None)]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if tokenizer_limit is not None and tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    return min(limit for limit in limits if limit) if any(limits) else 512
