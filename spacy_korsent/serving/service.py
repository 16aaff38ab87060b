"""What the HTTP server and the Ray Serve deployment share: the pipeline, the batcher, the limits,
and the shape of a request and of its answer.

A result is a text's fields as ``korsent analyze`` writes them and ``analyze_frame`` returns them
(:class:`~spacy_korsent.files.fields.ResultFields`): the values of ``doc._.sentiment`` and
``doc._.emotions``, and with ``sentences`` each sentence's. An empty or whitespace-only text gets
the components' empty answer (labels None, no scores, no emotions).
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from ..components.pipeline import TASKS, PipelineOptions, build_pipeline
from ..files.fields import ResultFields
from ..files.readers import replace_lone_surrogates
from .batcher import Batcher, QueueFull, Stopped
from .metrics import Metrics

if TYPE_CHECKING:
    from spacy.language import Language

    from ..components.classifier import KoreanClassifier

Task = Literal["sentiment", "emotion", "both"]
Result = dict[str, Any]

WARMUP_TEXTS = [
    "이 영화 정말 재미있어요! 배우들 연기도 최고!",
    "완전 별로... 시간 낭비했다.",
    "",
    "퇴직금으로 적립한 펀드 수익률이 많이 떨어졌어. " * 30,  # several windows
]
"""Run once before the server says it is ready: every backend's first pass is slow."""


class AnalyzeRequest(BaseModel):
    """``POST /analyze``: one text or a list of texts, and what to answer for them."""

    model_config = ConfigDict(extra="forbid")

    texts: Union[str, list[str]] = Field(
        description="One text, or a list of texts (at most the server's --max-texts)",
        examples=["배우들 연기가 최고였다", ["배우들 연기가 최고였다", "시간 낭비했다"]],
    )
    task: Optional[Task] = Field(
        None,
        description="sentiment, emotion or both (default: every analysis the server runs); "
        "the server must run the models it asks for (korsent serve -t)",
    )
    sentences: bool = Field(
        False,
        description="also answer each sentence's results (needs korsent serve --sentences)",
    )


class AnalyzeResponse(BaseModel):
    """One result per text, in the order given (a list of one for a single text)."""

    results: list[dict[str, Any]] = Field(
        description="Per text: sentiment, sentiment_score, sentiment_<label> (each label's "
        "probability); emotion, emotion_score, emotion_labels, emotion_group, emotions_top; "
        "with sentences, a list of {text, start, end, and the same fields} per sentence"
    )


