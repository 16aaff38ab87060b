"""The corpus report as one self-contained HTML page: inline CSS and SVG, no script, no network.

It opens from a file, sets Hangul in a Korean font stack, fits a laptop screen (one column of
charts, at most 64rem wide) and prints (charts and tables are not split across pages). Every text
from the file — labels, group names, ids, example texts, words — is escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Callable

from ..fonts import FONTS
from . import svg
from .aggregate import EMOTION_GROUP, OTHER, Corpus, Example, Tally, TaskStats
from .dates import bucket_label, bucket_size, bucket_start
from .words import Ranked

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#F0E442")
"""Okabe and Ito's colour-blind-safe colours (then a brown), for labels without their own."""
KNOWN = {
    "negative": "#D55E00",
    "positive": "#0072B2",
    "neutral": "#999999",
    "기쁨": "#E69F00",
    "분노": "#D55E00",
    "슬픔": "#0072B2",
    "불안": "#CC79A7",
    "상처": "#56B4E9",
    "당황": "#009E73",
    OTHER: "#BBBBBB",
}
TOP_EMOTIONS = 15
"""Emotions shown one by one in the distributions (the rest as (other))."""
SPLIT_EMOTIONS = 7
"""Emotions shown one by one in breakdowns by group and over time (without emotion groups)."""
TOP_GROUPS = 20
WORD_LABELS = 6
"""Emotions whose distinctive words and examples are listed (the most frequent)."""
SIGNIFICANT = 1.96
"""A z-score above which a word's lead in a label is unlikely to be chance (5%, two-sided)."""

CSS = f"""
body {{ margin: 0; background: #fff; }}
.report {{ font-family: {FONTS}; color: #1a1a1a; line-height: 1.5; max-width: 64rem;
  margin: 1.5rem auto; padding: 0 1.2rem; font-size: 15px; }}
.report h1 {{ font-size: 1.5rem; margin: 0 0 .2rem; }}
.report h2 {{ font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #ddd;
  padding-bottom: .2rem; }}
.report h3 {{ font-size: 1rem; margin: 1.2rem 0 .3rem; }}
.report .meta, .report .note {{ color: #555; margin: .2rem 0; }}
.report ul.notes {{ color: #555; margin: .4rem 0; padding-left: 1.2rem; font-size: .9rem; }}
.report .cards {{ display: flex; flex-wrap: wrap; gap: .6rem; margin: .8rem 0; }}
.report .card {{ border: 1px solid #ddd; border-radius: 6px; padding: .4rem .8rem; }}
.report .card b {{ display: block; font-size: 1.3rem; }}
.report figure {{ margin: .6rem 0 1rem; break-inside: avoid; page-break-inside: avoid; }}
.report figcaption {{ font-size: .9rem; color: #333; margin-bottom: .3rem; }}
.report svg.chart {{ width: 100%; height: auto; display: block; overflow: visible; }}
.report svg text {{ font-size: 12px; fill: #1a1a1a; }}
.report svg text.tick, .report svg text.value {{ fill: #555; }}
.report svg text.inbar {{ fill: #fff; font-size: 11px; }}
.report .legend {{ display: flex; flex-wrap: wrap; gap: .3rem .9rem; font-size: .85rem;
  margin: .2rem 0 .4rem; }}
.report .swatch {{ display: inline-block; width: .8rem; height: .8rem; border-radius: 2px;
  vertical-align: -.05rem; margin-right: .3rem; print-color-adjust: exact;
  -webkit-print-color-adjust: exact; }}
.report .grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr));
  gap: .4rem 1.2rem; align-items: start; }}
.report table {{ border-collapse: collapse; width: 100%; font-size: .88rem;
  break-inside: avoid; page-break-inside: avoid; }}
.report th, .report td {{ text-align: left; padding: .15rem .4rem; border-bottom: 1px solid #eee;
  vertical-align: top; }}
.report td.num, .report th.num {{ text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }}
.report tr.weak td {{ color: #999; }}
.report td.id {{ color: #666; white-space: nowrap; max-width: 9rem; overflow: hidden;
  text-overflow: ellipsis; }}
.report td.text {{ word-break: keep-all; overflow-wrap: anywhere; white-space: pre-wrap; }}
.report .examples {{ display: grid; grid-template-columns: 1fr 1fr; gap: .4rem 1.2rem;
  align-items: start; }}
@media (max-width: 50rem) {{ .report .examples {{ grid-template-columns: 1fr; }} }}
@media print {{
  @page {{ size: A4; margin: 12mm; }}
  .report {{ max-width: none; margin: 0; padding: 0; font-size: 11pt; }}
  .report h2 {{ break-after: avoid; page-break-after: avoid; }}
  .report svg rect {{ print-color-adjust: exact; -webkit-print-color-adjust: exact; }}
}}
"""


