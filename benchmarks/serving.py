"""Serving over HTTP (issue 30): ``korsent serve`` against what users write today.

Every row is a real HTTP server on 127.0.0.1 in a process of its own, driven by an async httpx
client at 1, 16 and 64 concurrent clients, one NSMC review per request:

- ``korsent serve``: the batching server;
- plain endpoint: a FastAPI endpoint calling ``nlp(text)`` per request (a sync ``def``, run in
  FastAPI's thread pool), the same pipeline;
- transformers pipeline: ``transformers.pipeline("text-classification")`` behind the same
  endpoint (torch only);
- ``nlp.pipe`` over the same texts in this process, in calls of as many texts as there are
  clients (the most a batch of one request per client can reach), and in one call: the ceiling.

``--boot`` times instead a first and a second start of an onnx-int8 server on the model
directory, the first with an empty export cache (``$SPACY_KORSENT_CACHE``).

Then a 4x overload of ``korsent serve`` (4 x the most clients, with ``--max-queue`` at the most
clients): how many get 429, and the p99 latency of those accepted. Reported: requests/s (answered
with 200), p50/p95/p99 latency, errors (anything but 200; 429 in the overload row), the ratio to
the offline ceiling and to the plain endpoint, and the bound the issue sets on p99:
``--max-wait-ms`` + 3 batch times (the mean time of the batches of that row, from /metrics).

    python benchmarks/serving.py [--model DIR] [--int8-model DIR] [--backends torch onnx-int8]
        [--requests 512] [--clients 1 16 64]

The default model is the KoELECTRA-base-sized random classifier ``throughput.py`` builds (and
caches in $TMPDIR/korsent-bench), and for onnx-int8 its int8 export saved as a pipeline
(``korsent export --quantize``, made once here), so that no server spends its start exporting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/cpu.py, throughput.py
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from cpu import cpu_description, load_note  # noqa: E402
from markdown_report import add_option, recorded  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "tests" / "fixtures" / "nsmc_test_2000.txt"
VOCAB = ROOT / "tests" / "fixtures" / "koelectra-v1-vocab.txt"


# --- the servers ---------------------------------------------------------------------------


def plain_app(model: str, backend: str) -> Any:
    """What users write today: one ``nlp(text)`` per request."""
    from fastapi import FastAPI

    from spacy_korsent.components.pipeline import PipelineOptions, build_pipeline
    from spacy_korsent.components.registry import SENTIMENT

    nlp = build_pipeline({SENTIMENT: model}, PipelineOptions(backend=backend))
    app = FastAPI()

    @app.post("/analyze")
    def analyze(body: dict) -> dict:
        return {"results": [nlp(body["texts"])._.sentiment]}

    @app.get("/health")
    def health() -> dict:
        return {}

    return app


def transformers_app(model: str, backend: str) -> Any:
    """The transformers pipeline behind the same endpoint."""
    from fastapi import FastAPI
    from transformers import pipeline

    classify = pipeline("text-classification", model=model, device=-1)
    app = FastAPI()

    @app.post("/analyze")
    def analyze(body: dict) -> dict:
        return {"results": classify(body["texts"], truncation=True, top_k=None)}

    @app.get("/health")
    def health() -> dict:
        return {}

    return app


APPS = {"plain": plain_app, "transformers": transformers_app}


class Server:
    """A server process on a free port of 127.0.0.1, ready (its /health said 200) when entered."""

    def __init__(self, command: list[str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [*command, "--port", str(self.port)]

    def __enter__(self) -> Server:
        import httpx

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(self.command, env=env, stdout=subprocess.DEVNULL)
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} ended with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.start_seconds = time.monotonic() - started
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(60)

    def batch_totals(self) -> tuple[float, float]:
        """Seconds spent in batches and batches run so far, from the server's /metrics."""
        import httpx

        values = {"korsent_batch_seconds_sum": 0.0, "korsent_batch_seconds_count": 0.0}
        for line in httpx.get(f"{self.url}/metrics").text.splitlines():
            name, _, value = line.partition(" ")
            if name in values:
                values[name] = float(value)
        return values["korsent_batch_seconds_sum"], values["korsent_batch_seconds_count"]


def korsent_serve(model: str, backend: str, args: argparse.Namespace, **extra: int) -> Server:
    command = [sys.executable, "-m", "spacy_korsent", "serve", "--sentiment-model", model]
    command += ["--backend", backend, "--no-access-log", "--log-level", "warning"]
    command += ["--max-wait-ms", str(args.max_wait_ms)]
    command += ["--max-batch-tokens", str(args.max_batch_tokens)]
    for name, value in extra.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    return Server(command)


