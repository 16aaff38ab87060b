"""``korsent report``: from korsent analyze's real output, bad input (exit 2, one line), and the
page in headless Chromium (it renders, charts are drawn, nothing runs that should not)."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from browser import chromium, console_errors, screenshot
from conftest import FIXTURES

from spacy_korsent.cli import main
from spacy_korsent.taxonomy import EMOTIONS

NSMC = FIXTURES / "nsmc_test_2000.txt"
ATTACK = "<script>document.title='injected'</script><img src=x onerror=alert(1)>"


def analysed_rows(count: int = 400, seed: int = 0) -> list[dict]:
    """Rows shaped like korsent analyze -t both's output with the 60-emotion grouped model."""
    rng = random.Random(seed)
    texts = [line.split("\t")[1] for line in NSMC.read_text("utf-8").splitlines()[1 : count + 1]]
    rows = []
    for i, text in enumerate(texts):
        positive = rng.random()
        emotion = rng.choice(EMOTIONS)
        rows.append(
            {
                "id": f"n{i}",
                "text": text if i else ATTACK,
                "movie": ATTACK if i % 50 == 0 else rng.choice(["기생충", "괴물", "올드보이"]),
                "date": f"2024-{1 + i % 6:02d}-{1 + i % 28:02d}" if i % 40 else "언젠가",
                "sentiment": "positive" if positive >= 0.5 else "negative",
                "sentiment_score": max(positive, 1 - positive),
                "sentiment_negative": 1 - positive,
                "sentiment_positive": positive,
                "emotion": emotion.label,
                "emotion_score": rng.uniform(0.2, 0.9),
                "emotion_labels": [emotion.label],
                "emotion_group": emotion.group,
                "emotions_top": [{**emotion._asdict(), "score": 0.5}],
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["report", "-q", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_report_of_analyze_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    source = tmp_path / "reviews.tsv"
    source.write_text("".join(NSMC.read_text("utf-8").splitlines(True)[:41]), "utf-8")
    analysed = tmp_path / f"analysed{suffix}"
    assert main([
        "analyze", "-q", "-t", "both", "-i", str(source), "--text-column", "document",
        "--sentiment-model", str(FIXTURES / "nsmc-koelectra-tiny"),
        "--emotion-model", str(FIXTURES / "kote-koelectra-tiny"), "-o", str(analysed),
    ]) == 0  # fmt: skip
    assert "applies the calibration saved with" in capsys.readouterr().err  # KOTE's thresholds
    page = tmp_path / "report.html"
    code, err = report(
        capsys, "-i", str(analysed), "-o", str(page), "--text-column", "document",
        "--group-by", "label", "--min-count", "2",
    )  # fmt: skip
    assert (code, err) == (0, "")
    html = page.read_text("utf-8")
    assert "<h2>Sentiment</h2>" in html and "<h2>Emotion</h2>" in html
    assert "Predicted emotions (multi-label" in html  # KOTE predicts several
    assert "emotion_group is empty: the model has no groups." in html
    assert "<h2>By label</h2>" in html and html.count("<svg") >= 6
    assert ">6270596<" in html  # the id column is shown with the examples


def test_bad_input_ends_with_exit_2_and_one_line(tmp_path: Path) -> None:
    analysed = write_jsonl(tmp_path / "a.jsonl", analysed_rows(5))
    run = subprocess.run(
        [sys.executable, "-m", "spacy_korsent", "report", "-i", str(analysed), "-o",
         str(tmp_path / "r.html"), "--group-by", "product"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2 and not (tmp_path / "r.html").exists()
    assert run.stderr.count("\n") == 1
    assert (
        run.stderr.startswith("korsent report: error: ") and "'product' (--group-by)" in run.stderr
    )


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.jsonl", "", "no rows to report on"),
        ("empty.csv", "id,text,sentiment\n", "no rows to report on"),
        ("plain.txt", "좋다\n", "give the output of korsent analyze as .jsonl, .csv"),
        ("sheet.xlsx", "PK", "as an Excel workbook (.xlsx)"),
        ("sheet.xls", "PK", "save the sheet as .xlsx"),
        ("labels.csv", "text,label\n좋다,1\n", "no 'sentiment' or 'emotion' column"),
        ("scores.csv", "text,sentiment,sentiment_score\n좋다,positive,high\n", "not a probability"),
        ("lists.csv", "text,emotion,emotion_score,emotion_labels\n좋다,기쁨,0.5,[\n", "not a list"),
    ],
)
def test_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, "utf-8")
    code, err = report(capsys, "-i", str(path), "-o", str(tmp_path / "r.html"))
    assert code == 2 and message in err and err.count("\n") == 1


def test_output_that_is_the_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    analysed = write_jsonl(tmp_path / "a.jsonl", analysed_rows(5))
    code, err = report(capsys, "-i", str(analysed), "-o", str(analysed))
    assert code == 2 and "is the input file" in err
    assert analysed.read_text("utf-8").count("\n") == 5


def test_csv_repairs_are_reported_and_rows_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.csv"
    with path.open("w", encoding="cp949", newline="") as stream:  # Excel's CSV on Korean Windows
        writer = csv.writer(stream)
        writer.writerow(["id", "text", "sentiment", "sentiment_score"])
        writer.writerow(["1", "재밌다", "positive", "0.9"])
        writer.writerow(["2", "별로", "negative", "0.8", "extra"])
    page = tmp_path / "r.html"
    code, err = report(capsys, "-i", str(path), "-o", str(page))
    assert code == 0
    assert "read as CP949" in err
    assert "a.csv:3: 5 fields where the header has 4; kept" in err
    assert "<b>2</b>rows" in page.read_text("utf-8")


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def test_page_in_a_browser(browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    analysed = write_jsonl(tmp_path / "analysed.jsonl", analysed_rows())
    page = tmp_path / "report.html"
    code, _ = report(
        capsys, "-i", str(analysed), "-o", str(page), "--group-by", "movie",
        "--date-column", "date", "--title", "리뷰 보고서",
    )  # fmt: skip
    assert code == 0
    browser.get(page.as_uri())
    assert console_errors(browser) == []
    assert browser.title == "리뷰 보고서"  # the injected script did not run
    assert browser.execute_script("return document.querySelectorAll('script, img').length") == 0
    charts = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart')].map(s => {"
        "const r = s.getBoundingClientRect(); return [s.getAttribute('aria-label'), "
        "r.left + scrollX, r.top + scrollY, r.width, r.height, "
        "s.querySelectorAll('rect').length]})"
    )
    names = [chart[0] for chart in charts]
    for expected in (
        "sentiment labels", "sentiment score histogram", "emotion groups",
        "emotion score histogram", "sentiment by movie", "emotion group over time",
    ):  # fmt: skip
        assert expected in names

    png, image = screenshot(browser)
    (tmp_path / "report.png").write_bytes(png)
    print(f"screenshot: {tmp_path / 'report.png'}")
    for name, left, top, width, height, rects in charts:
        assert rects > 0 and width > 300 and height > 20, name
        box = image.crop((int(left), int(top), int(left + width), int(top + height)))
        coloured = sum(
            n
            for n, (r, g, b) in box.getcolors(maxcolors=1 << 20)
            if max(r, g, b) - min(r, g, b) > 60
        )
        assert coloured > 500, f"{name}: the chart is blank"
