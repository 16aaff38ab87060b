"""The 60-emotion taxonomy agrees with the emotion model card."""

import json

from conftest import FIXTURES

from spacy_korsent.taxonomy import EMOTIONS, GROUP_GLOSSES, GROUP_NAMES, GROUPS, LABELS


def test_labels_match_the_model_card_in_order():
    card = json.loads((FIXTURES / "emotion_model_card_id2label.json").read_text(encoding="utf8"))
    assert tuple(card[str(i)] for i in range(60)) == LABELS


def test_six_groups_of_ten_headed_by_the_group_name():
    assert GROUP_NAMES == ("분노", "슬픔", "불안", "상처", "당황", "기쁨")
    assert [gloss for _, gloss in GROUPS] == [
        "anger", "sadness", "anxiety", "hurt", "embarrassment", "joy",
    ]  # fmt: skip
    for index, emotion in enumerate(EMOTIONS):
        assert emotion.group == GROUP_NAMES[index // 10]
    assert [LABELS[i] for i in range(0, 60, 10)] == list(GROUP_NAMES)
    assert set(GROUP_GLOSSES) == set(GROUP_NAMES)


def test_every_label_has_its_own_english_gloss():
    glosses = [emotion.gloss for emotion in EMOTIONS]
    assert all(glosses) and len(set(glosses)) == 60
