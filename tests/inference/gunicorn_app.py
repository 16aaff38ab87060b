"""The WSGI app that tests/inference/test_gunicorn.py serves with ``gunicorn --preload``.

gunicorn's master imports this module, so the pipeline is built, and the model run once, before
the workers are forked from it: the case in which forked workers used to hang or abort at exit.
``KORSENT_TEST_PIPE`` holds the component's config as JSON (model directory, backend).
Each request's body is one text; the answer is the worker's pid and the text's sentiment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any, Callable

from spacy_korsent import blank_korean

nlp = blank_korean()
nlp.add_pipe("korean_sentiment", config=json.loads(os.environ["KORSENT_TEST_PIPE"]))
nlp("부모 프로세스가 포크 전에 모델을 한 번 돌린다")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    text = environ["wsgi.input"].read(size).decode("utf-8")
    answer = {"pid": os.getpid(), "sentiment": nlp(text)._.sentiment}
    body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
