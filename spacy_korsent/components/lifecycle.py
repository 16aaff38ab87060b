"""The model behind one classifier component, loaded stage by stage, once, by whichever thread
needs it first.

The stages: the **source** (a hub id or directory, nothing loaded), **loaded** (tokenizer,
transformers config and labels: the window engine without a backend), the torch **module** (in
the component's Thinc model; the torch backend, training and saving need it), an ONNX **export**
of the current weights (the ONNX and OpenVINO backends) and the **backend** that runs one of them.
Each is made on first use under :data:`~spacy_korsent.inference.loading.LOAD_LOCK`; when training
changes the weights, :meth:`ModelLifecycle.invalidate` drops what no longer matches them.

``spacy.load()`` of a saved pipeline never touches the hub: the saved ``model/`` directory is
installed as the source. On an ONNX backend the torch weights stay on disk until something needs
them (training, or saving weights that are not on disk yet).
"""

from __future__ import annotations

import os
import shutil
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional

from thinc.api import Model

from .. import scratch
from ..calibration import Calibration
from ..inference import loading
from ..inference.backends import backend_kind, open_backend
from ..inference.engine import WindowClassifier
from .model import get_module, problem_type, set_module
from .registry import EXPORT_FILE, MODEL_DIR, resolve_model
from .settings import ClassifierSettings


