"""Models and pipelines the tests build locally: nothing is downloaded."""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).parent.parent
"""The repository root."""
FIXTURES = ROOT / "tests" / "fixtures"
KOELECTRA_VOCAB = FIXTURES / "koelectra-v1-vocab.txt"
KLUE_VOCAB = FIXTURES / "klue-bert-base-vocab.txt"
TINY_MODEL = FIXTURES / "nsmc-koelectra-tiny"
"""The committed tiny sentiment model (see docs/training.md)."""

Analyze = Callable[..., tuple[int, str, str]]


@functools.cache
def docs_hooks() -> ModuleType:
    """``docs/hooks.py``: the MkDocs hooks that write the docs' generated parts (a file, not a
    package, as MkDocs loads it)."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_model_dir(
    path: Path,
    *,
    arch: str,
    num_labels: int,
    id2label: Optional[dict[int, str]] = None,
    seed: int = 0,
) -> Path:
    """Save a tiny random sequence classifier of a real architecture with a real vocabulary.

    ``arch`` is "electra" (KoELECTRA v1 vocabulary) or "bert" (klue/bert-base vocabulary).
    """
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
        ElectraConfig,
        ElectraForSequenceClassification,
        ElectraTokenizerFast,
    )

    torch.manual_seed(seed)
    labels = id2label or {i: f"LABEL_{i}" for i in range(num_labels)}
    sizes = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=num_labels,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    if arch == "electra":
        tokenizer = ElectraTokenizerFast(
            vocab_file=str(KOELECTRA_VOCAB), do_lower_case=False, strip_accents=False,
            tokenize_chinese_chars=True, model_max_length=512,
        )  # fmt: skip
        config = ElectraConfig(vocab_size=tokenizer.vocab_size, embedding_size=32, **sizes)
        model = ElectraForSequenceClassification(config)
    else:
        tokenizer = BertTokenizerFast(
            vocab_file=str(KLUE_VOCAB), do_lower_case=False, model_max_length=512
        )
        config = BertConfig(vocab_size=tokenizer.vocab_size, **sizes)
        model = BertForSequenceClassification(config)
    model.eval()
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def export_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ONNX export cache of this test session (never the user's): tests that export the same
    model on the same backend share one entry. Set in the environment, so that child processes
    (the exporter, ``korsent`` in a subprocess, workers) use it too."""
    from spacy_korsent.inference.export_cache import CACHE_ENV

    path = tmp_path_factory.mktemp("export-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(path))
        patch.delenv("SPACY_KORSENT_NO_CACHE", raising=False)
        yield path


@pytest.fixture(scope="session")
def sentiment_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-class Electra with the KoELECTRA v1 vocabulary and LABEL_0/LABEL_1 names."""
    return build_model_dir(tmp_path_factory.mktemp("electra"), arch="electra", num_labels=2)


@pytest.fixture(scope="session")
def emotion_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 60-class BERT with the klue/bert-base vocabulary and the taxonomy's names."""
    from spacy_korsent.taxonomy import LABELS

    return build_model_dir(
        tmp_path_factory.mktemp("bert"),
        arch="bert",
        num_labels=60,
        id2label=dict(enumerate(LABELS)),
    )


@pytest.fixture
def make_nlp() -> Callable[..., object]:
    """Build a MeCab-free Korean pipeline with the given components and configs."""
    from spacy_korsent import blank_korean

    def make(*components: tuple[str, dict]) -> object:
        nlp = blank_korean()
        for factory, config in components:
            nlp.add_pipe(factory, config=config)
        return nlp

    return make


@pytest.fixture(scope="session")
def tiny_pipeline() -> Any:
    """The pipeline ``korsent analyze --sentiment-model MODEL`` builds, built once."""
    from spacy_korsent.cli import build_parser
    from spacy_korsent.cli.common import pipeline_options
    from spacy_korsent.components.pipeline import build_pipeline
    from spacy_korsent.components.registry import SENTIMENT

    args = build_parser().parse_args(["analyze", "--sentiment-model", str(TINY_MODEL)])
    return build_pipeline({SENTIMENT: str(TINY_MODEL)}, pipeline_options(args))


@pytest.fixture
def analyze(tiny_pipeline: Any, monkeypatch: pytest.MonkeyPatch, capsys) -> Analyze:
    """Run ``korsent analyze --sentiment-model MODEL -q ARGS``: (exit code, stdout, stderr).

    The command's pipeline builder hands out the pipeline built once (for the sentiment model
    only, without --sentences, which is all these tests ask for), and its parser is built once.
    """
    import spacy_korsent.cli as cli
    import spacy_korsent.cli.analysis as analysis_steps
    from spacy_korsent.cli import build_parser, main
    from spacy_korsent.components.registry import SENTIMENT

    def cached(models: dict, args: Any, *, sentences: bool = False, note: Any = None) -> Any:
        assert models == {SENTIMENT: str(TINY_MODEL)} and not sentences
        return tiny_pipeline

    monkeypatch.setattr(analysis_steps, "build_pipeline", cached)
    monkeypatch.setattr(cli, "build_parser", functools.cache(build_parser))  # one parser is enough

    def run(*argv: object) -> tuple[int, str, str]:
        code = main(["analyze", "--sentiment-model", str(TINY_MODEL), "-q", *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run
