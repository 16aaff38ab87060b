"""A calibration.json from outside (issue 28): every value of the wrong type or range, a file that
is not JSON, too deep or too large, is refused with one line naming the file and the field, by
the library (a ValueError, from a model directory or a component's bytes) and by the command
line (exit code 2), never a traceback from deep inside."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import srsly
from conftest import FIXTURES

from spacy_korsent import blank_korean
from spacy_korsent.calibration import CALIBRATION_FILE, MAX_FILE_BYTES
from spacy_korsent.cli import main

NSMC_MODEL = FIXTURES / "nsmc-koelectra-tiny"
KOTE_MODEL = FIXTURES / "kote-koelectra-tiny"

SENTIMENT_FILES = [  # (content, what the message names)
    ('{"temperature": "2"}', 'temperature must be a number between 0.05 and 20.0, not "2"'),
    ('{"temperature": NaN}', "temperature must be a number between 0.05 and 20.0, not NaN"),
    ('{"temperature": Infinity}', "temperature must be a number"),
    ('{"temperature": -1.5}', "temperature must be a number"),
    ('{"temperature": 0}', "temperature must be a number"),
    ('{"temperature": true}', "temperature must be a number"),
    ('{"neutral_band": {"a": 0.3, "b": 0.7}}', 'neutral_band must be .*not {"a": 0.3'),
    ('{"neutral_band": "ab"}', 'neutral_band must be .*not "ab"'),
    ('{"neutral_band": [0.3, 1.5]}', "neutral_band must be .*0 <= low <= 0.5 <= high <= 1"),
    ('{"neutral_band": [-0.1, 0.7]}', "neutral_band must be"),
    ('{"neutral_band": [0.7, 0.3]}', "neutral_band must be"),
    ('{"neutral_band": [0.3, 0.4, 0.7]}', "neutral_band must be"),
    ('{"neutral_band": [0.3, null]}', "neutral_band must be"),
    ('{"temperature": 1.2, "temperature": 2}', 'the key "temperature" appears twice'),
    ('{"temprature": 1.2}', "unknown keys \\['temprature'\\]"),
    ("[1]", "a calibration is a JSON object .*, not \\[1\\]"),
    ("[" * 100_000, "JSON nested too deeply"),
    ('{"temperature": 1.2', "not a calibration file \\(Expecting"),
    ('{"thresholds": {"positive": 0.3}}', "thresholds apply to multi-label emotion models"),
]
EMOTION_FILES = [
    ('{"thresholds": [1]}', "thresholds must be an object {label: number from 0 to 1}"),
    ('{"thresholds": "ab"}', "thresholds must be an object"),
    ('{"thresholds": {"기쁨": "0.3"}}', 'thresholds\\["기쁨"\\] must be a number from 0 to 1'),
    ('{"thresholds": {"기쁨": 1.5}}', 'thresholds\\["기쁨"\\] must be a number from 0 to 1'),
    ('{"thresholds": {"기쁨": NaN}}', 'thresholds\\["기쁨"\\] must be a number'),
    ('{"thresholds": {"기쁨": 0.3, "no such label": 0.3}}', "labels the model .* not have"),
    ('{"neutral_band": [0.3, 0.7]}', "neutral_band applies to two-class"),
]
CASES = [(NSMC_MODEL, "sentiment", *case) for case in SENTIMENT_FILES] + [
    (KOTE_MODEL, "emotion", *case) for case in EMOTION_FILES
]
IDS = [content[:40] for _, _, content, _ in CASES]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Copies of both test models, their calibration.json rewritten by each test."""
    root = tmp_path_factory.mktemp("models")
    return {model: shutil.copytree(model, root / model.name) for model in (NSMC_MODEL, KOTE_MODEL)}


def crafted(models, model, content: str | bytes):
    path = models[model]
    data = content.encode() if isinstance(content, str) else content
    (path / CALIBRATION_FILE).write_bytes(data)
    return path


@pytest.mark.parametrize("model, task, content, message", CASES, ids=IDS)
def test_the_library_refuses_a_crafted_file_naming_the_field(models, model, task, content, message):
    nlp = blank_korean()
    nlp.add_pipe(f"korean_{task}", config={"model": str(crafted(models, model, content))})
    with pytest.raises(ValueError, match=message) as refused:
        nlp("영화가 좋았다")  # the model, and its calibration, load with the first doc
    text = str(refused.value)
    assert "E109" not in text and "\n" not in text
    assert CALIBRATION_FILE in text or str(models[model]) in text  # the file, or the model


@pytest.mark.parametrize("model, task, content, message", CASES, ids=IDS)
def test_the_command_line_refuses_a_crafted_file_with_one_line(
    models, model, task, content, message, capsys
):
    path = crafted(models, model, content)
    code = main(["analyze", "-t", task, f"--{task}-model", str(path), "영화가 좋았다"])
    out, err = capsys.readouterr()
    assert code == 2 and not out
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("korsent analyze: error: ")
    assert re.search(message, err)


def test_a_file_too_large_or_not_utf8_is_refused(models):
    padded = '{"temperature": 1.2' + " " * MAX_FILE_BYTES + "}"
    for content, message in [(padded, "larger than 1,000,000 bytes"), (b"\xff\xfe{}", "utf-8")]:
        path = crafted(models, NSMC_MODEL, content)
        with pytest.raises(ValueError, match=message):
            blank_korean().add_pipe("korean_sentiment", config={"model": str(path)}).initialize()


def test_bytes_carrying_a_crafted_file_are_refused_the_same_way(models):
    """A component's bytes hold its model directory, calibration.json included."""
    nlp = blank_korean()
    nlp.add_pipe("korean_sentiment", config={"model": str(crafted(models, NSMC_MODEL, "{}"))})
    files = srsly.msgpack_loads(nlp.get_pipe("korean_sentiment").to_bytes())
    files[f"model/{CALIBRATION_FILE}"] = b'{"neutral_band": {"a": 0.3, "b": 0.7}}'
    fresh = blank_korean()
    fresh.add_pipe("korean_sentiment", config={"model": "/gone"})
    with pytest.raises(ValueError, match='neutral_band must be .*not {"a": 0.3') as refused:
        fresh.get_pipe("korean_sentiment").from_bytes(srsly.msgpack_dumps(files))
    assert "E109" not in str(refused.value)


def test_settings_are_checked_by_the_same_rules():
    """(spaCy refuses NaN and infinity in a config itself.)"""
    for settings, message in [
        ({"temperature": -2.0}, "temperature must be a number"),
        ({"neutral_band": [0.7, 0.3]}, "neutral_band must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            blank_korean().add_pipe(
                "korean_sentiment", config={"model": str(NSMC_MODEL), **settings}
            )
    with pytest.raises(ValueError, match='thresholds\\["기쁨"\\] must be a number from 0 to 1'):
        blank_korean().add_pipe(
            "korean_emotion", config={"model": str(KOTE_MODEL), "thresholds": {"기쁨": 2.0}}
        )


@pytest.mark.slow
def test_korsent_calibrate_exits_2_without_a_traceback(models, tmp_path):
    path = crafted(models, NSMC_MODEL, "[" * 100_000)
    data = FIXTURES / "nsmc_test_2000.txt"
    command = ["calibrate", "-m", path, "-i", data, "-o", tmp_path / "out"]
    done = subprocess.run(
        [sys.executable, "-m", "spacy_korsent", *command],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "calibration.json: not a calibration file (JSON nested too deeply)" in done.stderr
    assert not (tmp_path / "out").exists()