def render_report(corpus: Corpus, *, title: str) -> str:
    """The whole page for ``corpus``."""
    sections = [_overview(corpus, title)]
    # A task without a single result is said in the overview's notes, not drawn as empty charts.
    if "sentiment" in corpus.tasks and corpus.tasks["sentiment"].labels:
        sections.append(_sentiment(corpus, corpus.tasks["sentiment"]))
    if "emotion" in corpus.tasks and corpus.tasks["emotion"].labels:
        sections.append(_emotion(corpus, corpus.tasks["emotion"]))
    if corpus.columns.group is not None:
        sections.append(_by_group(corpus))
    if corpus.columns.date is not None:
        sections.append(_over_time(corpus))
    sections.append(_words(corpus))
    sections.append(_examples(corpus))
    sections.append(_method(corpus))
    return (
        '<!DOCTYPE html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<main class="report">\n{"".join(sections)}</main>\n</body>\n</html>\n'
    )


def colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per name: its own for known labels and emotion groups, else the palette's."""
    names = list(names)
    out: dict[str, str] = {}
    spare = iter(c for c in PALETTE if c not in {KNOWN.get(n) for n in names})
    for name in names:
        out[name] = KNOWN.get(name) or next(spare, "#777777")
    return out


def _legend(colours: Mapping[str, str]) -> str:
    items = "".join(
        f'<span><span class="swatch" style="background:{colour}"></span>{escape(name)}</span>'
        for name, colour in colours.items()
    )
    return f'<div class="legend">{items}</div>'


def _figure(caption: str, chart: str, legend: str = "") -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{legend}{chart}</figure>\n"


def _overview(corpus: Corpus, title: str) -> str:
    cards = [("rows", f"{corpus.rows:,}"), ("with text", f"{corpus.with_text:,}")]
    for task, stats in corpus.tasks.items():
        cards.append((f"{task} results", f"{sum(stats.labels.values()):,}"))
        if stats.labels:
            name, count = stats.labels.most_common(1)[0]
            cards.append(
                (f"most frequent {task}", f"{name} {count / sum(stats.labels.values()):.0%}")
            )
    notes = list(corpus.columns.missing) + _data_notes(corpus)
    return (
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="meta">{escape(corpus.source)} · korsent report</p>'
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in cards)
        + "</div>"
        + (
            '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
            if notes
            else ""
        )
        + "</header>\n"
    )


def _data_notes(corpus: Corpus) -> list[str]:
    notes = []
    capacity = corpus.settings.word_capacity
    for task, stats in corpus.tasks.items():
        if stats.without:
            notes.append(f"{stats.without:,} rows without a result for {task} (no text).")
    counted = [*corpus.tasks.values(), corpus.by_emotion_group]
    for stats in filter(None, counted):
        pruned = max(stats.words.pruned, stats.attributions.pruned if stats.attributions else 0)
        if pruned:
            notes.append(
                f"{stats.task} words: the vocabulary outgrew {2 * capacity:,} words, and all but "
                f"the {capacity:,} most frequent were dropped ({pruned} times); a word dropped "
                "counts again from its next row, so rare words may be undercounted."
            )
    if corpus.lumped_rows:
        notes.append(
            f"more than {corpus.settings.max_groups:,} groups: {corpus.lumped_rows:,} rows of "
            f"the later ones are counted together as {OTHER}."
        )
    return notes


