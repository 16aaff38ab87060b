"""Models and pipelines the tests build locally: nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FIXTURES = Path(__file__).parent / "fixtures"
KOELECTRA_VOCAB = FIXTURES / "koelectra-v1-vocab.txt"
KLUE_VOCAB = FIXTURES / "klue-bert-base-vocab.txt"


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
