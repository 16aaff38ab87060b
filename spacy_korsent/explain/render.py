"""A self-contained HTML page of predictions with their tokens shaded by attribution.

Inline CSS only (no scripts, fonts or images from the network), every text escaped. Hangul is set
in a Korean font stack. The page reads what the components left on the docs: ``doc._.sentiment``
/ ``doc._.emotions`` (and the sentences' values) and the token attributions that ``explain = true``
sets (``sentiment_attribution`` / ``emotion_attribution``); docs without attributions are shown
unshaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any, Optional, Union

from spacy.tokens import Doc, Span

from ..answers import EXTENSIONS, shown_score
from ..answers import TASKS as ANSWER_TASKS
from ..fonts import FONTS

TASKS = {task: (EXTENSIONS[task], f"{task}_attribution") for task in ANSWER_TASKS}
"""Task name -> (prediction extension, attribution extension)."""

LEVELS = ("doc", "sentence")
TOWARDS = (230, 97, 1)
"""Orange: the token pushes the shown label up."""
AGAINST = (94, 60, 153)
"""Purple: the token pushes it down (a colour-blind-safe pair)."""
MAX_ALPHA = 0.8

CSS = f"""
.korsent {{ font-family: {FONTS}; color: #1a1a1a; line-height: 1.6; max-width: 60rem;
  margin: 1.5rem auto; padding: 0 1rem; }}
