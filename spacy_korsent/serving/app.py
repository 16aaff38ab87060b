"""The ASGI application: ``POST /analyze``, ``GET /health``, ``GET /metrics``, ``/docs``.

The models load in the background after the server starts, so that ``/health`` can say 503
until they are loaded and warmed (a load balancer or Kubernetes waits for its 200). Every request
to ``/analyze`` is measured (latency and status, whatever answered it) and its body limited
before it is read; a caller that goes away while its request waits frees its place in the queue
(logged as status 499, nginx's "client closed request").
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .metrics import CONTENT_TYPE
from .service import AnalysisService, AnalyzeRequest, AnalyzeResponse, ServerSettings, ServiceError

SETTINGS_ENV = "KORSENT_SERVE_SETTINGS"
"""Where ``korsent serve --workers N`` hands each worker process its settings (JSON)."""
CLIENT_GONE = 499

log = logging.getLogger("korsent.serve")

ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"description": "More texts than --max-texts, or a body over --max-body-bytes"},
    422: {"description": "Malformed JSON, a field of the wrong type or value (named in detail)"},
    429: {"description": "The queue is full (--max-queue): retry after Retry-After seconds"},
    503: {"description": "The models are still loading, or the server is shutting down"},
}


def create_app(settings: ServerSettings) -> FastAPI:
    """A server for ``settings``; the models load when it starts (its lifespan)."""
    service = AnalysisService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(_load(service))
        yield
        await loading
        await service.stop()

    app = FastAPI(
        title="spacy-korsent",
        version=__version__,
        description="Korean sentiment and emotion analysis; see the README's 'Serving' section.",
        lifespan=lifespan,
    )
    app.state.service = service

    @app.post("/analyze", response_model=AnalyzeResponse, responses=ERRORS)
    async def analyze(body: AnalyzeRequest, request: Request) -> Any:
        """Sentiment and emotions of one text or a list of texts, batched with other requests."""
        work = asyncio.ensure_future(service.analyze(body))
        gone = asyncio.ensure_future(_disconnected(request))
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()  # leaves the queue
            return Response(status_code=CLIENT_GONE)
        gone.cancel()
        try:
            return work.result()
        except ServiceError as err:
            return JSONResponse({"detail": err.detail}, err.status, headers=err.headers)

    @app.get("/health", responses={503: {"description": "Not ready (yet)"}})
    async def health() -> JSONResponse:
        """200 once the models are loaded and warmed; 503 before (or if they failed to load)."""
        if service.ready:
            return JSONResponse({"status": "ready"})
        if service.failure:
            return JSONResponse({"status": "failed", "detail": service.failure}, 503)
        return JSONResponse({"status": "loading"}, 503)

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics (text format)."""
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    app.add_middleware(AnalyzeGuard, service=service)
    return app


def app_from_environment() -> FastAPI:
    """The application of a worker process (``korsent serve --workers N``)."""
    return create_app(ServerSettings.from_json(os.environ[SETTINGS_ENV]))


async def _load(service: AnalysisService) -> None:
    started = time.monotonic()
    try:
        await service.start()
    except Exception as err:
        log.error("korsent serve: the models failed to load: %s", err)
        return
    log.info("korsent serve: ready in %.1f s", time.monotonic() - started)


async def _disconnected(request: Request) -> None:
    """Return when the client closes the connection (the body has been read before)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class AnalyzeGuard:
    """Around ``POST /analyze``: refuse a body over the limit (413) before reading it all, and
    count every answer by status with its latency."""

    def __init__(self, app: ASGIApp, service: AnalysisService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/analyze":
            await self.app(scope, receive, send)
            return
        limit = self.service.settings.max_body_bytes
        started = time.monotonic()
        status = 500
        too_large = HTTPException(
            413, f"body: over {limit:,} bytes (korsent serve --max-body-bytes)"
        )

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        read = 0

        async def receiving() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > limit:
                raise too_large
            return message

        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        try:
            if length.isdigit() and int(length) > limit:
                response = JSONResponse({"detail": too_large.detail}, 413)
                await response(scope, receive, sending)
            else:
                await self.app(scope, receiving, sending)
        finally:
            self.service.metrics.answered(status, time.monotonic() - started)
