"""The components behave like any spaCy component: config files, composition, evaluation."""

import subprocess
import sys

import pytest
from spacy.training import Example
from spacy.util import load_model_from_config
from thinc.api import Config

CONFIG = """
[nlp]
lang = "ko"
pipeline = ["sentencizer", "korean_sentiment", "korean_emotion"]

[nlp.tokenizer]
@tokenizers = "spacy.Tokenizer.v1"

[components]

[components.sentencizer]
factory = "sentencizer"

[components.korean_sentiment]
factory = "korean_sentiment"
model = "{sentiment}"
sentences = true
max_length = 64

[components.korean_emotion]
factory = "korean_emotion"
model = "{emotion}"
top_k = 4
set_cats = false
"""


def test_pipeline_from_a_config_string(sentiment_model_dir, emotion_model_dir):
    text = CONFIG.format(sentiment=sentiment_model_dir, emotion=emotion_model_dir)
    nlp = load_model_from_config(Config().from_str(text), auto_fill=True)
    nlp.initialize()
    doc = nlp("배우들 연기가 좋았다. 그런데 결말은 별로였다!")
    assert [s.text for s in doc.sents] == ["배우들 연기가 좋았다.", "그런데 결말은 별로였다!"]
    assert all(s._.sentiment["label"] in ("negative", "positive") for s in doc.sents)
    assert len(doc._.emotions["top"]) == 4
    assert set(doc.cats) == {"negative", "positive"}  # the emotion component was told not to
    assert nlp.config["components"]["korean_sentiment"]["max_length"] == 64


def test_composes_with_other_components(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir)}))
    nlp.add_pipe("sentencizer", first=True)
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "WORK", "pattern": "기생충"}])
    doc = nlp("기생충 정말 대단한 영화다. 또 보고 싶다.")
    assert [e.text for e in doc.ents] == ["기생충"]
    assert doc._.sentiment["label"] in ("negative", "positive")
    assert len(list(doc.sents)) == 2


def test_evaluate_reports_both_components_apart(make_nlp, sentiment_model_dir, emotion_model_dir):
    nlp = make_nlp(
        ("korean_sentiment", {"model": str(sentiment_model_dir)}),
        ("korean_emotion", {"model": str(emotion_model_dir)}),
    )
    gold = [
        ("재밌다", "positive", "기쁨"),
        ("별로다", "negative", "분노"),
        ("지루해", "negative", "슬픔"),
    ]
    emotions = nlp.get_pipe("korean_emotion")
    emotions.initialize()
    examples = []
    for text, sentiment, emotion in gold:
        cats = {"negative": 0.0, "positive": 0.0, sentiment: 1.0}
        cats.update({label: float(label == emotion) for label in emotions.labels})
        examples.append(Example.from_dict(nlp.make_doc(text), {"cats": cats}))
    scores = nlp.evaluate(examples)
    hits = sum(nlp(t)._.sentiment["label"] == s for t, s, _ in gold)
    # sentiment_score is the F1 of "positive"; micro-F over single-label cats equals accuracy.
    assert scores["sentiment_micro_f"] == pytest.approx(hits / len(gold))
    assert 0.0 <= scores["sentiment_score"] <= 1.0
    assert set(scores["sentiment_f_per_type"]) == {"negative", "positive"}
    assert len(scores["emotion_f_per_type"]) == 60


def test_factories_resolve_through_entry_points_without_an_import():
    code = (
        "import spacy; nlp = spacy.blank('ko', config={'nlp': {'tokenizer': "
        "{'@tokenizers': 'spacy.Tokenizer.v1'}}}); "
        "nlp.add_pipe('korean_sentiment'); nlp.add_pipe('korean_emotion'); print(nlp.pipe_names)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "['korean_sentiment', 'korean_emotion']" in out.stdout


def test_importing_the_package_loads_neither_torch_nor_transformers():
    code = (
        "import sys, spacy_korsent; "
        "print(sorted(m for m in ('torch', 'transformers', 'spacy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_explicit_cpu_device(make_nlp, sentiment_model_dir):
    nlp = make_nlp(("korean_sentiment", {"model": str(sentiment_model_dir), "device": "cpu"}))
    assert nlp("재밌다")._.sentiment["label"] in ("negative", "positive")
