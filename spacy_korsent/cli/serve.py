"""``korsent serve``: the models behind an HTTP API that batches concurrent requests.

The server itself is :mod:`spacy_korsent.serving`; this module parses the options and runs it
under uvicorn, in this process or in ``--workers`` worker processes, each of which loads the
models itself after it starts (torch's and ONNX Runtime's threads do not survive a fork).
SIGTERM or Ctrl-C stop it gracefully: no new connections, every request already accepted is
answered, exit code 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..components.registry import resolve_model
from ..interrupts import SIGNALS
from .common import (
    CommandError,
    add_model_options,
    add_pipeline_options,
    chosen_models,
    pipeline_options,
)
from .common import positive_int as positive

DESCRIPTION = """\
Serve sentiment and emotion analysis over HTTP:

  POST /analyze   {"texts": "리뷰" or ["리뷰", ...], "task": "sentiment|emotion|both",
                   "sentences": false} -> {"results": [{the fields of korsent analyze}, ...]}
  GET  /health    503 until the models are loaded and warmed, 200 after
  GET  /metrics   Prometheus metrics
  GET  /docs      the API's documentation (OpenAPI schema at /openapi.json)

Requests from all connections are batched: a batch runs when it holds --max-batch-tokens subword
tokens or its oldest request has waited --max-wait-ms (a lone request: when no other came for a
tenth of that). A full queue answers 429 with Retry-After.
Needs pip install "spacy-korsent[serve]". See 'Serving' in the README.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="an HTTP API (POST /analyze) that batches concurrent requests",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(parser)
    add_pipeline_options(parser, stream=False)
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    server.add_argument("--port", type=int, default=8000, help="default: 8000")
    server.add_argument(
        "--workers",
        metavar="N",
        type=positive,
        default=1,
        help="worker processes, each loading its own copy of the models (default: 1; one per "
        "2-4 cores: each worker's pipeline uses several cores already)",
    )
    server.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    server.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="no line per request"
    )
    batching = parser.add_argument_group("batching and limits")
    batching.add_argument(
        "--max-batch-tokens",
        metavar="N",
        type=positive,
        default=2048,
        help="subword tokens of the texts of one batch at most (default: 2048); a request "
        "larger than this runs as a batch of its own",
    )
    batching.add_argument(
        "--max-wait-ms",
        metavar="MS",
        type=float,
        default=10.0,
        help="the longest a request waits for others to share its batch; a lone request waits a "
        "tenth of it (default: 10)",
    )
    batching.add_argument(
        "--max-queue",
        metavar="N",
        type=positive,
        default=1024,
        help="texts waiting at most, per worker; beyond, 429 with Retry-After (default: 1024)",
    )
    batching.add_argument(
        "--max-texts",
        metavar="N",
        type=positive,
        default=128,
        help="texts per request at most; more get 413 (default: 128)",
    )
    batching.add_argument(
        "--max-body-bytes",
        metavar="N",
        type=positive,
        default=1 << 20,
        help="bytes of a request body at most; more get 413 (default: 1048576)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with the application; return 0 after a graceful stop."""
    try:
        import uvicorn

        from ..serving.app import SETTINGS_ENV, create_app
        from ..serving.metrics import MULTIPROCESS_DIR
        from ..serving.service import ServerSettings
    except ImportError as err:
        raise CommandError(f'serve needs {err.name}: pip install "spacy-korsent[serve]"') from None
    if args.max_wait_ms < 0:
        raise CommandError(f"--max-wait-ms must be at least 0, not {args.max_wait_ms:g}.")
    models = chosen_models(args)
    for model in models.values():
        if model is not None:
            resolve_model(model)  # a missing model fails now, in one line, not in each worker
    settings = ServerSettings(
        models=models,
        pipeline=pipeline_options(args),
        sentences=args.sentences,
        max_batch_tokens=args.max_batch_tokens,
        max_wait_ms=args.max_wait_ms,
        max_queue=args.max_queue,
        max_texts=args.max_texts,
        max_body_bytes=args.max_body_bytes,
    )
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
    }
    if args.workers == 1:
        with _graceful_signals():
            uvicorn.run(create_app(settings), **options)
        return 0
    os.environ[SETTINGS_ENV] = settings.to_json()
    with tempfile.TemporaryDirectory(prefix="korsent-metrics-") as metrics_dir:
        os.environ.setdefault(MULTIPROCESS_DIR, metrics_dir)  # every worker's metrics, added up
        target = "spacy_korsent.serving.app:app_from_environment"
        uvicorn.run(target, factory=True, workers=args.workers, **options)
    return 0


@contextmanager
def _graceful_signals() -> Iterator[None]:
    """During the block SIGINT and SIGTERM do nothing but what uvicorn makes of them, a graceful
    stop: uvicorn raises the signal again once it has stopped, for the handler it found, which must
    then not end the command with 130 or 143."""
    found = {number: signal.signal(number, lambda *_: None) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in found.items():
            signal.signal(number, handler)
