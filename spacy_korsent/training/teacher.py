"""The teacher's answers for distillation: probabilities from its spaCy component, cached on disk.

The teacher runs as a user runs it: a pipeline with ``korean_sentiment`` or ``korean_emotion``
(a saved pipeline is loaded as saved, with whatever it keeps beside the weights), on the backend
asked for, and its probabilities are read from ``doc.cats``. Labelling is the slow part of a
distillation (a base-sized model classifies a few dozen texts a second on a small CPU), so it is
done once: the labels of each chunk of :data:`CHUNK` texts are written as soon as they are done,
in a folder for the teacher's identity (its files and settings), named by the chunk's texts. A
later run with the same teacher reads back every chunk it finds (an interrupted run resumes;
texts added at the end of a file cost only their own chunks) and labels the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..components.registry import CLASSIFIERS, EMOTION, SENTIMENT
from ..inference.loading import ModelNotFoundError, load_config, resolve_source
from ..user_cache import cache_dir

if TYPE_CHECKING:
    from spacy.language import Language

    from ..components.classifier import KoreanClassifier

CHUNK = 1024
"""Texts per cached chunk: what an interrupted labelling run loses at most."""


def default_cache() -> Path:
    """Where teacher labels are kept unless told: ``distill/`` in the package's cache directory
    (:func:`spacy_korsent.user_cache.cache_dir`), beside the ONNX exports."""
    return cache_dir() / "distill"


@dataclass(frozen=True)
class TeacherSpec:
    """Which teacher, and how it runs: what the cached labels depend on."""

    source: str
    """A hub id, a model directory or a saved pipeline."""
    backend: str = "torch"
    max_length: int = 128
    device: str | None = None
    component: str | None = None
    """The component to use in a saved pipeline that has several."""


def teacher_pipeline(spec: TeacherSpec, *, buffer_size: int = 1024) -> Language:
    """A pipeline with the teacher's component alone, loaded, on ``spec.backend``.

    A saved pipeline (a directory with ``config.cfg``) is loaded with ``spacy.load`` so that what
    it saved with its component applies; otherwise the component is added to a blank Korean
    pipeline for the model, ``korean_sentiment`` for two classes and ``korean_emotion`` else.
    """
    settings = {
        "backend": spec.backend,
        "max_length": spec.max_length,
        "device": spec.device,
        "buffer_size": buffer_size,
        "set_cats": True,
        "sentences": False,
        "explain": False,
    }
    path = Path(spec.source).expanduser()
    if (path / "config.cfg").is_file():
        return _saved_pipeline(path, spec.component, settings)
    from spacy_korsent import blank_korean

    config = load_config(spec.source)
    factory = SENTIMENT if config.num_labels == 2 else EMOTION
    nlp = blank_korean()
    nlp.max_length = sys.maxsize
    nlp.add_pipe(factory, config={"model": resolve_source(spec.source), **settings})
    nlp.initialize()
    return nlp


def _saved_pipeline(path: Path, component: str | None, settings: dict[str, Any]) -> Language:
    import spacy
    from spacy.util import load_config as load_spacy_config

    blocks = load_spacy_config(path / "config.cfg").get("components", {})
    names = [name for name, block in blocks.items() if block.get("factory") in CLASSIFIERS]
    if component is not None and component not in names:
        raise ModelNotFoundError(
            f"{path} has no component {component!r} of {' or '.join(CLASSIFIERS)}; it has "
            f"{', '.join(names) or 'none'}."
        )
    if component is None and len(names) != 1:
        raise ModelNotFoundError(
            f"{path} has {len(names)} classifier components ({', '.join(names) or 'none'}): "
            "name the teacher's with the component option (--teacher-component)."
        )
    name = component or names[0]
    overrides = {f"components.{name}.{key}": value for key, value in settings.items()}
    nlp = spacy.load(path, exclude=[other for other in blocks if other != name], config=overrides)
    nlp.max_length = sys.maxsize
    return nlp


def model_source(spec: TeacherSpec) -> str:
    """The Hugging Face model (directory or hub id) behind the teacher: in a saved pipeline, the
    chosen component's ``model/``."""
    path = Path(spec.source).expanduser()
    if spec.component is not None and (path / "config.cfg").is_file():
        folder = path / spec.component / "model"
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} has no saved model for the component {spec.component!r} ({folder})."
            )
        return str(folder)
    return resolve_source(spec.source)


