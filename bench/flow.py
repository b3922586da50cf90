"""The chatbot's conversation as a benchmark: availability -> hold -> book with ``hold_id``.

Each flow takes one slot of its own (the single-doctor specialty, whose slots no other run
books) and sends, on one keep-alive connection, the three requests a chatbot sends: the free
slots of that day, a hold on the slot, then the booking that consumes the hold. ``drive`` runs
``concurrency`` such clients in threads for a fixed time (or until the slots run out) and
reports flows per second and each step's p50/p99; ``count`` sends one flow in-process and counts
each step's storage calls (and DynamoDB's consumed capacity).
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import urllib.parse
from typing import Any

from bench import counters
from bench.dataset import SOLO_DOCTOR, SOLO_SPECIALTY, DataSet
from health_api import create_app

API = "/api/v1"
STEPS = ("availability", "hold", "book_with_hold")


def flow_slots(data: DataSet) -> list[str]:
    """The single-doctor specialty's slots from day 1 to the day before the last (the last day
    is :func:`bench.endpoints.count_only`'s), in time order; the first is :func:`count`'s."""
    from bench.dataset import SLOTS_PER_DAY

    return [
        data.slot_time(day, slot)
        for day in range(1, data.size.days - 1)
        for slot in range(SLOTS_PER_DAY)
    ]


def _requests(fecha_hora: str, user_id: str) -> list[tuple[str, str, dict | None]]:
    day = fecha_hora[:10]
    query = urllib.parse.urlencode(
        {
            "especialidad": SOLO_SPECIALTY,
            "desde": f"{day}T00:00:00Z",
            "hasta": f"{day}T23:59:59Z",
            "limit": 5,
        }
    )
    hold = {"doctor_id": SOLO_DOCTOR, "fecha_hora": fecha_hora, "user_id": user_id}
    return [
        ("GET", f"{API}/availability?{query}", None),
        ("POST", f"{API}/holds", hold),
        ("PUT", f"{API}/doctors/{SOLO_DOCTOR}/schedules/{fecha_hora}/booking", None),
    ]


def _booking_body(user_id: str, hold_id: str) -> dict:
    return {"user_id": user_id, "motivo": "primera consulta", "hold_id": hold_id}


def count(settings: Any, store: Any, backend: str, fecha_hora: str, auth: str) -> dict[str, Any]:
    """One flow in-process: each step's status and storage calls (``counters.summarize``)."""
    client = create_app(
        {"settings": settings.replace(log_level="WARNING"), "storage": store}
    ).test_client()
    headers = {"Authorization": auth}
    results: dict[str, Any] = {}
    user_id = "bench-flow-count"
    hold_id = ""
    with counters.counting(store, backend) as counter:
        for step, (method, path, body) in zip(STEPS, _requests(fecha_hora, user_id), strict=True):
            if step == "book_with_hold":
                body = _booking_body(user_id, hold_id)
            counter.reset()
            counter.take_capacity()
            response = client.open(path, method=method, json=body, headers=headers)
            counts = counter.reset()
            results[step] = {"status": response.status_code, **counters.summarize(backend, counts)}
            if backend != "sqlite":
                results[step]["capacity"] = counter.take_capacity()
            if step == "hold":
                hold_id = (response.get_json() or {}).get("hold_id", "")
    return results


def drive(
    port: int, slots: list[str], auth: str, seconds: float, concurrency: int
) -> dict[str, Any]:
    """``concurrency`` clients run flows on ``slots`` (one each) for ``seconds`` at most."""
    lock = threading.Lock()
    pending = list(reversed(slots))
    latencies: dict[str, list[float]] = {step: [] for step in STEPS}
    statuses: dict[str, int] = {}
    done = [0]
    deadline = time.perf_counter() + seconds

    def take() -> str | None:
        with lock:
            return pending.pop() if pending and time.perf_counter() < deadline else None

    def client(number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while (fecha_hora := take()) is not None:
                _one_flow(conn, fecha_hora, f"bench-flow-{number}", auth, latencies, statuses, lock)
                with lock:
                    done[0] += 1
        finally:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "flows": done[0],
        "seconds": round(elapsed, 2),
        "flows_per_second": round(done[0] / elapsed, 1) if elapsed else 0.0,
        "statuses": statuses,
        "steps": {step: _percentiles(values) for step, values in latencies.items()},
    }


def _one_flow(conn, fecha_hora, user_id, auth, latencies, statuses, lock) -> None:
    hold_id = ""
    for step, (method, path, body) in zip(STEPS, _requests(fecha_hora, user_id), strict=True):
        if step == "book_with_hold":
            body = _booking_body(user_id, hold_id)
        headers = {"Authorization": auth}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        began = time.perf_counter()
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        took = (time.perf_counter() - began) * 1000
        with lock:
            latencies[step].append(took)
            key = f"{step} {response.status}"
            statuses[key] = statuses.get(key, 0) + 1
        if step == "hold":
            hold_id = json.loads(answer or b"{}").get("hold_id", "")


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "count": 0}
    ordered = sorted(values)
    p99 = ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "count": len(ordered),
    }
