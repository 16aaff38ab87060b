"""The 60-emotion taxonomy of AI Hub's 감성대화말뭉치 (emotional dialogue corpus).

``hun3359/klue-bert-base-sentiment`` predicts these classes.

Label ``i`` belongs to major group ``i // 10``; the first label of each group is the group's own
name. Korean names are exactly the model card's ``id2label``; the English glosses are ours.
"""

from __future__ import annotations

from typing import NamedTuple


class Emotion(NamedTuple):
    """One fine emotion label with its English gloss and major group."""

    label: str
    gloss: str
    group: str


GROUPS: tuple[tuple[str, str], ...] = (
    ("분노", "anger"),
    ("슬픔", "sadness"),
    ("불안", "anxiety"),
    ("상처", "hurt"),
    ("당황", "embarrassment"),
    ("기쁨", "joy"),
)
"""The six major groups in label order, as (Korean name, English gloss)."""

GROUP_GLOSSES: dict[str, str] = dict(GROUPS)

_FINE: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("분노", "anger"),
        ("툴툴대는", "grumpy"),
        ("좌절한", "frustrated"),
        ("짜증내는", "irritated"),
        ("방어적인", "defensive"),
        ("악의적인", "spiteful"),
        ("안달하는", "impatient"),
        ("구역질 나는", "disgusted"),
        ("노여워하는", "indignant"),
        ("성가신", "annoyed"),
    ),
    (
        ("슬픔", "sadness"),
        ("실망한", "disappointed"),
        ("비통한", "grieving"),
        ("후회되는", "regretful"),
        ("우울한", "depressed"),
        ("마비된", "numb"),
        ("염세적인", "pessimistic"),
        ("눈물이 나는", "tearful"),
        ("낙담한", "discouraged"),
        ("환멸을 느끼는", "disillusioned"),
    ),
    (
        ("불안", "anxiety"),
        ("두려운", "afraid"),
        ("스트레스 받는", "stressed"),
        ("취약한", "vulnerable"),
        ("혼란스러운", "confused"),
        ("당혹스러운", "perplexed"),
        ("회의적인", "skeptical"),
        ("걱정스러운", "worried"),
        ("조심스러운", "cautious"),
        ("초조한", "nervous"),
    ),
    (
        ("상처", "hurt"),
        ("질투하는", "jealous"),
        ("배신당한", "betrayed"),
        ("고립된", "isolated"),
        ("충격 받은", "shocked"),
        ("가난한 불우한", "deprived"),
        ("희생된", "victimized"),
        ("억울한", "wronged"),
        ("괴로워하는", "tormented"),
        ("버려진", "abandoned"),
    ),
    (
        ("당황", "embarrassment"),
        ("고립된(당황한)", "isolated (embarrassed)"),
        ("남의 시선을 의식하는", "self-conscious"),
        ("외로운", "lonely"),
        ("열등감", "inferior"),
        ("죄책감의", "guilty"),
        ("부끄러운", "ashamed"),
        ("혐오스러운", "loathsome"),
        ("한심한", "pathetic"),
        ("혼란스러운(당황한)", "confused (embarrassed)"),
    ),
    (
        ("기쁨", "joy"),
        ("감사하는", "grateful"),
        ("신뢰하는", "trusting"),
        ("편안한", "comfortable"),
        ("만족스러운", "satisfied"),
        ("흥분", "excited"),
        ("느긋", "relaxed"),
        ("안도", "relieved"),
        ("신이 난", "elated"),
        ("자신하는", "confident"),
    ),
)

EMOTIONS: tuple[Emotion, ...] = tuple(
    Emotion(label, gloss, group)
    for (group, _), members in zip(GROUPS, _FINE)
    for label, gloss in members
)
"""All 60 fine emotions; ``EMOTIONS[i]`` is the model's class ``i``."""

LABELS: tuple[str, ...] = tuple(emotion.label for emotion in EMOTIONS)
GROUP_NAMES: tuple[str, ...] = tuple(name for name, _ in GROUPS)
GROUP_SIZE = 10
