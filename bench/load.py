"""Load generators: wrk (when installed) or a keep-alive asyncio client on raw streams.

Both hold ``concurrency`` keep-alive connections for a fixed time and cycle through the target's
paths (each connection takes the next path, so booking runs hand every request its own slot).
wrk is preferred: it is C and costs the 2 shared cores far less than any Python client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("wrk_paths.lua")


@dataclass(frozen=True)
class Target:
    """What to send: ``method`` on each of ``paths`` in turn, with ``body`` (JSON) if any."""

    name: str
    method: str
    paths: list[str]
    body: bytes | None = None
    auth: str | None = None
    idempotency_keys: bool = False  # a fresh Idempotency-Key header on every request


@dataclass
class LoadResult:
    """What one fixed-time run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx responses and socket errors
    wrapped: bool = False  # more requests than paths: some paths were sent twice
    rounds_rps: tuple[float, ...] = ()  # every round's requests/s when this is their median

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float | int | bool]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
            "paths_reused": self.wrapped,
            "rounds_rps": [round(r, 1) for r in self.rounds_rps] or [round(self.rps, 1)],
        }


def median_run(runs: list[LoadResult]) -> LoadResult:
    """The run with the median requests/s, carrying every run's rate; errors and path reuse
    of all runs are kept, so no round's failure hides behind the median."""
    ordered = sorted(runs, key=lambda r: r.rps)
    middle = ordered[len(ordered) // 2]
    return LoadResult(
        requests=middle.requests,
        seconds=middle.seconds,
        p50_ms=middle.p50_ms,
        p99_ms=middle.p99_ms,
        errors=sum(r.errors for r in runs),
        wrapped=any(r.wrapped for r in runs),
        rounds_rps=tuple(r.rps for r in runs),
    )


def generator_name(preferred: str = "auto") -> str:
    """``wrk`` when asked for (or ``auto``) and installed, else ``asyncio``."""
    if preferred in {"auto", "wrk"} and shutil.which("wrk"):
        return "wrk"
    if preferred == "wrk":
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    return "asyncio"


def run(port: int, target: Target, seconds: float, concurrency: int, generator: str) -> LoadResult:
    """Drive ``target`` on 127.0.0.1:``port`` for ``seconds`` with ``concurrency`` connections."""
    if generator == "wrk":
        return _run_wrk(port, target, seconds, concurrency)
    return asyncio.run(_run_asyncio(port, target, seconds, concurrency))


# --- wrk ----------------------------------------------------------------------------------------


def _run_wrk(port: int, target: Target, seconds: float, concurrency: int) -> LoadResult:
    threads = min(2, concurrency)
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as handle:
        handle.write("\n".join(target.paths) + "\n")
    env = dict(
        os.environ,
        BENCH_PATHS=handle.name,
        BENCH_THREADS=str(threads),
        BENCH_METHOD=target.method,
        BENCH_BODY=(target.body or b"").decode(),
        BENCH_AUTH=target.auth or "",
        BENCH_IDEMPOTENCY="1" if target.idempotency_keys else "",
        # Keys of one run never meet another run's (rounds book other slots with new keys).
        BENCH_RUN=secrets.token_hex(4),
    )
    try:
        proc = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(seconds, 1):.0f}s",
             "--timeout", "10s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}"],
            env=env, capture_output=True, text=True, timeout=seconds + 60, check=False,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(data[k] for k in ("status", "connect", "read", "write", "timeout"))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        wrapped=data["requests"] > len(target.paths),
    )


# --- asyncio ------------------------------------------------------------------------------------


def _request_bytes(target: Target, path: str, number: int = 0, run: str = "") -> bytes:
    lines = [f"{target.method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if target.auth:
        lines.append(f"Authorization: {target.auth}")
    if target.idempotency_keys:
        lines.append(f"Idempotency-Key: bench-{os.getpid()}-{run}-{number}")
    body = target.body or b""
    if target.body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    port: int, requests: itertools.cycle, deadline: float, latencies: list[float], errors: list
) -> None:
    reader = writer = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            writer.write(next(requests))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                errors.append(status)
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors.append(type(exc).__name__)
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _run_asyncio(port: int, target: Target, seconds: float, concurrency: int) -> LoadResult:
    run = secrets.token_hex(4)  # keys of one run never meet another run's
    requests = itertools.cycle(
        [_request_bytes(target, p, n, run) for n, p in enumerate(target.paths)]
    )
    latencies: list[float] = []
    errors: list = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection(port, requests, deadline, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(int(q * len(latencies)), len(latencies) - 1)] * 1000

    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=pct(0.50) if latencies else 0.0,
        p99_ms=pct(0.99) if latencies else 0.0,
        errors=len(errors),
        wrapped=len(latencies) > len(target.paths),
    )
