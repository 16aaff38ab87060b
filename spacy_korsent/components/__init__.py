"""spaCy components: ``korean_sentiment``, ``korean_emotion`` and the MeCab-free Korean pipeline."""