def other_server(app: str, model: str, backend: str) -> Server:
    script = str(Path(__file__).resolve())
    return Server([sys.executable, script, "--app", app, "--model", model, "--backend", backend])


# --- the client ----------------------------------------------------------------------------


async def drive(url: str, texts: list[str], clients: int) -> dict[str, Any]:
    """Send every text as one request, ``clients`` requests in flight at a time."""
    latencies: list[float] = []
    statuses: list[int] = []
    pending = iter(texts)
    host, port = url.removeprefix("http://").split(":")

    async def client() -> None:
        connection = Connection(host, int(port))
        try:
            for text in pending:
                started = time.perf_counter()
                status = await connection.post("/analyze", {"texts": text})
                statuses.append(status)
                if status == 200:
                    latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    return summary(latencies, statuses, seconds)


class Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the status and body.

    The load generator shares the two cores with the server: httpx spent 2 ms of CPU per
    request at 16 clients and 5.5 ms at 64, more than the int8 model's share of a batch, so the
    client, not the server, set the rate. This costs a fraction of that.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: Optional[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = None

    async def post(self, path: str, body: dict) -> int:
        """The response's status; -1 when the connection failed."""
        data = json.dumps(body, ensure_ascii=False).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            writer.write(head + data)
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
            await reader.readexactly(int(headers.get("content-length", 0)))
            if headers.get("connection") == "close":
                self.close()
            return int(lines[0].split()[1])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return -1

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


def summary(latencies: list[float], statuses: list[int], seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies) or [float("nan")]

    def quantile(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "per_second": len(latencies) / seconds,
        "p50": quantile(0.5),
        "p95": quantile(0.95),
        "p99": quantile(0.99),
        "errors": sum(status != 200 for status in statuses),
        "refused": sum(status == 429 for status in statuses),
    }


def offline(
    model: str, backend: str, texts: list[str], calls_of: list[int]
) -> list[tuple[str, str, dict[str, Any]]]:
    """Rows of ``nlp.pipe`` in this process, after a warm-up: over the texts in calls of each
    size in ``calls_of`` (what a server's batches of that many requests can reach at best), then
    over all of them in one call (the ceiling, last)."""
    from spacy_korsent.components.pipeline import PipelineOptions, build_pipeline
    from spacy_korsent.components.registry import SENTIMENT

    nlp = build_pipeline({SENTIMENT: model}, PipelineOptions(backend=backend))
    list(nlp.pipe(texts[:32]))

    def rate(size: int) -> dict[str, Any]:
        started = time.perf_counter()
        for start in range(0, len(texts), size):
            list(nlp.pipe(texts[start : start + size]))
        return {"per_second": len(texts) / (time.perf_counter() - started)}

    rows = [(f"`nlp.pipe` in calls of {size} texts", str(size), rate(size)) for size in calls_of]
    return [*rows, ("`nlp.pipe` offline (ceiling)", "-", rate(len(texts)))]


def boot(model: str, args: argparse.Namespace) -> str:
    """Seconds from starting ``korsent serve --backend onnx-int8`` on a model directory to its
    /health saying 200: first with an empty export cache, then again with the export it left."""
    times = []
    with tempfile.TemporaryDirectory(prefix="korsent-boot-cache-") as cache:
        os.environ["SPACY_KORSENT_CACHE"] = cache
        for _ in range(2):
            with korsent_serve(model, "onnx-int8", args) as server:
                times.append(server.start_seconds)
    del os.environ["SPACY_KORSENT_CACHE"]
    return (
        f"korsent serve --backend onnx-int8 {Path(model).name}, ready (/health 200) after: "
        f"{times[0]:.1f} s on the first start (empty export cache), {times[1]:.1f} s on the second"
    )


# --- the run -------------------------------------------------------------------------------


def models(args: argparse.Namespace, texts: list[str]) -> tuple[str, str]:
    """The float model directory and the int8 saved pipeline (built once, cached)."""
    import throughput

    if args.model and args.int8_model:
        return str(args.model), str(args.int8_model)
    built = throughput.build_models(
        argparse.Namespace(
            small=False, cache=args.cache, vocab=VOCAB, emotion_vocab=None, methods=[]
        ),
        texts[:256],
    )
    model = args.model or built["sentiment"]
    int8 = args.int8_model or built["int8-pipeline"]
    if not Path(int8).exists():
        print(f"exporting an int8 pipeline to {int8} ...", file=sys.stderr)
        export = ["export", str(model), str(int8), "--quantize"]
        subprocess.run([sys.executable, "-m", "spacy_korsent", *export], check=True)
    return str(model), str(int8)


def run_backend(
    backend: str, model: str, texts: list[str], args: argparse.Namespace
) -> list[tuple[str, str, dict[str, Any]]]:
    rows: list[tuple[str, str, dict[str, Any]]] = []
    warm = texts[:16]
    servers = [("korsent serve", lambda: korsent_serve(model, backend, args))]
    servers.append(("plain endpoint, nlp(text)", lambda: other_server("plain", model, backend)))
    if backend == "torch":
        transformers = ("transformers pipeline", lambda: other_server("transformers", model, ""))
        servers.append(transformers)
    for name, make in servers:
        with make() as server:
            asyncio.run(drive(server.url, warm, 4))
            for clients in args.clients:
                before = server.batch_totals() if name == "korsent serve" else None
                row = asyncio.run(drive(server.url, texts, clients))
                if before is not None:  # the mean time of this row's batches
                    seconds, count = (a - b for a, b in zip(server.batch_totals(), before))
                    row["batch"] = seconds / count if count else None
                rows.append((name, str(clients), row))
                print(f"  {backend} {name} {clients}: {row}", file=sys.stderr, flush=True)
    most = max(args.clients)
    with korsent_serve(model, backend, args, max_queue=most) as server:
        asyncio.run(drive(server.url, warm, 4))
        row = asyncio.run(drive(server.url, texts * 2, 4 * most))
        rows.append(("korsent serve, 4x overload", f"{4 * most}", row))
    rows += offline(model, backend, texts, args.clients)
    return rows


def table(backend: str, rows: list[tuple[str, str, dict[str, Any]]], wait_ms: float) -> str:
    ceiling = rows[-1][2]["per_second"]
    plain = {clients: row["per_second"] for name, clients, row in rows if name.startswith("plain")}
    lines = [
        f"backend {backend}",
        "| server | clients | requests/s | × nlp.pipe | × plain | p50 ms | p95 ms | p99 ms "
        "| p99 bound ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, clients, row in rows:
        rate = row["per_second"]
        vs_plain = f"{rate / plain[clients]:.2f}×" if clients in plain else "–"
        latency = [f"{row[q]:.0f}" if q in row else "–" for q in ("p50", "p95", "p99")]
        batch = row.get("batch")
        bound = f"{wait_ms + 3000 * batch:.0f}" if batch else "–"
        errors = row.get("errors", "–")
        if row.get("refused"):
            errors = f"{row['refused']} × 429"
        lines.append(
            f"| {name} | {clients} | {rate:.1f} | {rate / ceiling:.2f}× | {vs_plain} | "
            f"{' | '.join(latency)} | {bound} | {errors} |"
        )
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nsmc", type=Path, default=TEXTS, help="NSMC-format texts")
    parser.add_argument("--model", type=Path, help="a model directory (default: base-sized)")
    parser.add_argument("--int8-model", type=Path, help="its int8 saved pipeline")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx-int8"])
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--max-wait-ms", type=float, default=10.0)
    parser.add_argument("--max-batch-tokens", type=int, default=2048)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "korsent-bench",
        help="where the random models are kept between runs (throughput.py's)",
    )  # fmt: skip
    parser.add_argument(
        "--boot", action="store_true", help="only time a first and a second onnx-int8 start"
    )
    add_option(parser)
    parser.add_argument("--app", choices=list(APPS), help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.app:  # a peer server's process
        import uvicorn

        app = APPS[args.app](str(args.model), args.backend)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
        return 0
    from spacy_korsent.files.labelled import read_nsmc

    texts = read_nsmc(args.nsmc).texts[: args.requests]
    model, int8 = models(args, texts)
    print(f"CPU: {cpu_description()}; at the start: {load_note()}", flush=True)
    if args.boot:
        with recorded(args.markdown):
            print(f"{boot(model, args)}; {load_note()}")
        return 0
    tables = []
    for backend in args.backends:
        rows = run_backend(backend, int8 if backend == "onnx-int8" else model, texts, args)
        tables.append(table(backend, rows, args.max_wait_ms))
    with recorded(args.markdown):
        print(
            f"\n{len(texts)} NSMC reviews, one per request; model {Path(model).name} "
            f"(int8: {Path(int8).name}); --max-wait-ms {args.max_wait_ms:g}, --max-batch-tokens "
            f"{args.max_batch_tokens}; CPU: {cpu_description()}; {load_note()}\n"
        )
        print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
