"""Evaluate a pipeline's components on labelled texts: typed reports, and plots of them.

:func:`evaluate_sentiment` and :func:`evaluate_emotions` classify the texts and return a report
(:class:`SentimentReport`, :class:`EmotionReport` or :class:`MultiLabelReport`); ``korsent
evaluate`` reads a file, calls them and prints, writes or draws the report
(:mod:`spacy_korsent.evaluation.plot` draws it; it needs matplotlib).
"""

from .reports import EmotionReport, LabelScores, MultiLabelReport, Report, SentimentReport, Speed
from .scoring import evaluate_emotions, evaluate_sentiment

__all__ = [
    "EmotionReport",
    "LabelScores",
    "MultiLabelReport",
    "Report",
    "SentimentReport",
    "Speed",
    "evaluate_emotions",
    "evaluate_sentiment",
]
