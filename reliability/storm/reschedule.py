"""Experiment 3, the reschedule storm: users each holding one slot keep moving to another
(only a few are free) while a checker reads the whole schedule; every snapshot has exactly
one booked slot per user, and at the end each user holds the slot its last 200 named."""

from __future__ import annotations

import random
import threading
import urllib.parse
from collections import Counter
from typing import Any

from reliability.storm.client import (
    CONNECTION_ERRORS,
    Client,
    appointments,
    future_start,
    new_doctor,
    read_slots,
)
from reliability.storm.crowd import checked_while
from tests.ops.procs import ADMIN, AGENT, booking_path, call


def snapshot_problem(items: list[dict[str, Any]], users: list[str], total: int) -> str | None:
    """What is wrong with one reading of a reschedule storm's slots, or None: there must be
    ``total`` slots, one booked per user, each user on exactly one."""
    booked = [item for item in items if item["estado"] == "reservado"]
    holders = [item.get("user_id") for item in booked]
    if len(items) != total or sorted(holders) != sorted(users):
        return f"{len(booked)} booked of {len(items)}, holders {dict(Counter(holders))}"
    return None


def reschedule_storm(
    port: int, users_count: int, free: int, iterations: int, run_id: str, seed: int
) -> dict[str, Any]:
    """``users_count`` users, each holding one slot, keep rescheduling to random other slots
    of the same doctor (``free`` of them free at any time)."""
    total = users_count + free
    if total > 100:
        raise ValueError("at most 100 slots (one page per snapshot)")
    doctor_id, times = new_doctor(port, total, future_start(days=7))
    desde, hasta = times[0], times[-1]
    users = [f"move-{run_id}-u{n:02d}" for n in range(users_count)]
    current: dict[str, str] = {}
    for user, fecha_hora in zip(users, times, strict=False):
        status, body = _once("PUT", port, booking_path(doctor_id, fecha_hora), {"user_id": user})
        if status != 201:
            raise AssertionError(f"initial booking answered {status}: {body}")
        current[user] = fecha_hora

    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    bad_snapshots: list[str] = []
    snapshots = [0]
    done = threading.Event()
    retries = [0]

    def check_snapshot(items: list[dict[str, Any]]) -> str | None:
        return snapshot_problem(items, users, total)

    def checker() -> None:
        reader = Client(port)
        query = urllib.parse.urlencode({"desde": desde, "hasta": hasta, "limit": "100"})
        try:
            while not done.is_set():
                status, body = reader.request(
                    "GET", f"/api/v1/doctors/{doctor_id}/schedules?{query}", headers=ADMIN
                )
                snapshots[0] += 1
                problem = f"read {status}" if status != 200 else check_snapshot(body["items"])
                if problem:
                    with lock:
                        bad_snapshots.append(problem)
        finally:
            reader.close()

    def mover(n: int, barrier: threading.Barrier) -> None:
        rng = random.Random(seed * 1000 + n)
        client = Client(port)
        user = users[n]
        barrier.wait()
        try:
            for _ in range(iterations):
                source = current[user]
                target = rng.choice([t for t in times if t != source])
                status, body = client.request(
                    "POST",
                    "/api/v1/appointments/reschedule",
                    {
                        "user_id": user,
                        "from": {"doctor_id": doctor_id, "fecha_hora": source},
                        "to": {"doctor_id": doctor_id, "fecha_hora": target},
                    },
                )
                reason = body.get("reason") if isinstance(body, dict) else None
                with lock:
                    statuses[f"{status} {reason}" if reason else str(status)] += 1
                if status == 200 and body.get("fecha_hora") == target:
                    current[user] = target
                elif status == 409 and reason == "to_taken":
                    continue
                else:
                    with lock:
                        problems.append(f"{user} {source} -> {target}: {status} {body}")
        except CONNECTION_ERRORS as exc:
            with lock:
                problems.append(f"{user}: {type(exc).__name__}: {exc}")
        finally:
            with lock:
                retries[0] += client.retries
            client.close()

    elapsed = checked_while(checker, done, "reschedule-checker", users_count, mover)

    final_problems = []
    final = read_slots(port, doctor_id, desde, hasta)
    problem = check_snapshot(final)
    if problem:
        final_problems.append(f"final schedule: {problem}")
    stored = {item["user_id"]: item["fecha_hora"] for item in final if item.get("user_id")}
    for user in users:
        held = [t for d, t in appointments(port, user) if d == doctor_id]
        if held != [current[user]] or stored.get(user) != current[user]:
            final_problems.append(
                f"{user} lists {held}, schedule says {stored.get(user)}, "
                f"its last 200 said {current[user]}"
            )
    count_5xx = sum(v for k, v in statuses.items() if k.startswith("5"))
    ok = not problems and not bad_snapshots and not final_problems and count_5xx == 0
    return {
        "users": users_count,
        "slots": total,
        "iterations": iterations,
        "statuses": dict(sorted(statuses.items())),
        "moves": statuses.get("200", 0),
        "count_5xx": count_5xx,
        "snapshots": snapshots[0],
        "bad_snapshots": bad_snapshots,
        "problems": problems,
        "final_problems": final_problems,
        "connection_retries": retries[0],
        "seconds": round(elapsed, 2),
        "ok": ok,
    }


def _once(method: str, port: int, path: str, body: Any) -> tuple[int, Any]:
    response = call(port, method, path, body, AGENT)
    return response.status, response.body
