"""Settings are defined once: the registrations, factories' defaults and the docs' table follow from
them, and the spellings of earlier versions still load, with a FutureWarning."""

import configparser
import importlib
import warnings

import pytest
import spacy
from conftest import ROOT, docs_hooks
from spacy.language import Language
from spacy.util import registry
from thinc.api import ConfigValidationError

from spacy_korsent import blank_korean
from spacy_korsent.components import registry as components
from spacy_korsent.components.factories import markdown_table

COMPONENTS_PAGE = ROOT / "docs" / "components.md"

SHARED_DEFAULTS = {
    "labels": None,
    "max_length": 128,
    "stride": 32,
    "truncate": False,
    "batch_tokens": 1024,
    "buffer_size": 1024,
    "device": None,
    "backend": "torch",
    "n_threads": None,
    "sentences": False,
    "set_cats": True,
    "mixed_precision": False,
    "grad_scaler_config": {},
    "explain": False,
    "explain_method": "occlusion",
    "explain_steps": 32,
    "temperature": None,
}


def import_registrations() -> None:
    """Import the modules that register our names, as spaCy's entry points do."""
    components.specs()
    for module in ("components.sentencizer", "components.tokenizer", "training.batching"):
        importlib.import_module(f"spacy_korsent.{module}")


def test_registered_names_are_pinned():
    """Renaming a registered function breaks every config that names it."""
    factories = {"korean_sentiment", "korean_emotion", "korean_sentencizer"}
    scorers = {"spacy_korsent.sentiment_scorer.v1", "spacy_korsent.emotion_scorer.v1"}
    import_registrations()
    ours = {name for name in Language.factories if name.startswith("korean_")}
    assert ours == factories
    assert {name for name in registry.scorers.get_all() if "korsent" in name} == scorers
    assert {name for name in registry.batchers.get_all() if "korsent" in name} == {
        "spacy_korsent.batch_by_length.v1"
    }
    assert {name for name in registry.tokenizers.get_all() if "korsent" in name} == {
        "spacy_korsent.KoreanTokenizer.v1"
    }
    assert set(components.CLASSIFIERS) == {"korean_sentiment", "korean_emotion"}