def _sentiment(corpus: Corpus, stats: TaskStats) -> str:
    names = [n for n in corpus.sentiment_labels if n in stats.labels]
    names += sorted(set(stats.labels) - set(names))
    palette = colours(names)
    items = [(name, stats.labels[name]) for name in names]
    scored = stats.histograms
    histograms = {name: scored[name] for name in names if name in scored}
    unscored = "".join(
        f'<p class="note">{escape(name)}: {n:,} rows without a score (a neutral band: the '
        "model gives no probability of neutral), counted but not in the histogram.</p>"
        for name, n in stats.unscored.items()
    )
    return (
        "<section><h2>Sentiment</h2>"
        + _figure("Labels", svg.bars(items, palette, "sentiment labels"))
        + _figure(
            "Score (probability of the predicted label)",
            svg.histogram(histograms, palette, "sentiment score histogram", "sentiment_score"),
            _legend({name: palette[name] for name in histograms}),
        )
        + unscored
        + "</section>\n"
    )


def _emotion(corpus: Corpus, stats: TaskStats) -> str:
    top = _top_emotions(stats)
    palette = colours(top)
    parts = ["<section><h2>Emotion</h2>"]
    shown = stats.labels.most_common(TOP_EMOTIONS)
    total = sum(stats.labels.values())
    rest = total - sum(n for _, n in shown)
    caption = "Most probable emotion"
    if rest:
        caption += (
            f" (the {len(shown)} most frequent of {len(stats.labels)}; the other "
            f"{len(stats.labels) - len(shown)}: {rest:,} rows, {rest / total:.1%})"
        )
    parts.append(_figure(caption, svg.bars(shown, palette, "emotion labels", total=total)))
    if corpus.emotion_groups:
        groups = corpus.emotion_groups.most_common()
        parts.append(
            _figure(
                "Emotion group (the group with the most probability)",
                svg.bars(groups, colours(name for name, _ in groups), "emotion groups"),
            )
        )
    elif corpus.columns.emotion_groups:
        parts.append('<p class="note">emotion_group is empty: the model has no groups.</p>')
    rows = sum(corpus.predicted_sizes.values())
    if corpus.predicted and max(corpus.predicted_sizes) > 1:
        none = corpus.predicted_sizes.get(0, 0)
        mean = sum(k * v for k, v in corpus.predicted_sizes.items()) / max(rows, 1)
        parts.append(
            _figure(
                f"Predicted emotions (multi-label: every emotion at or above the threshold; "
                f"{mean:.1f} per row on average, none for {none:,} of {rows:,} rows): rows "
                "with each emotion",
                svg.bars(
                    corpus.predicted.most_common(TOP_EMOTIONS),
                    palette,
                    "predicted emotions",
                    total=rows,
                ),
            )
        )
    if corpus.by_emotion_group is not None and corpus.emotion_groups:
        order = _emotion_split(corpus)
        palette = colours(order)
        histograms = {name: corpus.by_emotion_group.histograms[name] for name in order}
    else:
        histograms = _lumped_histograms(stats, top)
    parts.append(
        _figure(
            "Score (probability of the most probable emotion)",
            svg.histogram(histograms, palette, "emotion score histogram", "emotion_score"),
            _legend({name: palette[name] for name in histograms}),
        )
    )
    parts.append("</section>\n")
    return "".join(parts)


def _emotion_split(corpus: Corpus) -> list[str]:
    """The emotion categories of breakdowns: the groups when the model has them, else the most
    frequent emotions and (other)."""
    if corpus.emotion_groups:
        return [name for name, _ in corpus.emotion_groups.most_common()]
    return _top_emotions(corpus.tasks["emotion"])


def _top_emotions(stats: TaskStats) -> list[str]:
    names = [name for name, _ in stats.labels.most_common(SPLIT_EMOTIONS)]
    return names + [OTHER] if len(stats.labels) > SPLIT_EMOTIONS else names


def _lumped_histograms(stats: TaskStats, split: list[str]) -> dict[str, list[int]]:
    """Score histograms of the emotions in ``split``, the others lumped as (other)."""
    out: dict[str, list[int]] = {}
    for name, column in stats.histograms.items():
        key = name if name in split else OTHER
        out[key] = [a + b for a, b in zip(out.get(key, [0] * len(column)), column)]
    return {name: out[name] for name in split if name in out}


