"""One ``--overwrite`` for every command that writes a directory (train, distill, export,
calibrate): the same flag, the same refusals in the same words, and with it an earlier model is
replaced (none of its files outlive it) while a directory of other files never is."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from conftest import FIXTURES, TINY_MODEL

from spacy_korsent.cli import build_parser, main

NSMC = FIXTURES / "nsmc_train_600.txt"


def argv(command: str, output: Path, model: Path = TINY_MODEL) -> list[str]:
    """The command with everything but its output settled; it must check OUT before any work."""
    return {
        "train": ["train", str(NSMC), "--model", str(model), "--output", str(output)],
        "distill": [
            "distill", "--teacher", str(model), "--texts", str(NSMC), "--format", "tsv",
            "--text-column", "document", "--layers", "1", "-o", str(output),
        ],
        "export": ["export", str(model), str(output)],
        "calibrate": ["calibrate", "-m", str(model), "-i", str(NSMC), "-o", str(output)],
    }[command]  # fmt: skip


OPTIONS = {"train": "--output", "distill": "--output", "export": "OUTPUT", "calibrate": "-o"}


def test_every_command_that_writes_a_directory_has_the_same_overwrite() -> None:
    subparsers = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    helps = set()
    for command in OPTIONS:
        [flag] = [
            a for a in subparsers.choices[command]._actions if "--overwrite" in a.option_strings
        ]
        helps.add((flag.help, flag.default, flag.nargs))
    assert len(helps) == 1, helps


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_a_directory_of_other_files_is_refused_in_the_same_words_with_or_without_overwrite(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("keep me", encoding="utf-8")
    option = OPTIONS[command]

    assert main(argv(command, output)) == 2
    assert capsys.readouterr().err == (
        f"korsent {command}: error: {option} {output} is not empty; choose another {option} or "
        "add --overwrite.\n"
    )
    assert main([*argv(command, output), "--overwrite"]) == 2
    assert capsys.readouterr().err == (
        f"korsent {command}: error: {option} {output} holds files that are not a model, "
        f"pipeline or training run; --overwrite only replaces one of those. Choose another "
        f"{option}.\n"
    )
    assert [p.name for p in output.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_the_output_may_not_hold_the_model_the_command_reads(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(TINY_MODEL, runs / "model")
    assert main([*argv(command, runs, model=runs / "model"), "--overwrite"]) == 2
    assert capsys.readouterr().err.startswith(
        f"korsent {command}: error: {OPTIONS[command]} {runs} holds the "
    )
    assert (runs / "model" / "config.json").is_file()


def test_calibrate_replaces_an_earlier_model_with_overwrite_and_keeps_nothing_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = tmp_path / "labelled.tsv"
    rows = ["정말 재밌어요\t1", "최악이다\t0", "또 보고 싶다\t1", "시간 낭비\t0"] * 5
    texts.write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    output = tmp_path / "calibrated"
    command = ["calibrate", "-q", "-m", str(TINY_MODEL), "-i", str(texts), "-o", str(output)]
    assert main(command) == 0
    (output / "stale.bin").write_bytes(b"from an earlier model")
    assert main(command) == 2
    assert "add --overwrite" in capsys.readouterr().err
    assert main([*command, "--overwrite"]) == 0, capsys.readouterr().err
    assert not (output / "stale.bin").exists()
    report = json.loads((output / "calibration_report.json").read_text(encoding="utf-8"))
    assert report["file"] == str(texts) and (output / "config.json").is_file()


def test_export_replaces_an_earlier_pipeline_with_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What export writes is another test's; here a blank pipeline stands for it (no ONNX
    export, which takes most of a minute on a busy machine)."""
    import spacy_korsent.cli.export as export
    from spacy_korsent import blank_korean

    monkeypatch.setattr(export, "_new_pipeline", lambda *args: (blank_korean(), []))
    output = tmp_path / "onnx"
    output.mkdir()
    (output / "config.cfg").write_text("[nlp]\n", encoding="utf-8")  # an earlier pipeline
    (output / "stale.bin").write_bytes(b"from an earlier export")
    assert main(["export", str(TINY_MODEL), str(output)]) == 2
    assert main(["export", str(TINY_MODEL), str(output), "--overwrite"]) == 0
    capsys.readouterr()
    assert not (output / "stale.bin").exists()
    assert (output / "meta.json").is_file() and '[nlp]\nlang = "ko"' in (
        output / "config.cfg"
    ).read_text()