def test_entry_points_declare_the_registered_names():
    """A config file names them before anything of ours is imported: spaCy finds them through the
    package's entry points."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    points = config["options.entry_points"]
    declared = {
        group: {line.split("=")[0].strip() for line in points[group].strip().splitlines()}
        for group in points
    }
    import_registrations()
    registered = {
        "spacy_factories": {name for name in Language.factories if name.startswith("korean_")},
        **{
            f"spacy_{kind}": {
                name for name in getattr(registry, kind).get_all() if "korsent" in name
            }
            for kind in ("tokenizers", "batchers", "scorers")
        },
    }
    assert declared.pop("console_scripts") == {"korsent"}
    assert declared == registered


def test_factory_default_configs_are_pinned():
    nlp = blank_korean()
    sentiment = nlp.get_factory_meta("korean_sentiment").default_config
    assert sentiment == {
        "model": "cringepnh/koelectra-korean-sentiment",
        "neutral_band": None,
        **SHARED_DEFAULTS,
        "scorer": {"@scorers": "spacy_korsent.sentiment_scorer.v1"},
    }
    emotion = nlp.get_factory_meta("korean_emotion").default_config
    assert emotion == {
        "model": "hun3359/klue-bert-base-sentiment",
        "top_k": 3,
        "threshold": None,
        "multi_label": None,
        "thresholds": None,
        "groups": None,
        **SHARED_DEFAULTS,
        "scorer": {"@scorers": "spacy_korsent.emotion_scorer.v1"},
    }
    assert nlp.get_factory_meta("korean_sentiment").default_score_weights == {
        "sentiment_score": 1.0
    }
    assert nlp.get_factory_meta("korean_emotion").assigns == [
        "doc._.emotions",
        "span._.emotions",
        "doc.cats",
    ]


def test_the_docs_settings_table_is_the_definition():
    """docs/components.md holds a marker that the MkDocs hook replaces with markdown_table() when
    the site is built: the table is never typed by hand."""
    page = COMPONENTS_PAGE.read_text(encoding="utf-8")
    assert page.count("<!-- korsent:settings -->") == 1
    assert "| option | default | meaning |" not in page
    built = docs_hooks().on_page_markdown(page)
    table = markdown_table(components.specs())
    assert table in built and "<!-- korsent:settings -->" not in built
    names = {field for spec in components.specs() for field in spec.default_config()}
    assert all(f"| `{name}`" in table for name in names), names


def test_config_validation_uses_the_settings_types(sentiment_model_dir):
    nlp = blank_korean()
    with pytest.raises(ConfigValidationError, match="max_length"):
        nlp.add_pipe("korean_sentiment", config={"max_length": "long"})
    with pytest.raises(ConfigValidationError, match="no_such_setting"):
        nlp.add_pipe("korean_sentiment", config={"no_such_setting": 1})


@pytest.mark.parametrize(
    "old, new",
    [
        ({"backend": "onnx", "quantize": True}, "onnx-int8"),
        ({"backend": "onnx", "dtype": "bfloat16"}, "openvino-bfloat16"),
        ({"backend": "openvino", "dtype": "bfloat16"}, "openvino-bfloat16"),
        ({"backend": "torch", "dtype": "bfloat16"}, "torch-bfloat16"),
        ({"backend": "torch", "dtype": "float16"}, "torch-float16"),
        ({"backend": "onnx-int8", "dtype": "float32"}, "onnx-int8"),
        ({"backend": "torch-bfloat16", "dtype": "float32"}, "torch-bfloat16"),  # a 0.2 pipeline
        ({"backend": "torch-bfloat16", "dtype": "bfloat16"}, "torch-bfloat16"),  # overridden
        ({"backend": "torch", "quantize": False}, "torch"),
    ],
)
def test_old_spellings_are_translated_with_a_warning(old, new, sentiment_model_dir):
    nlp = blank_korean()
    with pytest.warns(FutureWarning, match="spelling of spacy-korsent 0.2"):
        component = nlp.add_pipe(
            "korean_sentiment", config={"model": str(sentiment_model_dir), **old}
        )
    assert component.settings.backend == new


@pytest.mark.parametrize(
    "saved, new",
    [
        ({"backend": "onnx", "quantize": True}, "onnx-int8"),  # an int8 pipeline
        ({"backend": "torch", "dtype": "float32"}, "torch"),  # every pipeline saved by 0.2
    ],
)
def test_an_old_saved_config_still_loads(saved, new, sentiment_model_dir, tmp_path):
    """A config.cfg as spacy-korsent 0.2 wrote it loads, warns, and gives the same answers."""
    reference = blank_korean()
    reference.add_pipe("korean_sentiment", config={"model": str(sentiment_model_dir)})
    config = reference.config.copy()
    config["components"]["korean_sentiment"].update(saved)
    config.to_disk(tmp_path / "config.cfg")
    written = (tmp_path / "config.cfg").read_text(encoding="utf-8")
    assert all(f"{key} = " in written for key in saved)
    with pytest.warns(FutureWarning, match="spelling of spacy-korsent 0.2"):
        nlp = spacy.util.load_model_from_config(
            spacy.util.load_config(tmp_path / "config.cfg"), auto_fill=True
        )
    assert nlp.get_pipe("korean_sentiment").settings.backend == new
    text = "배우들 연기가 정말 좋았어요"
    assert nlp(text).cats == pytest.approx(reference(text).cats, abs=0.02)


def test_the_new_spelling_loads_without_a_warning(sentiment_model_dir, tmp_path):
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(sentiment_model_dir)})
    nlp.to_disk(tmp_path / "pipeline")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("korean_sentiment").settings.backend == "torch"