class ModelLifecycle:
    """Source, loaded, module, export and backend of one component's model."""

    def __init__(
        self,
        thinc_model: Model,
        settings: ClassifierSettings,
        *,
        name: str,
        source: str,
        adopt: Callable[[Any], None],
    ) -> None:
        """``adopt(config)`` is called with the transformers config of a model as it is loaded
        from the source (not from a saved component), to set the labels from it."""
        self.thinc_model = thinc_model
        self.settings = settings
        self.name = name
        self.source = source
        self._adopt = adopt
        self._engine: Optional[WindowClassifier] = None
        self._config: Any = None
        self._multi_label = False
        self._weights: Optional[str] = None
        """Where the current weights are on disk (None when only the module in memory has them)."""
        self._export: Optional[tuple[Path, bool]] = None
        """An ONNX export of the current weights, and whether it is int8."""
        self._backend: Any = None
        self._scratch: Optional[tuple[int, Path]] = None  # (process id, directory)
        self.calibration = Calibration()
        """What the component applies to the probabilities: the settings' values, else those
        saved in the model directory (``calibration.json``), else none."""

    # --- the stages ------------------------------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        return self._engine is not None

    def loaded(self) -> WindowClassifier:
        """The engine (tokenizer, windows) without running anything: weights stay on disk."""
        engine = self._engine
        if engine is None:
            with self.locked():
                if self._engine is None:
                    where = resolve_model(self.source)  # a saved pipeline stands for its model/
                    tokenizer, config = loading.load_tokenizer(where), loading.load_config(where)
                    self.install(tokenizer, config, weights=where, adopt=True)
                engine = self._engine
        assert engine is not None
        return engine

    def ready(self) -> WindowClassifier:
        """The engine with a backend for the current weights."""
        engine = self._engine
        if engine is None or self._backend is None:
            with self.locked():
                engine = self.loaded()
                if self._backend is None:
                    self._backend = engine.backend = open_backend(
                        self.settings.backend,
                        self,
                        device=self.device,
                        n_threads=self.settings.n_threads,
                    )
        return engine

    def module(self) -> Any:
        """The torch module, loaded from the weights on disk the first time it is needed."""
        module = get_module(self.thinc_model)
        if module is None:
            with self.locked():
                self.loaded()
                module = get_module(self.thinc_model)
                if module is None:
                    assert self._weights is not None
                    module = loading.load_model(self._weights, self._config)
                    self._place(module)
        return module

    def export(self, *, int8: bool) -> Path:
        """An ONNX export of the current weights: from the export cache, else made now in a
        child process (:mod:`~spacy_korsent.inference.export_cache`). Weights that exist only
        as a scratch copy of the module (changed by training) are exported without the cache."""
        from ..inference import export_cache, onnx_export

        with self.locked():
            if self._export is None or self._export[1] != int8:
                weights, target = self._weights_on_disk(), self.scratch(EXPORT_FILE)
                if export_cache.enabled() and not self._weights_copied():
                    path = export_cache.cached_export(weights, target, int8=int8)
                else:
                    path = onnx_export.export_onnx(weights, target, quantize=int8)
                self._export = (path, int8)
            return self._export[0]

    def device(self) -> Any:
        return loading.resolve_device(self.settings.device)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the process's loading lock (for a change that spans several stages)."""
        with loading.LOAD_LOCK:
            yield

    # --- changes ---------------------------------------------------------------------------------

    def install(self, tokenizer: Any, config: Any, *, weights: str, adopt: bool = False) -> None:
        """Take a loaded tokenizer and config, with the weights in ``weights`` (not loaded yet).

        ``adopt``: let the component read its labels from ``config`` before the engine is used.
        """
        limit = _position_limit(tokenizer, config)
        settings = self.settings
        if settings.max_length > limit:
            raise ValueError(
                f"{self.name}: max_length={settings.max_length} is above the model's limit of "
                f"{limit} tokens. Longer texts are split into windows anyway; lower max_length."
            )
        self.calibration = Calibration.read(weights).overridden(settings.calibration_values())
        self._config = config
        self._weights, self._export, self._backend = weights, None, None
        set_module(self.thinc_model, None, tokenizer)
        if adopt:
            self._adopt(config)
        engine = WindowClassifier(
            tokenizer,
            None,
            max_length=settings.max_length,
            stride=settings.stride,
            truncate=settings.truncate,
            batch_tokens=settings.batch_tokens,
            multi_label=self._multi_label,
        )
        self._engine = engine  # published last: other threads see a finished engine

    def set_labels(self, labels: list[str], multi_label: bool) -> None:
        """Name the model's outputs (in its config, which is saved with it) and their activation."""
        config = self._config
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: index for index, label in enumerate(labels)}
        config.problem_type = problem_type(multi_label)
        self._multi_label = multi_label
        module = get_module(self.thinc_model)
        if module is not None:
            module.config.problem_type = problem_type(multi_label)
        if self._engine is not None:
            self._engine.multi_label = multi_label

    def replace_module(self, module: Any) -> None:
        """Use a new torch module (a new head): everything made from the old one is stale."""
        self._place(module)
        self._backend = None
        self.invalidate()

    def invalidate(self) -> None:
        """The module's weights changed: the weights on disk and any export no longer match, nor
        does a backend that runs an export (the torch backend runs the module itself), nor a
        calibration fitted on the old weights (the settings' values stay)."""
        self._weights = self._export = None
        self.calibration = Calibration().overridden(self.settings.calibration_values())
        if backend_kind(self.settings.backend).export is not None:
            self._backend = None

    def use_saved_export(self, path: Path, *, int8: bool) -> None:
        """Run a saved export of the installed weights (copied: the directory may go away)."""
        self._export = (Path(shutil.copyfile(path, self.scratch(EXPORT_FILE))), int8)

    def _place(self, module: Any) -> None:
        set_module(self.thinc_model, module.to(self.device()), self.loaded().tokenizer)

    # --- saving ----------------------------------------------------------------------------------

    @property
    def saved_export(self) -> Optional[tuple[Path, bool]]:
        """The export of the current weights and whether it is int8 (None without one)."""
        return self._export

    def save_model(self, path: Path) -> None:
        """Write the model as a Hugging Face directory (weights, config with the labels,
        tokenizer, and the calibration in use) that transformers and the components load;
        weights on disk are copied."""
        engine = self.loaded()
        path.mkdir(parents=True, exist_ok=True)
        in_memory = get_module(self.thinc_model) is not None
        files = [] if in_memory else _weight_files(self._weights)
        if files:
            for file in files:
                if file.resolve() != (path / file.name).resolve():
                    shutil.copyfile(file, path / file.name)
            self._config.save_pretrained(path)
            engine.tokenizer.save_pretrained(path)
        else:  # in memory, or not in a local directory (a hub id): written from the module
            loading.save_pretrained(engine.tokenizer, self.module(), path)
        self.calibration.write(path)

    def _weights_on_disk(self) -> str:
        """Where the current weights can be read: the source, or a scratch copy of the module."""
        if self._weights is None:
            scratch = self.scratch(MODEL_DIR)
            self.save_model(scratch)
            self._weights = str(scratch)
        return self._weights

    def _weights_copied(self) -> bool:
        """Whether the weights on disk are this component's scratch copy of the module."""
        return self._scratch is not None and self._weights == str(self._scratch[1] / MODEL_DIR)

    def scratch(self, name: str) -> Path:
        """``name`` in this component's scratch directory, emptied of an earlier version.

        One directory per component (and process), removed with it: exports and weight copies made
        after each training step replace the last ones rather than pile up. A killed process's
        directory is removed by the next one that makes one (:mod:`spacy_korsent.scratch`).
        """
        if self._scratch is None or self._scratch[0] != os.getpid():
            root = scratch.make_directory()  # a worker process gets its own
            weakref.finalize(self, scratch.remove, root)
            self._scratch = (os.getpid(), root)
        path = self._scratch[1] / name
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
        return path


def _weight_files(weights: Optional[str]) -> list[Path]:
    """The weight files of a local Hugging Face directory (none for a hub id or no directory)."""
    if not weights or not Path(weights).is_dir():
        return []
    return loading.weight_files(Path(weights))


def _position_limit(tokenizer: Any, config: Any) -> int:
    """The longest input the model takes, from its position embeddings and tokenizer settings."""
    limits = [getattr(config, "max_position_embeddings", None)]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if tokenizer_limit is not None and tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    return min(limit for limit in limits if limit) if any(limits) else 512