def classifier(nlp: Language) -> KoreanClassifier:
    """The teacher's component in a pipeline made by :func:`teacher_pipeline`."""
    from ..components.classifier import KoreanClassifier

    found = [pipe for _, pipe in nlp.pipeline if isinstance(pipe, KoreanClassifier)]
    assert len(found) == 1, "the teacher's pipeline holds one classifier"
    return found[0]


def teacher_identity(spec: TeacherSpec) -> dict[str, Any]:
    """What makes two teachers give the same labels: their files' digests and the settings.

    A local directory (model or pipeline) is identified by the content of its files, so a model
    retrained in place gets new labels; a hub id by the revision in the Hugging Face cache.
    """
    path = Path(spec.source).expanduser()
    where: dict[str, Any]
    if path.is_dir():
        digest = hashlib.blake2b(digest_size=16)
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            with file.open("rb") as stream:
                while block := stream.read(1 << 22):
                    digest.update(block)
        where = {"files": digest.hexdigest()}
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec.source, "config.json")
        revision = Path(cached).parent.name if isinstance(cached, str) else None
        where = {"hub": spec.source, "revision": revision}
    return {**where, **spec.__dict__, "source": None, "format": 1}  # the files, not the path


def texts_digest(texts: Sequence[str]) -> str:
    """A digest of the texts in order."""
    digest = hashlib.blake2b(digest_size=16)
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


@dataclass
class TeacherLabels:
    """The teacher's probabilities for each text (NaN rows: texts without subword tokens)."""

    probs: np.ndarray
    labels: list[str]
    multi_label: bool
    threshold: float | None
    """The score from which a multi-label teacher predicts a label (None for single-label)."""
    cache: Path
    reused: int
    """Texts whose labels were read from the cache rather than computed."""


def label_texts(
    spec: TeacherSpec,
    texts: Sequence[str],
    cache_root: Path,
    *,
    quiet: bool = True,
    nlp: Language | None = None,
) -> TeacherLabels:
    """The teacher's probabilities for ``texts``, computed once and cached under ``cache_root``.

    Each chunk of :data:`CHUNK` texts is written atomically when done, so an interrupted run
    (Ctrl-C, a killed process) resumes with the chunks that are missing.
    """
    from tqdm import tqdm

    identity = json.dumps(teacher_identity(spec), sort_keys=True).encode()
    folder = cache_root / hashlib.blake2b(identity, digest_size=16).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [texts[start : start + CHUNK] for start in range(0, len(texts), CHUNK)]
    paths = [folder / f"probs-{texts_digest(chunk)}.npy" for chunk in chunks]
    missing = [i for i, path in enumerate(paths) if not path.is_file()]
    meta_path = folder / "teacher.json"
    if missing or not meta_path.is_file():
        nlp = nlp or teacher_pipeline(spec)
        pipe = classifier(nlp)
        meta = {
            "labels": list(pipe.labels),
            "multi_label": pipe.multi_label,
            "threshold": pipe.cfg.get("threshold") if pipe.multi_label else None,
            "teacher": spec.source,
        }
        _atomic_write(meta_path, json.dumps(meta, ensure_ascii=False, indent=2).encode())
        bar = tqdm(
            total=len(missing) * CHUNK,
            desc="teacher labels",
            unit="doc",
            file=sys.stderr,
            disable=quiet or not sys.stderr.isatty(),
            dynamic_ncols=True,
        )
        with bar:
            for index in missing:
                probs = _probabilities(nlp, chunks[index], list(pipe.labels))
                _atomic_write(paths[index], _npy_bytes(probs))
                bar.update(len(chunks[index]))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    parts = [np.load(path) for path in paths]
    n_labels = len(meta["labels"])
    probs = np.concatenate(parts) if parts else np.zeros((0, n_labels), dtype=np.float32)
    return TeacherLabels(
        probs=probs,
        labels=list(meta["labels"]),
        multi_label=bool(meta["multi_label"]),
        threshold=meta["threshold"],
        cache=folder,
        reused=sum(len(chunks[i]) for i in range(len(chunks)) if i not in set(missing)),
    )


def predict(nlp: Language, texts: Sequence[str]) -> np.ndarray:
    """Probabilities in the order of the component's labels (NaN rows for texts without tokens)."""
    return _probabilities(nlp, texts, list(classifier(nlp).labels))


def _probabilities(nlp: Language, texts: Sequence[str], labels: list[str]) -> np.ndarray:
    out = np.full((len(texts), len(labels)), np.nan, dtype=np.float32)
    with nlp.memory_zone():
        for row, doc in enumerate(nlp.pipe(texts)):
            if doc.cats:
                out[row] = [doc.cats[label] for label in labels]
    return out


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
