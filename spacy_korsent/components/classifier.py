"""What the sentiment and emotion components share: model life cycle, streaming, serialization.

The model is loaded lazily (on ``nlp.initialize()`` or the first doc) so that ``spacy.load()`` of a
saved pipeline never touches the hub: ``from_disk`` supplies the weights before any doc arrives.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import srsly
from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import minibatch

from ..inference.engine import WindowClassifier
from ..inference.loading import load_pretrained, resolve_device, save_pretrained
from ..inference.torch_backend import check_dtype

Result = dict[str, Any]

MODEL_DIR = "model"
ONNX_FILE = "model.onnx"
CFG_FILE = "cfg.json"

SHARED_DEFAULTS: dict[str, Any] = {
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
}
"""Factory defaults common to both components (documented in the README's config reference)."""


class KoreanClassifier(Pipe):
    """Base of ``korean_sentiment`` and ``korean_emotion``; subclasses say how to read the model."""

    extension: str = ""
    """Name of the Doc/Span extension the component provides, e.g. ``sentiment``."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        model: str,
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
    ) -> None:
        if backend not in ("torch", "onnx"):
            raise ValueError(f"{name}: backend must be 'torch' or 'onnx', not {backend!r}.")
        if quantize and backend != "onnx":
            raise ValueError(f"{name}: quantize=true needs backend='onnx'.")
        check_dtype(dtype)
        if dtype != "float32" and backend != "torch":
            raise ValueError(
                f"{name}: dtype={dtype!r} needs backend='torch' (on CPU, backend='onnx' with "
                "quantize=true is faster still)."
            )
        self.vocab = nlp.vocab
        self.name = name
        self.model_name = model
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
        self._labels: list[str] = []
        self._tokenizer: Any = None
        self._model: Any = None
        self._onnx_path: Optional[Path] = None
        self._classifier: Optional[WindowClassifier] = None
        register_extension(self.extension)

    # --- what a subclass decides -------------------------------------------------------------

    def read_labels(self, model: Any) -> list[str]:
        """Output label names for the loaded model; raise if the model does not fit."""
        raise NotImplementedError

    def make_result(self, probs: np.ndarray) -> Result:
        """The plain-data extension value for one text's probabilities."""
        raise NotImplementedError

    def empty_result(self) -> Result:
        """The extension value for a text without tokens (empty, whitespace, control characters)."""
        raise NotImplementedError

    # --- spaCy's component API ---------------------------------------------------------------

    @property
    def labels(self) -> tuple[str, ...]:
        """Output labels in class order (empty until the model is loaded)."""
        return tuple(self._labels)

    @property
    def cfg(self) -> dict[str, Any]:
        """Settings that ``Pipe.score`` hands to the scorer."""
        positive = "positive" if "positive" in self.labels and len(self.labels) == 2 else None
        return {"labels": list(self.labels), "positive_label": positive}

    def initialize(
        self, get_examples: Optional[Callable[[], Iterable[Example]]] = None, *, nlp: Any = None
    ) -> None:
        """Load the model named in the config (a no-op when it is already loaded)."""
        self._ensure_loaded()

    def __call__(self, doc: Doc) -> Doc:
        self._annotate([doc])
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate docs in input order, bucketing ``max(batch_size, buffer_size)`` at a time."""
        for docs in minibatch(stream, size=max(batch_size, self.buffer_size)):
            self._annotate(docs)
            yield from docs

    def _annotate(self, docs: list[Doc]) -> None:
        targets: list[Doc | Span] = []
        texts: list[str] = []
        for doc in docs:
            text = doc.text  # built from the tokens on each access: once is enough
            if not text.strip():
                self._set(doc, None)
                continue
            targets.append(doc)
            texts.append(text)
            if self.sentences:
                if not doc.has_annotation("SENT_START"):
                    raise ValueError(
                        f"{self.name}: sentences=true needs sentence boundaries, and no earlier "
                        f"component set them. Add one first, e.g. "
                        f"nlp.add_pipe('sentencizer', before='{self.name}')."
                    )
                for sent in doc.sents:
                    targets.append(sent)
                    texts.append(sent.text)
        if not targets:
            return
        classifier = self._ensure_loaded()
        for target, probs in zip(targets, classifier.predict(texts)):
            self._set(target, probs)

    def _set(self, target: Doc | Span, probs: Optional[np.ndarray]) -> None:
        result = self.empty_result() if probs is None else self.make_result(probs)
        target._.set(_stored(self.extension), result)
        if self.set_cats and probs is not None and isinstance(target, Doc):
            target.cats.update(zip(self.labels, map(float, probs)))

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Score ``doc.cats`` against gold cats, under keys prefixed with the extension name."""
        self._ensure_loaded()
        return super().score(examples, **kwargs)

    # --- model life cycle --------------------------------------------------------------------

    def _ensure_loaded(self) -> WindowClassifier:
        if self._classifier is None:
            tokenizer, model = load_pretrained(self.model_name)
            self._install(tokenizer, model, self.read_labels(model), source=self.model_name)
        assert self._classifier is not None
        return self._classifier

    def _install(
        self, tokenizer: Any, model: Any, labels: list[str], *, source: str | Path
    ) -> None:
        limit = _position_limit(tokenizer, model)
        if self.max_length > limit:
            raise ValueError(
                f"{self.name}: max_length={self.max_length} is above the model's limit of {limit} "
                "tokens. Longer texts are split into windows anyway; lower max_length."
            )
        self._tokenizer, self._model, self._labels = tokenizer, model, labels
        self._classifier = WindowClassifier(
            tokenizer,
            self._make_backend(source),
            max_length=self.max_length,
            stride=self.stride,
            truncate=self.truncate,
            batch_tokens=self.batch_tokens,
        )

    def _make_backend(self, source: str | Path) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The configured backend; ``source``: where the model's weights are saved (for export)."""
        if self.backend == "onnx":
            from ..inference.onnx_backend import OnnxBackend
            from ..inference.onnx_export import export_onnx

            if self._onnx_path is None:
                self._onnx_path = export_onnx(source, self._scratch_file(), quantize=self.quantize)
            return OnnxBackend(self._onnx_path, n_threads=self.n_threads)
        from ..inference.torch_backend import TorchBackend

        return TorchBackend(
            self._model, resolve_device(self.device), dtype=self.dtype, n_threads=self.n_threads
        )

    # --- serialization -----------------------------------------------------------------------

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Store labels, weights, tokenizer (and the ONNX export) so the directory stands alone."""
        self._ensure_loaded()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        quantized = self.quantize if self._onnx_path is not None else None
        cfg = {"labels": self._labels, "source": self.model_name, "onnx_quantized": quantized}
        srsly.write_json(path / CFG_FILE, cfg)
        save_pretrained(self._tokenizer, self._model, path / MODEL_DIR)
        if self._onnx_path is not None:
            shutil.copyfile(self._onnx_path, path / ONNX_FILE)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> KoreanClassifier:
        path = Path(path)
        cfg = srsly.read_json(path / CFG_FILE)
        tokenizer, model = load_pretrained(path / MODEL_DIR)
        onnx_path = path / ONNX_FILE
        self._onnx_path = None
        # A saved export is reused only if it was quantized as this component's config asks.
        saved = cfg.get("onnx_quantized")
        if self.backend == "onnx" and saved == self.quantize and onnx_path.exists():
            self._onnx_path = Path(shutil.copyfile(onnx_path, self._scratch_file()))
        self._install(tokenizer, model, list(cfg["labels"]), source=path / MODEL_DIR)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            self.to_disk(tmp)
            files = {
                str(file.relative_to(tmp)): file.read_bytes()
                for file in Path(tmp).rglob("*")
                if file.is_file()
            }
        return srsly.msgpack_dumps(files)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = ()) -> KoreanClassifier:
        files: dict[str, bytes] = srsly.msgpack_loads(bytes_data)
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                target = Path(tmp) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return self.from_disk(tmp)

    def _scratch_file(self) -> Path:
        """A place for the ONNX export that lives as long as this component."""
        scratch = tempfile.mkdtemp(prefix="korsent-onnx-")
        weakref.finalize(self, shutil.rmtree, scratch, ignore_errors=True)
        return Path(scratch) / ONNX_FILE


def register_extension(name: str) -> None:
    """``Doc._.name`` / ``Span._.name``: a getter over plain data kept under ``_name``.

    The stored dict is what travels through ``DocBin(store_user_data=True)`` and worker processes;
    both hand lists back as tuples, so the getter rebuilds lists for a value that looks the same
    wherever the doc has been.
    """
    stored = _stored(name)
    for cls in (Doc, Span):
        if not cls.has_extension(name):
            cls.set_extension(stored, default=None)
            cls.set_extension(name, getter=lambda obj: _as_lists(obj._.get(stored)))


def _stored(name: str) -> str:
    return f"_{name}"


def _as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_lists(item) for item in value]
    return value


def _position_limit(tokenizer: Any, model: Any) -> int:
    """The longest input the model takes, from its position embeddings and tokenizer settings."""
    limits = [getattr(model.config, "max_position_embeddings", None)]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if tokenizer_limit is not None and tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    return min(limit for limit in limits if limit) if any(limits) else 512


def prefixed_cats_scorer(prefix: str) -> Callable[..., dict[str, Any]]:
    """A ``Scorer.score_cats`` for single-label cats whose keys start with ``prefix_``.

    The prefix keeps the sentiment and emotion scores apart when both components share a pipeline
    (both write ``doc.cats``; each scores only its own labels).
    """

    def score(examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        kwargs["multi_label"] = False
        scores = Scorer.score_cats(examples, "cats", **kwargs)
        return {prefix + key[len("cats") :]: value for key, value in scores.items()}

    return score
