"""The MCP server's latency per tool call against the REST call it wraps (issue 15).

``python -m health_api mcp`` runs on the store and keys of the run's REST service, beside the
gunicorn server the bench already drives. For each of five pairs (a tool and its REST request),
one MCP client and one REST client send ``calls`` requests each, one at a time, after
``warm`` warm-up calls; each MCP call is followed by the REST call it wraps, with the same
arguments, so a drift of the machine falls on both sides alike. Reported per side: p50 and
p90 in ms, and ratio = MCP p50 / REST p50 (1.5: the tool call takes 1.5 times as long).

The MCP client is the SDK's ``ClientSession`` over Streamable HTTP (initialized once; the
server is stateless and answers JSON), so its own JSON-RPC and pydantic work, and its check of
each result against the tool's output schema, are in the MCP figures; the REST client is a
plain keep-alive ``httpx2.AsyncClient``, the HTTP stack the SDK uses too. The MCP server is one
uvicorn process; REST is gunicorn (workers x threads), which makes no difference to one
client's sequential calls.

Writes take slots of their own: two doctors added for this comparison (one for holds, one for
bookings, a specialty no other endpoint queries), each call a distinct slot and every hold a
distinct user (holds are left to expire).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from bench import server
from bench.dataset import SLOTS_PER_DAY, SPECIALTIES, DataSet
from health_api.config import load_settings
from health_api.domain.models import Doctor, Slot
from health_api.storage.factory import build_storage

API = "/api/v1"
SPECIALTY = "Bench MCP"  # the write pairs' doctors: no other endpoint queries it
HOLD_DOCTOR, BOOK_DOCTOR = "bench-mcp-hold", "bench-mcp-book"
MOTIVO = "control anual"
NOTE = (
    "sequential latency, one client per side, each MCP call followed by the REST call it wraps; "
    "MCP client: the mcp SDK's ClientSession over Streamable HTTP (its JSON-RPC, pydantic and "
    "output-schema checks included), server: one uvicorn process (python -m health_api mcp, "
    "stateless, JSON answers); REST client: httpx2 keep-alive, server: the gunicorn service"
)


@dataclass(frozen=True)
class Pair:
    """A tool and the REST request it wraps; ``call(i)`` gives the ``i``-th call's tool
    arguments and its REST request (method, path, JSON body)."""

    tool: str
    request: str  # what the REST side sends, for the table
    call: Callable[[int], tuple[dict[str, Any], tuple[str, str, dict | None]]]


def pairs(data: DataSet, slots: dict[str, list[str]]) -> list[Pair]:
    """The five pairs over ``data``; ``slots`` holds each write pair's free slots, two per call
    (the MCP side takes the even ones, REST the odd ones)."""
    desde, hasta = data.probe_day
    specialties = [SPECIALTIES[i] for i in range(data.size.specialties)]
    doctors, users = data.doctor_ids, data.user_ids or ["bench-mcp-nobody"]

    def availability(i: int):
        args = {"especialidad": specialties[i % len(specialties)], "desde": desde}
        args |= {"hasta": hasta, "limit": 20}
        return args, ("GET", f"{API}/availability?{urllib.parse.urlencode(args)}", None)

    def doctor_slots(i: int):
        doctor_id = doctors[i % len(doctors)]
        window = {"desde": desde, "hasta": hasta, "limit": 20}
        path = f"{API}/doctors/{doctor_id}/schedules?{urllib.parse.urlencode(window)}"
        return {"doctor_id": doctor_id, **window}, ("GET", path, None)

    def hold(i: int):
        args = {"doctor_id": HOLD_DOCTOR, "fecha_hora": slots["hold"][2 * i]}
        args["user_id"] = f"bench-mcp-holder-{2 * i}"
        rest = {"doctor_id": HOLD_DOCTOR, "fecha_hora": slots["hold"][2 * i + 1]}
        rest["user_id"] = f"bench-mcp-holder-{2 * i + 1}"
        return args, ("POST", f"{API}/holds", rest)

    def book(i: int):
        mine, theirs = slots["book"][2 * i], slots["book"][2 * i + 1]
        args = {"doctor_id": BOOK_DOCTOR, "fecha_hora": mine, "user_id": "bench-mcp-booker"}
        path = f"{API}/doctors/{BOOK_DOCTOR}/schedules/{theirs}/booking"
        body = {"user_id": "bench-mcp-booker", "motivo": MOTIVO}
        return {**args, "motivo": MOTIVO}, ("PUT", path, body)

    def session(i: int):
        user_id = users[i % len(users)]
        return {"user_id": user_id}, ("GET", f"{API}/sessions/{user_id}", None)

    return [
        Pair("find_availability", "GET /availability", availability),
        Pair("list_doctor_slots", "GET /doctors/{id}/schedules", doctor_slots),
        Pair("hold_slot", "POST /holds", hold),
        Pair("book_appointment", "PUT .../booking", book),
        Pair("get_session", "GET /sessions/{user_id}", session),
    ]


def slot_times(data: DataSet, count: int) -> list[str]:
    """``count`` slot times from day 1 on, 16 a day (a write pair's doctor has one slot at each)."""
    return [data.slot_time(1 + n // SLOTS_PER_DAY, n % SLOTS_PER_DAY) for n in range(count)]


def add_write_slots(env: dict[str, str], data: DataSet, count: int) -> dict[str, list[str]]:
    """Two doctors of their own, with ``count`` free slots each from day 1 on (in the
    store of ``env``); the slot times by pair."""
    store = build_storage(load_settings(env))
    try:
        times = slot_times(data, count)
        made = {}
        for pair, doctor_id in (("hold", HOLD_DOCTOR), ("book", BOOK_DOCTOR)):
            store.doctors.create(Doctor(doctor_id, f"Dra. {doctor_id}", SPECIALTY))
            store.slots.add_many([Slot(doctor_id, when, 30) for when in times])
            made[pair] = times
        store.release()
        return made
    finally:
        store.close()


def compare(
    backend: str,
    env: dict[str, str],
    data: DataSet,
    rest_port: int,
    workdir: Path,
    opts: dict[str, Any],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Start the MCP server on ``env``'s store (``opts``: ``mcp_calls``, ``mcp_warm``) and
    measure every pair against the REST service on ``rest_port``; the ``mcp`` section of a
    backend's results."""
    calls, warm = opts["mcp_calls"], opts["mcp_warm"]
    slots = add_write_slots(env, data, 2 * (calls + warm))
    with server.mcp_http(env, workdir) as mcp_port:
        measured = asyncio.run(
            _measure(
                mcp_port,
                rest_port,
                pairs(data, slots),
                calls,
                warm,
                lambda result: log(line(backend, result)),
            )
        )
    return {
        "note": NOTE,
        "sdk": f"mcp {metadata.version('mcp')}",
        "calls": calls,
        "warm": warm,
        "pairs": measured,
    }


async def _measure(
    mcp_port: int,
    rest_port: int,
    todo: list[Pair],
    calls: int,
    warm: int,
    done: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """One MCP session and one REST client for all pairs, in turn; ``done`` sees each pair's
    figures as they come."""
    headers = {"Authorization": f"Bearer {server.AGENT_KEY}"}
    url = f"http://127.0.0.1:{mcp_port}/mcp"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as mcp_http,
        streamable_http_client(url, http_client=mcp_http) as (read, write),
        ClientSession(read, write) as session,
        httpx2.AsyncClient(
            base_url=f"http://127.0.0.1:{rest_port}", headers=headers, timeout=30
        ) as rest,
    ):
        await session.initialize()
        # As an agent does; the SDK then checks each result against the tool's output schema.
        await session.list_tools()
        measured = {}
        for pair in todo:
            measured[pair.tool] = await _pair(session, rest, pair, calls, warm)
            done(measured[pair.tool])
        return measured


async def _pair(session, rest, pair: Pair, calls: int, warm: int) -> dict[str, Any]:
    """``warm + calls`` alternating calls; the last ``calls`` of each side are measured."""
    sides: dict[str, dict[str, Any]] = {
        side: {"ms": [], "errors": 0, "first_error": None} for side in ("mcp", "rest")
    }
    for i in range(warm + calls):
        arguments, (method, path, body) = pair.call(i)
        began = time.perf_counter()
        result = await session.call_tool(pair.tool, arguments)
        took = (time.perf_counter() - began) * 1000
        failed = _text(result)[:300] if result.is_error else None
        _record(sides["mcp"], i >= warm, took, failed)
        began = time.perf_counter()
        response = await rest.request(method, path, json=body)
        took = (time.perf_counter() - began) * 1000
        failed = None if response.is_success else f"{response.status_code} {response.text[:300]}"
        _record(sides["rest"], i >= warm, took, failed)
    out = {"tool": pair.tool, "request": pair.request}
    for side, seen in sides.items():
        out[side] = {"calls": len(seen["ms"]), **_percentiles(seen["ms"])}
        out[side]["errors"] = seen["errors"]
        if seen["first_error"]:
            out[side]["first_error"] = seen["first_error"]
    rest_p50 = out["rest"]["p50_ms"]
    out["ratio"] = round(out["mcp"]["p50_ms"] / rest_p50, 2) if rest_p50 else 0.0
    return out


def _text(result) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content) or "(no text)"


def _record(side: dict[str, Any], measured: bool, ms: float, failed: str | None) -> None:
    """Only successful calls are timed; a failure (warm-up ones too) is counted and the first
    one kept, so a run with failures says so instead of timing error answers."""
    if failed is not None:
        side["errors"] += 1
        side["first_error"] = side["first_error"] or failed
    elif measured:
        side["ms"].append(ms)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p90_ms": 0.0}
    ordered = sorted(values)
    p90 = ordered[min(int(0.9 * len(ordered)), len(ordered) - 1)]
    return {"p50_ms": round(statistics.median(ordered), 2), "p90_ms": round(p90, 2)}


def line(backend: str, r: dict[str, Any]) -> str:
    """One pair's log line."""
    mcp, rest = r["mcp"], r["rest"]
    return (
        f"[{backend}] mcp {r['tool']:18s} "
        f"p50 {mcp['p50_ms']:6.2f} ms  p90 {mcp['p90_ms']:6.2f} ms  "
        f"vs REST {r['request']:28s} p50 {rest['p50_ms']:6.2f} ms  p90 {rest['p90_ms']:6.2f} ms  "
        f"ratio {r['ratio']:.2f}  errors {mcp['errors']}/{rest['errors']}"
    )


def table(figures: dict[str, Any]) -> list[str]:
    """The Markdown rows of a backend's ``mcp`` section."""
    lines = [
        f"\nMCP tool call vs the REST call it wraps ({figures['calls']} calls each after "
        f"{figures['warm']} warm-up; {figures['sdk']}): {figures['note']}\n",
        "| tool | REST request | MCP p50 ms | MCP p90 ms | REST p50 ms | REST p90 ms | "
        "ratio (p50) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for tool, r in figures["pairs"].items():
        mcp, rest = r["mcp"], r["rest"]
        lines.append(
            f"| {tool} | {r['request']} | {mcp['p50_ms']:.2f} | {mcp['p90_ms']:.2f} | "
            f"{rest['p50_ms']:.2f} | {rest['p90_ms']:.2f} | {r['ratio']:.2f} |"
        )
    return lines