.korsent h1 {{ font-size: 1.4rem; margin: 0 0 .25rem; }}
.korsent .korsent-note {{ color: #555; margin: .25rem 0 1rem; }}
.korsent .korsent-legend {{ display: flex; align-items: center; gap: .6rem; flex-wrap: wrap;
  font-size: .9rem; color: #333; margin-bottom: 1rem; }}
.korsent .korsent-scale {{ width: 12rem; height: .9rem; border: 1px solid #bbb;
  background: linear-gradient(to right, rgba{(*AGAINST, MAX_ALPHA)}, #fff,
  rgba{(*TOWARDS, MAX_ALPHA)}); }}
.korsent .korsent-doc {{ border: 1px solid #ddd; border-radius: 6px; padding: .6rem .9rem;
  margin: .6rem 0; }}
.korsent .korsent-doc-id {{ color: #888; font-size: .8rem; }}
.korsent .korsent-row + .korsent-row {{ border-top: 1px dashed #e4e4e4; margin-top: .4rem;
  padding-top: .4rem; }}
.korsent .korsent-head {{ font-size: .9rem; }}
.korsent .korsent-task {{ color: #666; margin-right: .4rem; }}
.korsent .korsent-label {{ font-weight: 700; }}
.korsent .korsent-score {{ color: #444; margin-left: .3rem; }}
.korsent .korsent-text {{ font-size: 1.15rem; margin: .3rem 0 0; white-space: pre-wrap;
  word-break: keep-all; overflow-wrap: anywhere; }}
.korsent .korsent-tok {{ border-radius: 3px; padding: 0 1px; }}
.korsent .korsent-sent-label {{ font-size: .75rem; color: #333; background: #eee;
  border-radius: 3px; padding: 0 .3rem; margin: 0 .3rem; vertical-align: middle;
  white-space: nowrap; }}
"""

Docs = Union[Doc, Iterable[Doc]]


def render(
    docs: Docs,
    *,
    task: Optional[str] = None,
    level: str = "doc",
    page: bool = True,
    jupyter: Optional[bool] = None,
    title: str = "spacy-korsent",
) -> Optional[str]:
    """HTML for ``docs``: each doc's label and score, its sentences' labels, shaded tokens.

    ``task``: ``"sentiment"`` or ``"emotion"``; by default every task the docs have a result for,
    one row each. ``level="sentence"`` shades each sentence's tokens by its own attributions
    (``sentences = true`` with ``explain = true``) instead of the doc's. ``page``: a whole HTML
    document, else a ``<div>`` (with its own ``<style>``) to embed. ``jupyter``: like
    ``displacy.render``, display the HTML in a notebook and return None; by default only when
    running in one.
    """
    from spacy.util import is_in_jupyter

    docs = [docs] if isinstance(docs, Doc) else list(docs)
    tasks = _tasks(task)
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(map(repr, LEVELS))}, not {level!r}.")
    fragments = [doc_html(doc, tasks=tasks, level=level, number=i) for i, doc in enumerate(docs, 1)]
    if jupyter or (jupyter is None and is_in_jupyter()):
        from IPython.display import HTML, display

        display(HTML(page_html(fragments, title=title, page=False)))
        return None
    return page_html(fragments, title=title, page=page)


def _tasks(task: Optional[str]) -> Sequence[str]:
    if task is None:
        return tuple(TASKS)
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}, not {task!r}.")
    return (task,)


def page_html(
    fragments: Iterable[str], *, title: str, note: Optional[str] = None, page: bool = True
) -> str:
    """Put doc fragments (from :func:`doc_html`) under a title, a note and the legend."""
    body = (
        f'<div class="korsent" lang="ko">\n<h1>{escape(title)}</h1>\n'
        + (f'<p class="korsent-note">{escape(note)}</p>\n' if note else "")
        + _legend()
        + "".join(fragments)
        + "</div>\n"
    )
    if not page:
        return f"<style>{CSS}</style>\n{body}"
    return (
        '<!DOCTYPE html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f'<body style="margin: 0; background: #fff;">\n{body}</body>\n</html>\n'
    )


def _legend() -> str:
    return (
        '<div class="korsent-legend"><span>against the label</span>'
        '<span class="korsent-scale"></span><span>towards the label</span>'
        '<span class="korsent-note">shade: a token\'s attribution relative to the largest in '
        "the same text; hover a token for its value</span></div>\n"
    )


def doc_html(
    doc: Doc,
    *,
    tasks: Sequence[str] = tuple(TASKS),
    level: str = "doc",
    number: int = 1,
    name: str | None = None,
) -> str:
    """One doc: a row per task it has a result for (label, score, shaded text), headed by its
    number and, if given, its ``name`` (the input row's id)."""
    rows = [
        _row(doc, prediction, attribution, level)
        for prediction, attribution in (TASKS[task] for task in tasks)
        if Doc.has_extension(prediction) and doc._.get(prediction) is not None
    ]
    if not rows:
        rows = [f'<div class="korsent-row"><p class="korsent-text">{escape(doc.text)}</p></div>']
    return (
        f'<article class="korsent-doc"><div class="korsent-doc-id">#{number}'
        + (f" · {escape(name)}" if name else "")
        + "</div>\n"
        + "\n".join(rows)
        + "\n</article>\n"
    )


def _row(doc: Doc, prediction: str, attribution: str, level: str) -> str:
    sentences = _classified_sentences(doc, prediction)
    if level == "sentence" and sentences:
        text = "".join(
            _tokens(sent, sent._.get(attribution), [sent], prediction) for sent in sentences
        )
    else:
        text = _tokens(doc, doc._.get(attribution), sentences, prediction)
    task = "emotion" if prediction == "emotions" else prediction
    return (
        f'<div class="korsent-row"><div class="korsent-head">'
        f'<span class="korsent-task">{task}</span>{_label(doc._.get(prediction))}</div>'
        f'<p class="korsent-text">{text}</p></div>'
    )


def _classified_sentences(doc: Doc, prediction: str) -> list[Span]:
    if not doc.has_annotation("SENT_START"):
        return []
    sentences = list(doc.sents)
    return sentences if any(sent._.get(prediction) for sent in sentences) else []


def _tokens(
    tokens: Union[Doc, Span],
    values: Optional[Sequence[float]],
    sentences: Sequence[Span] = (),
    prediction: str = "",
) -> str:
    """Tokens with their whitespace, shaded by ``values``; a label badge after each sentence."""
    ends = {sent.end - 1: sent for sent in sentences}
    scale = max((abs(v) for v in values), default=0.0) if values is not None else 0.0
    out = []
    for i, token in enumerate(tokens):
        text = escape(token.text)
        if values is not None:
            value = values[i]
            alpha = MAX_ALPHA * abs(value) / scale if scale else 0.0
            colour = TOWARDS if value >= 0 else AGAINST
            text = (
                f'<span class="korsent-tok" data-attribution="{value:.6g}" '
                f'title="{value:+.4f}" style="background-color: '
                f'rgba({colour[0]}, {colour[1]}, {colour[2]}, {alpha:.3f})">{text}</span>'
            )
        out.append(text)
        if token.i in ends:
            out.append(_badge(ends[token.i], prediction))
        out.append(escape(token.whitespace_))
    return "".join(out)


def _badge(sent: Span, prediction: str) -> str:
    return f'<span class="korsent-sent-label">{_label(sent._.get(prediction))}</span>'


def _label(result: Optional[dict[str, Any]]) -> str:
    if not result or result.get("label") is None:
        return '<span class="korsent-label">–</span> <span class="korsent-score">no text</span>'
    label = str(result["label"])
    top = result.get("top") or []
    if top and top[0].get("label") == label and top[0].get("gloss"):
        label = f"{label} ({top[0]['gloss']})"
    return (
        f'<span class="korsent-label">{escape(label)}</span>'
        f'<span class="korsent-score">{escape(shown_score(result))}</span>'
    )