class ServiceError(Exception):
    """A request the service answers with an HTTP error: its status, message and headers."""

    def __init__(self, status: int, detail: Any, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


@dataclass(frozen=True)
class ServerSettings:
    """What ``korsent serve`` starts a server with; JSON for worker processes and Ray replicas."""

    models: dict[str, Optional[str]]
    """Factory -> model (None: the factory's default model), as for ``build_pipeline``."""
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    sentences: bool = False
    max_batch_tokens: int = 2048
    max_wait_ms: float = 10.0
    max_queue: int = 1024
    """Texts waiting at most; more get 429."""
    max_texts: int = 128
    """Texts per request at most; more get 413."""
    max_body_bytes: int = 1 << 20
    """Bytes of a request body at most; more get 413."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerSettings:
        values = json.loads(text)
        return cls(**{**values, "pipeline": PipelineOptions(**values["pipeline"])})

    @property
    def task(self) -> str:
        """The analysis the server runs (``korsent analyze -t``)."""
        return next(name for name, factories in TASKS.items() if set(factories) == set(self.models))


class AnalysisService:
    """A pipeline behind a batcher: load it with :meth:`start`, answer with :meth:`analyze`."""

    def __init__(self, settings: ServerSettings, metrics: Optional[Metrics] = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.nlp: Optional[Language] = None
        self.fields: Optional[ResultFields] = None
        self.ready = False
        self.failure: Optional[str] = None
        self.batcher: Batcher[Result] = Batcher(
            self._process,
            max_batch_tokens=settings.max_batch_tokens,
            max_wait=settings.max_wait_ms / 1000,
            max_queue=settings.max_queue,
            observer=self.metrics,
        )
        self._tokenizer: Any = None
        self._engine: Any = None

    async def start(self) -> None:
        """Load and warm the models off the event loop; a failure is kept in ``failure`` and
        raised."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.load)
        except Exception as err:
            self.failure = str(err)
            raise

    def load(self) -> None:
        """Build the pipeline and run the warm-up texts through it on the batch thread; the
        service is ``ready`` after."""
        nlp = build_pipeline(
            dict(self.settings.models), self.settings.pipeline, sentences=self.settings.sentences
        )
        self.nlp, self.fields = nlp, ResultFields(nlp)
        # Tokens are counted with the last classifier's tokenizer (a proxy for the other's).
        last: KoreanClassifier = nlp.get_pipe(nlp.pipe_names[-1])  # type: ignore[assignment]
        self._engine = last.stages.loaded()
        # A copy for counting tokens on the event loop while the batch thread tokenizes.
        self._tokenizer = copy.deepcopy(self._engine.tokenizer)
        self.batcher.run_now(WARMUP_TEXTS)
        self.ready = True

    async def stop(self) -> None:
        """Answer every request already queued, then stop."""
        await self.batcher.stop()

    def count_tokens(self, texts: list[str]) -> int:
        """Subword tokens the texts' windows hold (special tokens included): what the forward
        passes of a batch cost."""
        engine = self._engine
        ids = self._tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        extra = len(engine.prefix) + len(engine.suffix)
        return sum(end - start + extra for one in ids for start, end in engine.spans(len(one)))

    async def analyze(self, request: AnalyzeRequest) -> AnalyzeResponse:
        """The results of the request's texts, once their batch has run."""
        if not self.ready:
            raise ServiceError(503, "the models are still loading", {"Retry-After": "5"})
        texts = [request.texts] if isinstance(request.texts, str) else request.texts
        if len(texts) > self.settings.max_texts:
            raise ServiceError(
                413,
                f"texts: {len(texts)} texts; this server takes at most "
                f"{self.settings.max_texts} per request (korsent serve --max-texts)",
            )
        keep = self._kept_fields(request)
        if not texts:
            return AnalyzeResponse(results=[])
        texts = [replace_lone_surrogates(text) for text in texts]
        try:
            results = await self.batcher.submit(texts, self.count_tokens(texts))
        except QueueFull as full:
            raise ServiceError(
                429, f"{full}; the server is overloaded", {"Retry-After": str(full.retry_after)}
            ) from None
        except Stopped as stopped:
            raise ServiceError(503, str(stopped)) from None
        return AnalyzeResponse(results=[_only(result, keep) for result in results])

    def _kept_fields(self, request: AnalyzeRequest) -> set[str]:
        """The result fields the request asks for; a 422 naming the option the server cannot
        answer."""
        assert self.fields is not None
        task = request.task or self.settings.task
        missing = [f for f in TASKS[task] if f not in self.settings.models]
        if missing:
            raise ServiceError(
                422,
                _field_error(
                    "task",
                    f"this server runs {self.settings.task} only; start it with "
                    f"-t {task} to answer {task}",
                ),
            )
        if request.sentences and not self.settings.sentences:
            raise ServiceError(
                422,
                _field_error(
                    "sentences", "this server does not split sentences; start it with --sentences"
                ),
            )
        prefixes = {"sentiment": ("sentiment",), "emotion": ("emotion",)}.get(
            task, ("sentiment", "emotion")
        )
        keep = {name for name in self.fields.names if name.startswith(prefixes)}
        return keep | ({"text", "start", "end", "sentences"} if request.sentences else set())

    def _process(self, texts: list[str]) -> list[Result]:
        """Run on the batch thread: every text's fields, as ``nlp(text)`` gives them."""
        assert self.nlp is not None and self.fields is not None
        fields = self.fields
        return [fields.of(doc) for doc in self.nlp.pipe(texts, batch_size=len(texts))]


def _only(result: Result, keep: set[str]) -> Result:
    kept = {name: value for name, value in result.items() if name in keep}
    if "sentences" in kept:
        kept["sentences"] = [_only(sentence, keep) for sentence in kept["sentences"]]
    return kept


def _field_error(name: str, message: str) -> list[dict[str, Any]]:
    """A 422 body in FastAPI's own form, naming the field."""
    return [{"loc": ["body", name], "msg": message, "type": "value_error"}]
