"""An optional product that fails (the --html page, a --plot, a --json file) loses nothing else:
the rows are written, the product is named, and the run exits 3."""

from __future__ import annotations

import json

import pytest

import spacy_korsent.explain.report as page_module
from spacy_korsent.cli.products import PRODUCT_FAILED

TEXTS = ["정말 재미있어요", "돈이 아깝다", "", "그냥 그랬다", "배우들 연기가 최고"]


def broken(*args, **kwargs):
    raise RuntimeError("the renderer broke on purpose")


@pytest.fixture
def reviews(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS)
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_page_that_fails_while_rendering_keeps_every_row(
    analyze, monkeypatch, reviews, tmp_path, fmt
):
    monkeypatch.setattr(page_module, "doc_html", broken)
    out, html = tmp_path / f"out.{fmt}", tmp_path / "page.html"
    code, _, err = analyze("-i", reviews, "--batch-size", "2", "--html", html, "-o", out)
    assert code == PRODUCT_FAILED
    assert not html.exists()
    lines = [line for line in err.splitlines() if "--html page" in line]
    assert len(lines) == 1 and "the renderer broke on purpose" in lines[0], err
    assert "Traceback" not in err
    written = out.read_text(encoding="utf-8").splitlines()
    if fmt == "jsonl":
        rows = [json.loads(line) for line in written]
        assert [row["text"] for row in rows] == TEXTS
        assert all(row["sentiment"] for row in rows if row["text"])
    else:
        assert len(written) == 1 + len(TEXTS)


def test_a_page_that_cannot_be_written_keeps_every_row(analyze, monkeypatch, reviews, tmp_path):
    import spacy_korsent.cli.local_engine as engine

    def unwritable(report, path, source):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "write_page", unwritable)
    out = tmp_path / "out.jsonl"
    code, _, err = analyze("-i", reviews, "--html", tmp_path / "page.html", "-o", out)
    assert code == PRODUCT_FAILED and "No space left on device" in err
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(TEXTS)


def test_a_page_that_works_exits_0(analyze, reviews, tmp_path):
    code, _, err = analyze("-i", reviews, "--html", tmp_path / "p.html", "-o", tmp_path / "o.jsonl")
    assert code == 0, err
    assert (tmp_path / "p.html").read_text(encoding="utf-8").count("<article") == len(TEXTS)


def test_a_plot_that_fails_keeps_the_figures_and_the_json(capsys, monkeypatch, tmp_path):
    from conftest import TINY_MODEL

    import spacy_korsent.evaluation.plot as plot
    from spacy_korsent.cli import main

    monkeypatch.setattr(plot, "report_figure", broken)
    data = tmp_path / "labelled.tsv"
    data.write_text(
        "text\tlabel\n" + "".join(f"{t}\t{i % 2}\n" for i, t in enumerate(TEXTS) if t),
        encoding="utf-8",
    )
    metrics, figure = tmp_path / "metrics.json", tmp_path / "plot.png"
    code = main(
        [
            "evaluate",
            "-m",
            str(TINY_MODEL),
            str(data),
            "-q",
            "--json",
            str(metrics),
            "--plot",
            str(figure),
        ]
    )
    out, err = capsys.readouterr()
    assert code == PRODUCT_FAILED
    assert "accuracy" in out.lower() and json.loads(metrics.read_text())["accuracy"] >= 0
    assert not figure.exists()
    assert [line for line in err.splitlines() if "--plot" in line][0].count("broke on purpose") == 1
