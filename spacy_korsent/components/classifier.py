"""What the sentiment and emotion components share: a trainable spaCy pipe over a Hugging Face
sequence classifier.

The component follows spaCy's pipe protocol: ``predict`` / ``set_annotations`` (run under
``get_error_handler()`` by ``__call__`` and ``pipe``), ``initialize`` / ``update`` / ``get_loss`` /
``finish_update`` for ``spacy train``, ``cfg`` as a dict, and ``to_disk`` / ``from_disk`` through
``spacy.util`` with ``exclude``. Its Thinc model (:mod:`.model`) wraps the torch module for
training; predictions go through the window engine (:mod:`spacy_korsent.inference.engine`), which
runs the same module (or its ONNX export) with length bucketing and shard threads.

The model is loaded lazily, once, by whichever thread needs it first (``initialize``, the first
doc, ``to_disk``), stage by stage: the component's :class:`~.lifecycle.ModelLifecycle`
(``stages``) holds them. Settings are ``settings`` (:mod:`.settings`); the factories are built
from them (:mod:`.factories`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, cast

import numpy as np
import srsly
from spacy import util
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer
from thinc.types import Floats2d

from ..answers import AnswerKind, empty_answer
from ..calibration import Calibration
from ..explain.docs import (
    Attributions,
    attribute_docs,
    register_attribution_extension,
    store_attributions,
)
from ..files.labelled import binary_as_sentiment
from ..files.packing import check_limits, load_packed, pack_directory, unpack_files
from ..inference import loading
from ..inference.backends import backend_kind
from ..inference.engine import WindowClassifier
from ..inference.model_files import check_inside
from ..inference.row_quantization import PER_TOKEN
from .extensions import register_extension, stored_name
from .lifecycle import ModelLifecycle
from .loss import window_loss
from .model import problem_type, uses_mixed_precision, with_new_head
from .registry import CFG_FILE, EXPORT_FILE, LEGACY_CFG_FILE, MODEL_DIR
from .settings import ClassifierSettings

if TYPE_CHECKING:
    from .spec import ComponentSpec

Result = dict[str, Any]


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

    spec: ComponentSpec
    """The component's names, settings, defaults (see :mod:`.factories`)."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        source: str,
        settings: ClassifierSettings,
        scorer: Optional[Callable[..., dict[str, Any]]] = None,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.settings = settings
        self.scorer = scorer
        self.cfg: dict[str, Any] = {
            "labels": [],
            "positive_label": None,
            "multi_label": bool(settings.forced_multi_label),
            "source": source,
            "onnx_quantized": None,
            "int8_activations": None,
        }
        self.stages = ModelLifecycle(
            model, settings, name=name, source=source, adopt=self._adopt_labels
        )
        register_extension(self.spec.extension)
        register_attribution_extension(self.spec.attribution_extension)

    # --- what a subclass decides -------------------------------------------------------------

    def read_labels(self, config: Any) -> list[str]:
        """Output label names for a checkpoint's transformers config; raise if it does not fit."""
        raise NotImplementedError

    def make_result(self, probs: np.ndarray) -> Result:
        """The plain-data extension value for one text's probabilities: an answer of the
        component's :attr:`answer_kind`."""
        raise NotImplementedError

    @property
    def answer_kind(self) -> AnswerKind:
        """The kind of answer the component gives (:mod:`spacy_korsent.answers`)."""
        raise NotImplementedError

    def empty_result(self) -> Result:
        """The extension value for a text without tokens (empty, whitespace, control characters):
        the same for every kind of answer, so no model is loaded for it."""
        return empty_answer(self.spec.task)

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
        self.stages.set_labels(list(labels), multi_label)
        self.check_calibration(self.stages.calibration)  # also while the model is installed

    def _adopt_labels(self, config: Any) -> None:
        """Labels and activation of a model loaded from the source, read from its ``config``."""
        multi_label = self.settings.forced_multi_label
        if multi_label is None:
            multi_label = config.problem_type == problem_type(True)
        self._set_labels(self.read_labels(config), multi_label)

    # --- prediction: spaCy's pipe protocol ---------------------------------------------------

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Annotate docs in input order, bucketing ``max(batch_size, buffer_size)`` at a time."""
        return super().pipe(stream, batch_size=max(batch_size, self.settings.buffer_size))

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
            probs = iter(self._calibrated(self.stages.ready().predict(texts)))
            predictions = [
                DocPrediction(None, [])
                if count is None
                else DocPrediction(next(probs), [next(probs) for _ in range(count)])
                for count in sentence_counts
            ]
        return self._attributed(docs, predictions) if self.settings.explain else predictions

    @property
    def calibration(self) -> Calibration:
        """The temperature and decisions applied to the model's probabilities (see
        :mod:`spacy_korsent.calibration`): the settings' values, else the model directory's (read
        now if the model is not loaded yet)."""
        self.stages.loaded()
        return self.stages.calibration

    def _calibrated(self, probs: list[Optional[np.ndarray]]) -> Iterator[Optional[np.ndarray]]:
        """The probabilities at the calibration's temperature."""
        multi_label = self.multi_label
        for p in probs:
            yield None if p is None else self.calibration.scale(p, multi_label=multi_label)

    def check_calibration(self, calibration: Calibration) -> None:
        """Refuse a calibration that does not fit the model (a ValueError); a subclass passes on
        what it checked itself."""
        labels = ", ".join(self.labels)
        if calibration.thresholds is not None:
            raise ValueError(
                f"{self.name}: thresholds apply to multi-label emotion models; "
                f"{self.model_name!r} is a single-label model ({labels})."
            )
        if calibration.neutral_band is not None:
            raise ValueError(
                f"{self.name}: neutral_band applies to two-class negative/positive sentiment "
                f"models; {self.model_name!r} has the labels {labels}."
            )

    def set_annotations(self, docs: Iterable[Doc], scores: list[DocPrediction]) -> None:
        """Write the extension values (and ``doc.cats``) from :meth:`predict`'s probabilities."""
        for doc, prediction in zip(docs, scores):
            self._set(doc, prediction.doc)
            if prediction.sentences:
                for sent, probs in zip(doc.sents, prediction.sentences):
                    self._set(sent, probs)
            if prediction.attributions is not None:
                store_attributions(doc, prediction.attributions, self.spec.attribution_extension)

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
        if not self.settings.explain:
            predictions = self._attributed(docs, predictions)
        self.set_annotations(docs, predictions)

    def _attributed(self, docs: list[Doc], predictions: list[DocPrediction]) -> list[DocPrediction]:
        """The predictions with attributions towards each doc's and sentence's top label."""
        method = self.settings.explain_method
        options = {"steps": self.settings.explain_steps} if method == "integrated_gradients" else {}
        attributions = attribute_docs(
            self.stages.ready(), docs, predictions, method=method, **options
        )
        return [p._replace(attributions=a) for p, a in zip(predictions, attributions)]

    def _sentences(self, doc: Doc) -> list[Span]:
        if not self.settings.sentences:
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
        target._.set(stored_name(self.spec.extension), result)
        if self.settings.set_cats and probs is not None and isinstance(target, Doc):
            target.cats.update(self.cats(probs, result))

    def cats(self, probs: np.ndarray, result: Result) -> dict[str, float]:
        """What ``doc.cats`` gets: each label's probability."""
        return dict(zip(self.labels, map(float, probs)))

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Score ``doc.cats`` against gold cats, under keys prefixed with the extension name."""
        self.stages.loaded()  # the labels
        if self.cfg.get("gold_names"):  # gold 0/1 read as negative/positive (see initialize)
            examples = [self._renamed(example) for example in examples]
        return super().score(examples, **{**self.scoring_options(), **kwargs})

    def scoring_options(self) -> dict[str, Any]:
        """What the scorer needs besides ``cfg`` to score the decisions the component makes."""
        return {}

    def _renamed(self, example: Example) -> Example:
        reference = example.reference.copy()
        reference.cats = self._gold_cats(example)
        return Example(example.predicted, reference)

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
        classification head; other labels get a new head on the same encoder. Gold cats ``0``/``1``
        (or ``LABEL_0``/``LABEL_1``, as ``korsent convert`` writes 0/1 labels) on a
        negative/positive checkpoint are its negative/positive, as ``korsent evaluate`` reads
        them: the head is kept. Several gold labels at 1.0 in one doc make the component
        multi-label (a sigmoid per label). Without gold cats (``nlp.initialize()`` alone, or no
        examples) the checkpoint stays as it is.
        """
        examples: Callable[[], Iterable[Example]] = get_examples or list
        if get_examples is not None:
            validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        with self.stages.locked():  # a pipeline initialised in one thread, used in another
            self.stages.loaded()
            found, multi_sets = _scan_cats(examples())
            wanted = list(labels) if labels is not None else found
            if wanted:
                several = any(len(positive & set(wanted)) > 1 for positive in multi_sets)
                wanted = self._read_gold_names(wanted)
                self._fit_labels(wanted, several)
            self.stages.ready()

    def _read_gold_names(self, wanted: list[str]) -> list[str]:
        """The classes that gold cats named ``wanted`` stand for; how to read them is kept in
        ``cfg["gold_names"]`` (class: gold cat) for :meth:`gold` and :meth:`score`."""
        aliases = binary_as_sentiment(wanted, self.labels) or {}
        self.cfg["gold_names"] = {name: value for value, name in aliases.items()}
        if aliases:
            util.logger.info(
                "%s: the gold labels %s are read as %s, the classes of %s (1 = positive, as "
                "korsent evaluate reads them).",
                self.name, ", ".join(aliases), ", ".join(aliases.values()), self.cfg["source"],
            )  # fmt: skip
        return [aliases.get(value, value) for value in wanted]

    def _fit_labels(self, wanted: list[str], several: bool) -> None:
        if len(set(wanted)) != len(wanted) or len(wanted) < 2:
            raise ValueError(
                f"{self.name}: a classifier needs at least two distinct labels, not {wanted}."
            )
        if several and self.settings.forced_multi_label is False:
            raise ValueError(
                f"{self.name}: some training docs have several gold labels at 1.0, but "
                "multi_label=false; set multi_label=true or give each doc one label."
            )
        multi_label = several or self.multi_label or bool(self.settings.forced_multi_label)
        if set(wanted) == set(self.labels):
            self.stages.module()
            self._set_labels(list(self.labels), multi_label)
            util.logger.info(
                "%s: the training labels are the checkpoint's (%s): keeping its head%s.",
                self.name, ", ".join(self.labels), ", multi-label" if multi_label else "",
            )  # fmt: skip
            return
        module = with_new_head(self.stages.module(), wanted, multi_label=multi_label)
        util.logger.info(
            "%s: new %s head for the labels %s on the encoder of %s (checkpoint labels: %s).",
            self.name, "multi-label" if multi_label else "single-label", ", ".join(wanted),
            self.cfg["source"], ", ".join(self.labels),
        )  # fmt: skip
        self.stages.replace_module(module)  # first: a saved calibration is for the old head
        self._set_labels(wanted, multi_label)

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
        self.stages.module()
        engine = self.stages.loaded()
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
        probabilities, and its gradient for the window logits (see :mod:`.loss`)."""
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
            cats = self._gold_cats(example)
            for column, label in enumerate(self.labels):
                value = cats.get(label)
                if value is not None:
                    truth[row, column], known[row, column] = value, True
        return truth, known

    def _gold_cats(self, example: Example) -> dict[str, float]:
        """The example's gold cats under the component's class names (see :meth:`initialize`)."""
        cats = example.reference.cats
        names = self.cfg.get("gold_names") or {}
        renamed = {name: cats[value] for name, value in names.items() if value in cats}
        return {**cats, **renamed} if renamed else dict(cats)

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the gradients; an ONNX export of the old weights is then stale."""
        super().finish_update(sgd)
        self.stages.invalidate()

    def _check_trainable(self) -> None:
        backend = self.settings.backend
        if backend_kind(backend).dtype != "float32":
            raise ValueError(
                f"{self.name}: backend={backend!r} is for inference; train in float32 "
                "(backend='torch', with mixed_precision=true on a GPU) and switch afterwards."
            )
        if uses_mixed_precision(self.model) and self.stages.module().device.type != "cuda":
            raise ValueError(
                f"{self.name}: mixed_precision=true trains on a CUDA GPU; set it to false on CPU."
            )

    # --- the model --------------------------------------------------------------------------

    @property
    def engine(self) -> WindowClassifier:
        """The window engine (tokenizer, windows, backend), with the model loaded."""
        return self.stages.ready()

    def save_model(self, path: Path) -> None:
        """Write the model as a Hugging Face directory (weights, config with the labels,
        tokenizer) that transformers and the components load."""
        self.stages.save_model(path)

    # --- serialization -----------------------------------------------------------------------

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Labels and settings (``cfg``), the model as a Hugging Face directory (``model/``) and,
        on the ONNX backends, the export of the same weights (``model.onnx``)."""
        self.stages.ready()
        export = self.stages.saved_export
        # cfg says whether model.onnx is an export of these weights, int8 or not (none without).
        self.cfg["onnx_quantized"] = None if export is None else export[1]
        self.cfg["int8_activations"] = PER_TOKEN if export is not None and export[1] else None
        writers = {
            CFG_FILE: lambda p: srsly.write_json(p, self.cfg),
            MODEL_DIR: self.save_model,
            EXPORT_FILE: self._save_export,
        }
        util.to_disk(path, writers, exclude)

    def _save_export(self, path: Path) -> None:
        """The export of the saved weights; an older export in the directory is removed."""
        export = self.stages.saved_export
        if export is None:
            path.unlink(missing_ok=True)
        elif export[0].resolve() != path.resolve():
            shutil.copyfile(export[0], path)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> KoreanClassifier:
        """Read what :meth:`to_disk` wrote: labels from ``cfg``, never from the original model.

        Its entries may not be links that lead out of ``path`` (nor may the model's files lead out
        of ``model/``: :mod:`~spacy_korsent.inference.model_files`).
        """
        path = Path(path)
        root = Path(os.path.realpath(path))
        for name in (CFG_FILE, LEGACY_CFG_FILE, MODEL_DIR, EXPORT_FILE):
            check_inside(path / name, root, path, f"{name} (a link)")
        readers: dict[str, Callable[[Path], None]] = {
            CFG_FILE: self._read_cfg,
            MODEL_DIR: self._read_model,
        }
        util.from_disk(path, readers, exclude)
        return self

    settings_in_cfg: tuple[str, ...] = ()
    """cfg keys that record a factory setting: on loading, the setting (the pipeline's config,
    perhaps overridden) wins over the value saved with the component."""

    def _read_cfg(self, path: Path) -> None:
        """Take the saved ``cfg``, checked field by field (:class:`~.settings.SavedCfg`)."""
        legacy = path.with_name(LEGACY_CFG_FILE)
        settings = {key: self.cfg[key] for key in self.settings_in_cfg}
        source = path if path.exists() or not legacy.exists() else legacy
        try:
            saved = self.spec.saved_cfg.checked(srsly.read_json(source))
        except (ValueError, RecursionError) as err:
            reason = "nested too deeply" if isinstance(err, RecursionError) else err
            raise ValueError(
                f"{self.name}: the saved {source.name} cannot be used: {reason}"
            ) from None
        self.cfg.update(saved)
        self.cfg.update(settings)

    def _read_model(self, path: Path) -> None:
        stages = self.stages
        with stages.locked():
            tokenizer, config = loading.load_tokenizer(path), loading.load_config(path)
            if self.cfg["labels"]:
                labels, multi_label = list(self.cfg["labels"]), self.multi_label
                if len(labels) != config.num_labels:
                    raise ValueError(
                        f"{self.name}: the saved cfg names {len(labels)} labels, but the saved "
                        f"model has {config.num_labels} classes: they were not saved together."
                    )
            else:  # cfg excluded: the saved model's config names them too
                labels = self.read_labels(config)
                multi_label = config.problem_type == problem_type(True)
            stages.install(tokenizer, config, weights=str(path))
            self._set_labels(labels, multi_label)
            wanted = backend_kind(self.settings.backend).export
            saved_export = path.with_name(EXPORT_FILE)
            saved_int8 = self.cfg.get("onnx_quantized")
            if wanted is None:
                stages.module()  # now: the directory may be gone by the first doc
            elif (
                saved_int8 == (wanted == "int8")
                and saved_export.is_file()
                and (not saved_int8 or self.cfg.get("int8_activations") == PER_TOKEN)
            ):
                # The saved export fits (same quantization): use it; weights stay on disk. An
                # int8 export quantized per batch (before 0.5) is not: answers would move with
                # a text's neighbours.
                stages.use_saved_export(saved_export, int8=bool(saved_int8))
            stages.ready()

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            self.to_disk(tmp, exclude=exclude)
            return srsly.msgpack_dumps(pack_directory(Path(tmp)))

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = ()) -> KoreanClassifier:
        """Unpack into a directory that lives with the component (weights may be read later).

        The bytes are data: bytes that are not msgpack, a file name in them that could lead out of
        that directory, more files or a larger file than :mod:`spacy_korsent.files.packing`
        allows are refused (ValueError) before anything is written.
        """
        unpacked = self.stages.scratch("unpacked")
        weights = (*(f"{MODEL_DIR}/{pattern}" for pattern in loading.WEIGHT_SHARDS), EXPORT_FILE)
        try:
            files = load_packed(bytes_data)
            check_limits(files, large=weights)
            unpack_files(files, unpacked)
        except ValueError as err:
            raise ValueError(f"{self.name}: these bytes cannot be loaded: {err}") from None
        return self.from_disk(unpacked, exclude=exclude)


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
