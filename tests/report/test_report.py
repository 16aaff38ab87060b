"""The corpus report's counting on small made-up rows: labels, histogram bins, groups, dates,
distinctive words, examples, what the file lacks, and escaping on the page."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from spacy_korsent.files.readers import InputError, Record
from spacy_korsent.report import Corpus, Settings, find_columns, render_report
from spacy_korsent.report.dates import bucket_label, bucket_size, bucket_start, parse_date
from spacy_korsent.report.words import WordTable, stem, words


def sentiment_row(label: str, score: float, text: str = "", **more: Any) -> dict:
    other = 1 - score
    probs = {"negative": score if label == "negative" else other}
    probs["positive"] = 1 - probs["negative"]
    return {
        "text": text,
        "sentiment": label,
        "sentiment_score": score,
        **{f"sentiment_{k}": v for k, v in probs.items()},
        **more,
    }


def corpus_of(rows: list[dict], settings: Settings | None = None, **options: Any) -> Corpus:
    columns = find_columns(rows[0], "rows.jsonl", text="text", **options)
    return Corpus(columns, "rows.jsonl", settings or Settings()).add_all(
        Record(line, row) for line, row in enumerate(rows, start=1)
    )


def test_labels_and_histogram_bins() -> None:
    rows = [
        sentiment_row("positive", 0.5),
        sentiment_row("positive", 0.55),
        sentiment_row("negative", 0.97),
        sentiment_row("negative", 1.0),
        {"text": "", "sentiment": None, "sentiment_score": None},
    ]
    stats = corpus_of(rows).tasks["sentiment"]
    assert stats.labels == {"positive": 2, "negative": 2}
    assert stats.without == 1
    positive, negative = stats.histograms["positive"], stats.histograms["negative"]
    assert len(positive) == 20 and sum(positive) == 2 and sum(negative) == 2
    assert positive[10] == 1 and positive[11] == 1  # [0.50, 0.55) and [0.55, 0.60)
    assert negative[19] == 2  # 0.97 and 1.0 (the last bin holds 1.0)


def test_csv_strings_and_json_lists_are_read_like_jsonl_values() -> None:
    row = {
        "text": "좋다",
        "emotion": "기쁨",
        "emotion_score": "0.8",
        "emotion_labels": json.dumps(["기쁨", "감동/감탄"], ensure_ascii=False),
        "emotion_group": "",
    }
    corpus = corpus_of([row, {**row, "emotion_labels": ["기쁨"], "emotion_score": 0.4}])
    assert corpus.tasks["emotion"].labels == {"기쁨": 2}
    assert corpus.predicted == {"기쁨": 2, "감동/감탄": 1}
    assert corpus.predicted_sizes == {2: 1, 1: 1}
    assert not corpus.emotion_groups  # empty cells: a model without groups


def test_group_breakdown_and_its_cap() -> None:
    rows = [
        sentiment_row("positive", 0.9, movie="A"),
        sentiment_row("negative", 0.9, movie="A"),
        sentiment_row("positive", 0.8, movie="B"),
        sentiment_row("positive", 0.8, movie=""),
        sentiment_row("negative", 0.8, movie="C"),
        sentiment_row("negative", 0.8, movie="D"),
        sentiment_row("negative", 0.8, movie="A"),
    ]
    corpus = corpus_of(rows, Settings(max_groups=3), group="movie")
    groups = corpus.groups
    assert set(groups) == {"A", "B", "(none)", "(other)"}
    assert groups["A"].rows == 3 and groups["A"].labels("sentiment") == {
        "positive": 1,
        "negative": 2,
    }
    assert groups["(other)"].rows == 2 and corpus.lumped_rows == 2  # C and D came too late


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024-03-05T23:10:00+09:00", date(2024, 3, 5)),
        ("2024-03-05 14:05:00.123Z", date(2024, 3, 5)),
        ("2024.03.05", date(2024, 3, 5)),
        ("2024.3.5.", date(2024, 3, 5)),
        ("2024/3/5", date(2024, 3, 5)),
        ("24.03.05", date(2024, 3, 5)),
        ("99.12.31", date(1999, 12, 31)),
        ("20240305", date(2024, 3, 5)),
        ("2024년 3월 5일", date(2024, 3, 5)),
        ("45356", date(2024, 3, 5)),  # Excel's serial number
        ("45356.75", date(2024, 3, 5)),
        ("2024-02-30", None),
        ("yesterday", None),
        ("12345", None),
    ],
)
def test_dates(value: str, expected: date | None) -> None:
    assert parse_date(value) == expected


def test_buckets_follow_the_span() -> None:
    days = [date(2024, 1, 1), date(2024, 3, 1)]
    assert bucket_size(days) == "day"
    assert bucket_size([date(2023, 1, 1), date(2024, 6, 1)]) == "week"
    assert bucket_size([date(2015, 1, 1), date(2024, 6, 1)]) == "month"
    assert bucket_start(date(2024, 3, 7), "week") == date(2024, 3, 4)  # a Monday
    assert bucket_label(bucket_start(date(2024, 3, 7), "month"), "month") == "2024-03"


def test_dates_per_day_with_unreadable_ones_counted() -> None:
    rows = [
        sentiment_row("positive", 0.9, when="2024-03-05"),
        sentiment_row("negative", 0.9, when="24.03.05"),
        sentiment_row("negative", 0.9, when="2024.03.06 10:00"),
        sentiment_row("negative", 0.9, when="soon"),
        sentiment_row("negative", 0.9, when=""),
    ]
    corpus = corpus_of(rows, date="when")
    assert {day: tally.rows for day, tally in corpus.days.items()} == {
        date(2024, 3, 5): 2,
        date(2024, 3, 6): 1,
    }
    assert corpus.days[date(2024, 3, 5)].labels("sentiment") == {"positive": 1, "negative": 1}
    assert (corpus.unparsed, corpus.undated, corpus.unparsed_values) == (1, 1, ["soon"])
    page = render_report(corpus, title="t")
    assert "1 rows with a date that could not be read (e.g. &#x27;soon&#x27;)" in page


def test_korean_words_lose_particles_and_endings() -> None:
    assert [stem(w) for w in ("연기는", "영화가", "배우들", "지루했지만", "최고였다")] == [
        "연기",
        "영화",
        "배우",
        "지루",
        "최고",
    ]
    assert [stem(w) for w in ("평가", "정도", "불만")] == ["평가", "정도", "불만"]  # stay whole
    assert list(words("ㅋㅋㅋㅋㅋ 최고! 최고다 10 OK")) == ["ㅋㅋ", "최고", "ok"]


def test_distinctive_words_rank_by_log_odds() -> None:
    rows = (
        [sentiment_row("positive", 0.9, "영화 최고 배우 연기") for _ in range(20)]
        + [sentiment_row("positive", 0.9, "영화 재밌다") for _ in range(10)]
        + [sentiment_row("negative", 0.9, "영화 최악 지루했다") for _ in range(20)]
        + [sentiment_row("negative", 0.9, "배우 연기 별로") for _ in range(4)]
    )
    words_of = corpus_of(rows).tasks["sentiment"].words
    ranked = words_of.distinctive("positive", min_count=5)
    positive = [r.word for r in ranked]
    negative = [r.word for r in words_of.distinctive("negative", min_count=5)]
    # Only in positive rows and the most frequent there first; 배우 (20 to 4) outranks 재밌
    # (10 to 0): more evidence, as the z-score weighs it.
    assert positive[:4] == ["최고", "배우", "연기", "재밌"]
    assert [r.count for r in ranked[:4]] == [20, 20, 20, 10]
    assert all(r.score < 1 for r in ranked[4:])  # 영화, in every row, at most barely
    assert all(a.score >= b.score for a, b in zip(ranked, ranked[1:]))
    assert negative == ["지루", "최악"]  # a tie, by word; 영화 is everywhere; 별로: 4 rows < 5


def test_word_table_keeps_frequent_words_when_it_prunes() -> None:
    table = WordTable(capacity=2)
    for i in range(10):
        table.add("a", ["흔한", "단어", f"드문{i}"])
    assert table.pruned > 0
    assert table.counts["a"]["흔한"] == 10 and table.counts["a"]["단어"] == 10
    assert len(table.totals) <= 4


def test_attributions_rank_words_when_present() -> None:
    pairs = [["최고였다", 0.4], ["영화", 0.01], [" ", 0.0]]
    rows = [
        sentiment_row("positive", 0.9, "최고였다 영화", sentiment_attribution=json.dumps(pairs))
        for _ in range(6)
    ]
    corpus = corpus_of(rows)
    assert corpus.columns.attributions == ("sentiment",)
    ranked = corpus.tasks["sentiment"].attributions.by_weight("positive", min_count=5)
    assert [(r.word, round(r.score, 2), r.count) for r in ranked] == [
        ("최고", 0.4, 6),
        ("영화", 0.01, 6),
    ]
    assert "by mean attribution towards the label" in render_report(corpus, title="t")


def test_examples_most_confident_and_most_uncertain_per_label() -> None:
    scores = [0.51, 0.99, 0.75, 0.99, 0.6, 0.52]
    rows = [sentiment_row("positive", s, f"글 {i}", id=f"r{i}") for i, s in enumerate(scores)]
    rows.append(sentiment_row("negative", 0.7, "부정", id=""))
    stats = corpus_of(rows, Settings(examples=2)).tasks["sentiment"]
    confident = stats.examples("positive", "confident")
    uncertain = stats.examples("positive", "uncertain")
    assert [(e.id, e.score) for e in confident] == [("r1", 0.99), ("r3", 0.99)]  # ties: earlier
    assert [(e.id, e.score) for e in uncertain] == [("r0", 0.51), ("r5", 0.52)]
    assert [e.id for e in stats.examples("negative", "confident")] == ["line 7"]  # no id


def test_a_task_without_results_is_noted_not_drawn() -> None:
    empty = {"text": "", "sentiment": None, "sentiment_score": None}
    page = render_report(corpus_of([empty, empty]), title="t")
    assert "2 rows without a result for sentiment (no text)." in page
    assert "<h2>Sentiment</h2>" not in page and "<svg" not in page


def test_ids_default_to_the_line_without_an_id_column() -> None:
    stats = corpus_of([sentiment_row("positive", 0.9, "글")]).tasks["sentiment"]
    assert stats.examples("positive", "confident")[0].id == "line 1"


def test_missing_parts_are_said_not_failed() -> None:
    corpus = corpus_of([sentiment_row("positive", 0.9, "좋다")])
    assert corpus.columns.tasks == ("sentiment",)
    page = render_report(corpus, title="t")
    assert "no emotion results: the file has no &#x27;emotion&#x27; column" in page
    assert "no --group-by column" in page and "no --date-column" in page
    emotion_only = {"text": "좋다", "emotion": "기쁨", "emotion_score": 0.7}
    page = render_report(corpus_of([emotion_only]), title="t")
    assert "no sentiment results" in page and "<h2>Emotion</h2>" in page


def test_grouped_emotion_model_shows_groups_everywhere() -> None:
    rows = [
        {"text": "기뻐", "emotion": "기쁨", "emotion_score": 0.6, "emotion_group": "기쁨",
         "emotion_labels": ["기쁨"], "movie": "A"},
        {"text": "화나", "emotion": "분노", "emotion_score": 0.7, "emotion_group": "분노",
         "emotion_labels": ["분노"], "movie": "A"},
    ]  # fmt: skip
    corpus = corpus_of(rows, group="movie")
    assert corpus.emotion_groups == {"기쁨": 1, "분노": 1}
    assert corpus.groups["A"].labels("emotion group") == {"기쁨": 1, "분노": 1}
    page = render_report(corpus, title="t")
    assert "Emotion group (the group with the most probability)" in page
    assert "emotion group by movie" in page
    assert "<h3>emotion group: by log-odds" in page and "<h3>emotion group: 기쁨</h3>" in page
    assert "Predicted emotions" not in page  # single-label: one emotion per row


@pytest.mark.parametrize(
    "row, options, message",
    [
        ({"text": "x", "label": "1"}, {}, "no 'sentiment' or 'emotion' column"),
        ({"text": "x", "sentiment": "positive"}, {}, "no 'sentiment_score'"),
        ({"body": "x", "sentiment": "p", "sentiment_score": 1}, {}, "no column 'text'"),
        (sentiment_row("positive", 0.9), {"group": "movie"}, "no column 'movie' (--group-by)"),
        (sentiment_row("positive", 0.9), {"date": "when"}, "(--date-column)"),
    ],
)
def test_files_that_are_not_analysed_output(row: dict, options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        corpus_of([row], **options)


@pytest.mark.parametrize("value", ["high", "1.5", -0.1, "nan"])
def test_a_score_that_is_not_a_probability_is_an_error(value: object) -> None:
    rows = [
        sentiment_row("positive", 0.9),
        {**sentiment_row("positive", 0.9), "sentiment_score": value},
    ]
    with pytest.raises(InputError, match="rows.jsonl:2: sentiment_score is .*not a probability"):
        corpus_of(rows)


def test_every_text_from_the_file_is_escaped() -> None:
    attack = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    rows = [
        sentiment_row("positive", 0.9, f"{attack} 좋다", id=attack, movie=attack, when=attack)
        for _ in range(6)
    ]
    rows.append({**sentiment_row("positive", 0.9, attack), "sentiment": attack})
    page = render_report(corpus_of(rows, group="movie", date="when"), title=attack)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_numeric_groups_are_listed_by_value_and_other_groups_by_rows() -> None:
    ratings = ["10", "2", "10", "1", "9", "10", "2", "", "9.5"]
    rows = [sentiment_row("positive", 0.9, rating=r) for r in ratings]
    corpus = corpus_of(rows, group="rating")
    shown, rest = corpus.ranked_groups(20)
    assert [name for name, _ in shown] == ["1", "2", "9", "9.5", "10", "(none)"] and rest == []
    kept, rest = corpus.ranked_groups(2)  # the most rows are kept, then listed by value
    assert [name for name, _ in kept] == ["2", "10"] and len(rest) == 4
    html = render_report(corpus, title="ratings")
    html = html[html.index("<h2>By rating</h2>") :]
    assert html.index(">1<") < html.index(">2<") < html.index(">9.5<") < html.index(">10<")
    movies = corpus_of([sentiment_row("positive", 0.9, movie=m) for m in "BABCC"], group="movie")
    assert [name for name, _ in movies.ranked_groups(20)[0]] == ["B", "C", "A"]


def test_count_axes_tick_at_round_numbers() -> None:
    from spacy_korsent.report import svg

    assert svg.round_ticks(1367) == [0, 500, 1000, 1500]
    assert svg.round_ticks(7) == [0, 2, 4, 6, 8] and svg.round_ticks(0) == [0, 1]
    chart = svg.histogram({"positive": [1367, 40, 0, 3]}, {}, "scores", "sentiment_score")
    ticks = [part.split(">")[1] for part in chart.split('class="tick"')[1:]]
    assert ticks[:4] == ["0</text", "500</text", "1,000</text", "1,500</text"]
    columns = svg.columns([("2024-03", {"positive": 683})], ["positive"], {}, "over time")
    assert ">683<" not in columns and ">800<" in columns