def _splits(corpus: Corpus) -> list[tuple[str, list[str], Callable[[Tally], Counter[str]]]]:
    """How groups and periods are split, per task: (what, the categories in order, a tally's
    counts of them). Emotions are split by group when the model has groups, else by the most
    frequent emotions and (other)."""
    out: list[tuple[str, list[str], Callable[[Tally], Counter[str]]]] = []
    if "sentiment" in corpus.tasks:
        labels = corpus.tasks["sentiment"].labels
        order = [name for name in corpus.sentiment_labels if name in labels]
        out.append(("sentiment", order, lambda tally: tally.labels("sentiment")))
    if "emotion" in corpus.tasks:
        order = _emotion_split(corpus)
        if corpus.emotion_groups:
            out.append((EMOTION_GROUP, order, lambda tally: tally.labels(EMOTION_GROUP)))
        else:
            out.append(("emotion", order, lambda tally: _lumped(tally.labels("emotion"), order)))
    return out


def _lumped(counts: Counter[str], kept: list[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for name, n in counts.items():
        out[name if name in kept else OTHER] += n
    return out


def _by_group(corpus: Corpus) -> str:
    column = corpus.columns.group or ""
    shown, rest = corpus.ranked_groups(TOP_GROUPS)
    parts = [
        f"<section><h2>By {escape(column)}</h2>",
        f'<p class="note">{len(corpus.groups):,} distinct values; the '
        f"{len(shown)} with the most rows are shown one by one.</p>",
    ]
    if rest:
        merged = Tally()
        for _, tally in rest:
            merged.merge(tally)
        shown.append((f"{len(rest):,} other groups", merged))
    for what, order, counts in _splits(corpus):
        rows = [(name, tally.rows, counts(tally)) for name, tally in shown]
        chart = svg.shares(rows, order, colours(order), f"{what} by {column}")
        parts.append(_figure(f"{what} by {column}", chart, _legend(colours(order))))
    parts.append("</section>\n")
    return "".join(parts)


def _over_time(corpus: Corpus) -> str:
    column = corpus.columns.date or ""
    size = bucket_size(corpus.days)
    periods: dict[str, Tally] = {}
    for day in sorted(corpus.days):
        key = bucket_label(bucket_start(day, size), size)
        periods.setdefault(key, Tally()).merge(corpus.days[day])
    parts = [f"<section><h2>Over time ({escape(column)}, by {size})</h2>"]
    notes = []
    if corpus.days:
        first, last = min(corpus.days), max(corpus.days)
        notes.append(f"{sum(t.rows for t in periods.values()):,} rows from {first} to {last}.")
    if corpus.undated:
        notes.append(f"{corpus.undated:,} rows without a date.")
    if corpus.unparsed:
        examples = ", ".join(repr(v) for v in corpus.unparsed_values)
        notes.append(
            f"{corpus.unparsed:,} rows with a date that could not be read (e.g. {examples}); "
            "read: 2024-03-05 (with a time), 2024.03.05, 24.03.05, 2024/3/5, 20240305, "
            "2024년 3월 5일, Excel serial numbers."
        )
    parts.append("".join(f'<p class="note">{escape(n)}</p>' for n in notes))
    for what, order, counts in _splits(corpus) if periods else []:
        series = [(name, counts(tally)) for name, tally in periods.items()]
        chart = svg.columns(series, order, colours(order), f"{what} over time")
        parts.append(_figure(f"Rows per {size}, by {what}", chart, _legend(colours(order))))
    parts.append("</section>\n")
    return "".join(parts)


def _labelled(corpus: Corpus) -> list[tuple[str, TaskStats, list[str]]]:
    """What the words and examples are listed for: (what, its counts, which labels).

    Sentiment: every label. Emotion: the groups when the model has them (six, each with enough
    rows to say something), else the most frequent emotions; emotions when the rows carry
    attributions, which point towards the emotion, not its group.
    """
    out = []
    for task, stats in corpus.tasks.items():
        if task == "sentiment":
            names = [n for n in corpus.sentiment_labels if n in stats.labels]
            out.append((task, stats, names))
            continue
        groups = corpus.by_emotion_group
        if groups is not None and groups.labels and stats.attributions is None:
            out.append((EMOTION_GROUP, groups, _emotion_split(corpus)))
        else:
            out.append((task, stats, [n for n, _ in stats.labels.most_common(WORD_LABELS)]))
    return out


def _words(corpus: Corpus) -> str:
    settings = corpus.settings
    parts = [
        "<section><h2>Distinctive words</h2>",
        f'<p class="note">Words in at least {settings.min_count} rows of the label. z (log-odds):'
        " how much more often the word occurs in the label's rows than in the others', in "
        f"standard errors; below {SIGNIFICANT} (greyed) it may be chance.</p>",
    ]
    for what, stats, names in _labelled(corpus):
        attributions = stats.attributions
        by = "mean attribution" if attributions else "z (log-odds)"
        how = (
            "by mean attribution towards the label"
            if attributions
            else "by log-odds against the other labels (informative Dirichlet prior)"
        )
        parts.append(f"<h3>{escape(what)}: {how}</h3>")
        if len(stats.labels) < 2 and not attributions:
            parts.append('<p class="note">only one label: nothing to set it apart from.</p>')
            continue
        cells = []
        for name in names:
            if attributions:
                ranked = attributions.by_weight(
                    name, top=settings.words, min_count=settings.min_count
                )
            else:
                ranked = stats.words.distinctive(
                    name, top=settings.words, min_count=settings.min_count
                )
            rows = (
                "".join(
                    _word_row(r, weak=not attributions and r.score < SIGNIFICANT) for r in ranked
                )
                or '<tr><td colspan="3" class="note">no word often enough</td></tr>'
            )
            cells.append(
                f'<table><thead><tr><th>{escape(name)}</th><th class="num">{by}</th>'
                f'<th class="num">rows</th></tr></thead><tbody>{rows}</tbody></table>'
            )
        parts.append(f'<div class="grid">{"".join(cells)}</div>')
    parts.append("</section>\n")
    return "".join(parts)


def _word_row(ranked: Ranked, *, weak: bool) -> str:
    return (
        f"<tr{' class=weak' if weak else ''}><td>{escape(ranked.word)}</td>"
        f'<td class="num">{ranked.score:.2f}</td><td class="num">{ranked.count:,}</td></tr>'
    )


def _examples(corpus: Corpus) -> str:
    column = corpus.columns.id
    parts = ["<section><h2>Examples</h2>"]
    parts.append(
        '<p class="note">Per label, the rows with the highest score (most confident) and the '
        "lowest (most uncertain: the least probable top label); the first column is "
        + (f"{escape(column)} (or the line, without one)" if column else "the line")
        + ".</p>"
    )
    for what, stats, names in _labelled(corpus):
        for name in names:
            parts.append(f'<h3>{escape(what)}: {escape(name)}</h3><div class="examples">')
            for which in ("confident", "uncertain"):
                parts.append(_example_table(f"most {which}", stats.examples(name, which)))
            parts.append("</div>")
    parts.append("</section>\n")
    return "".join(parts)


def _example_table(caption: str, examples: Sequence[Example]) -> str:
    rows = "".join(
        f'<tr><td class="id">{escape(e.id)}</td><td class="num">{_example_score(e)}</td>'
        f'<td class="text">{escape(e.text)}</td></tr>'
        for e in examples
    )
    return (
        f'<table><thead><tr><th colspan="3">{escape(caption)}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _example_score(example: Example) -> str:
    return "–" if example.score is None else f"{example.score:.3f}"


def _method(corpus: Corpus) -> str:
    return (
        '<section><h2>How this was counted</h2><p class="note">'
        "One pass over the file. Scores are the probability of the predicted label; histogram "
        f"bins are {1 / corpus.settings.bins:.2f} wide. Words: whitespace units with common "
        "particles and endings stripped, each counted once per row; ranked by the z-score of "
        "their log-odds in a label against the other labels with the corpus counts as an "
        "informative Dirichlet prior (Monroe, Colaresi and Quinn 2008), or by mean attribution "
        "when the rows carry attributions.</p></section>\n"
    )
