"""The server on Ray Serve: each replica is the same service (pipeline, batcher, limits) as one
``korsent serve`` process, and Ray spreads the requests over the replicas of a cluster.

    serve run spacy_korsent.serving.ray_serve:build sentiment_model=DIR backend=onnx-int8 \\
        num_replicas=2 cpus_per_replica=2

``POST /`` (under the route prefix, ``/`` by default) takes and answers the body of
``POST /analyze``, with the same errors; a deployment handle's ``analyze.remote(payload)`` takes
the payload as a dict. Needs ``pip install "spacy-korsent[serve,ray]"`` and ``ray[serve]``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..components.pipeline import TASKS, PipelineOptions
from ..components.registry import EMOTION, SENTIMENT
from .service import AnalysisService, AnalyzeRequest, ServerSettings, ServiceError

_FLAGS = ("sentences", "truncate")
_NUMBERS = {"max_length": int, "max_batch_tokens": int, "max_wait_ms": float, "max_queue": int}
_NUMBERS.update({"max_texts": int, "max_body_bytes": int})


@serve.deployment
class KorsentDeployment:
    """One replica: the models loaded and warmed in the constructor, then batched requests."""

    def __init__(self, settings: str) -> None:
        self.service = AnalysisService(ServerSettings.from_json(settings))
        self.service.load()

    async def __call__(self, request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > self.service.settings.max_body_bytes:
            limit = self.service.settings.max_body_bytes
            return JSONResponse({"detail": f"body: over {limit:,} bytes"}, 413)
        try:
            parsed = AnalyzeRequest.model_validate_json(body)
        except ValidationError as err:
            detail = err.errors(include_url=False, include_input=False, include_context=False)
            return JSONResponse({"detail": detail}, 422)
        try:
            response = await self.service.analyze(parsed)
        except ServiceError as err:
            return JSONResponse({"detail": err.detail}, err.status, headers=err.headers)
        return JSONResponse(response.model_dump())

    async def analyze(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The answer to a ``POST /analyze`` body given as a dict (a ServiceError or pydantic's
        ValidationError for a request the server would refuse)."""
        response = await self.service.analyze(AnalyzeRequest.model_validate(payload))
        return response.model_dump()

    def check_health(self) -> None:
        """Ray's health check: a replica whose models are not ready is restarted."""
        if not self.service.ready:
            raise RuntimeError("the models are not ready")


def build(args: dict[str, str]) -> Any:
    """The application ``serve run spacy_korsent.serving.ray_serve:build key=value ...`` starts.

    Keys: ``task``, ``sentiment_model``, ``emotion_model``, ``sentences``, ``backend``,
    ``device``, ``max_length``, ``truncate`` (as ``korsent serve``'s options), the batching
    limits ``max_batch_tokens``, ``max_wait_ms``, ``max_queue``, ``max_texts``,
    ``max_body_bytes``, and ``num_replicas`` and ``cpus_per_replica`` (default 1 and 2).
    """
    known = {"task", "sentiment_model", "emotion_model", "backend", "device", "num_replicas"}
    known |= {"cpus_per_replica", *_FLAGS, *_NUMBERS}
    unknown = sorted(set(args) - known)
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)}; known: {sorted(known)}")
    replicas, cpus = int(args.get("num_replicas", 1)), float(args.get("cpus_per_replica", 2))
    return deployment(settings_from(args), num_replicas=replicas, cpus_per_replica=cpus)


def deployment(settings: ServerSettings, *, num_replicas: int, cpus_per_replica: float) -> Any:
    """The bound application of ``num_replicas`` replicas serving ``settings``."""
    return KorsentDeployment.options(  # type: ignore[attr-defined]
        num_replicas=num_replicas, ray_actor_options={"num_cpus": cpus_per_replica}
    ).bind(settings.to_json())


def settings_from(args: dict[str, str]) -> ServerSettings:
    """``ServerSettings`` from ``serve run``'s key=value arguments (all strings)."""
    task = args.get("task", "sentiment")
    if task not in TASKS:
        raise ValueError(f"task={task!r}: one of {', '.join(TASKS)}")
    chosen = {SENTIMENT: args.get("sentiment_model"), EMOTION: args.get("emotion_model")}
    flags = {name: args.get(name, "false").lower() in ("1", "true", "yes") for name in _FLAGS}
    numbers = {name: kind(args[name]) for name, kind in _NUMBERS.items() if name in args}
    pipeline = PipelineOptions(
        backend=args.get("backend", "torch"),
        device=args.get("device"),
        max_length=numbers.pop("max_length", None),
        truncate=flags["truncate"],
    )
    return ServerSettings(
        models={factory: chosen[factory] for factory in TASKS[task]},
        pipeline=pipeline,
        sentences=flags["sentences"],
        **numbers,
    )
