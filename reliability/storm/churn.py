"""Experiment 2, churn: users loop book -> cancel on one slot while a checker reads it; two
users' holds may never overlap, and every holder the checker sees is explained by a booking
in flight or held. The pure checks (``overlapping_holds``, ``unexplained_observations``) are
unit-tested in tests/reliability/test_races.py."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reliability.storm.client import (
    CONNECTION_ERRORS,
    Client,
    appointments,
    future_start,
    new_doctor,
    read_slot,
)
from reliability.storm.crowd import checked_while
from tests.ops.procs import ADMIN, booking_path


@dataclass
class Hold:
    user: str
    book_sent: float  # before the PUT that won was sent
    acquired: float  # its 201 arrived: the store had this user as the holder by then
    release_sent: float  # before the DELETE was sent: still the holder until then
    released: float  # its 204 arrived


@dataclass
class Observation:
    sent: float
    received: float
    estado: str
    user_id: str | None


def overlapping_holds(holds: list[Hold]) -> list[str]:
    """Pairs of holds that overlap. A hold certainly lasted from its 201's arrival until its
    cancel was sent (the store had that user as the holder all along), so any overlap of two
    such intervals is two holders at once."""
    overlaps = []
    latest: Hold | None = None
    for hold in sorted(holds, key=lambda h: h.acquired):
        if latest is not None and hold.acquired < latest.release_sent:
            overlaps.append(f"{hold.user} held it while {latest.user} did")
        if latest is None or hold.release_sent > latest.release_sent:
            latest = hold
    return overlaps


def unexplained_observations(observations: list[Observation], holds: list[Hold]) -> list[str]:
    """Reads of the slot that no hold explains: a free slot naming a user, or a holder with no
    booking of its own in flight or held while the read was."""
    by_user: dict[str, list[Hold]] = {}
    for hold in holds:
        by_user.setdefault(hold.user, []).append(hold)
    unexplained = []
    for seen in observations:
        if seen.estado == "disponible":
            if seen.user_id is not None:
                unexplained.append(f"free slot with user {seen.user_id}")
            continue
        candidates = by_user.get(seen.user_id or "", [])
        if not any(h.book_sent <= seen.received and h.released >= seen.sent for h in candidates):
            unexplained.append(f"{seen.estado} by {seen.user_id} at {seen.sent:.3f}")
    return unexplained


def churn(port: int, clients: int, iterations: int, run_id: str) -> dict[str, Any]:
    """``clients`` users loop book -> cancel on one slot, ``iterations`` booking attempts each,
    while a checker reads the slot."""
    doctor_id, (fecha_hora,) = new_doctor(port, 1, future_start(days=5))
    path = booking_path(doctor_id, fecha_hora)
    users = [f"churn-{run_id}-u{n:02d}" for n in range(clients)]
    lock = threading.Lock()
    holds: list[Hold] = []
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    observations: list[Observation] = []
    done = threading.Event()
    retries = [0]

    def checker() -> None:
        reader = Client(port)
        slot_path = f"/api/v1/doctors/{doctor_id}/schedules?" + urllib.parse.urlencode(
            {"desde": fecha_hora, "hasta": fecha_hora}
        )
        try:
            while not done.is_set():
                sent = time.monotonic()
                status, body = reader.request("GET", slot_path, headers=ADMIN)
                received = time.monotonic()
                if status != 200 or len(body["items"]) != 1:
                    with lock:
                        problems.append(f"checker read {status}: {body}")
                    continue
                item = body["items"][0]
                observations.append(
                    Observation(sent, received, item["estado"], item.get("user_id"))
                )
        finally:
            reader.close()

    def loop(n: int, barrier: threading.Barrier) -> None:
        client = Client(port)
        user = users[n]
        cancel_path = f"{path}?user_id={user}"
        barrier.wait()
        try:
            for _ in range(iterations):
                book_sent = time.monotonic()
                status, body = client.request("PUT", path, {"user_id": user})
                acquired = time.monotonic()
                with lock:
                    statuses[f"book {status}"] += 1
                if status == 409:
                    continue
                if status != 201:
                    with lock:
                        problems.append(f"{user} booking answered {status}: {body}")
                    continue
                release_sent = time.monotonic()
                status, body = client.request("DELETE", cancel_path)
                released = time.monotonic()
                with lock:
                    statuses[f"cancel {status}"] += 1
                    holds.append(Hold(user, book_sent, acquired, release_sent, released))
                    if status != 204:
                        problems.append(f"{user} cancel answered {status}: {body}")
        except CONNECTION_ERRORS as exc:
            with lock:
                problems.append(f"{user}: {type(exc).__name__}: {exc}")
        finally:
            with lock:
                retries[0] += client.retries
            client.close()

    elapsed = checked_while(checker, done, "churn-checker", clients, loop)

    overlaps = overlapping_holds(holds)
    unexplained = unexplained_observations(observations, holds)

    final = read_slot(port, doctor_id, fecha_hora)
    listed = [user for user in users if (doctor_id, fecha_hora) in appointments(port, user)]
    holders_expected = [final["user_id"]] if final["estado"] == "reservado" else []
    count_5xx = sum(v for k, v in statuses.items() if k.split()[1].startswith("5"))
    ok = (
        not overlaps
        and not unexplained
        and not problems
        and count_5xx == 0
        and len(listed) <= 1
        and listed == holders_expected
    )
    return {
        "clients": clients,
        "iterations": iterations,
        "statuses": dict(sorted(statuses.items())),
        "holds": len(holds),
        "count_5xx": count_5xx,
        "overlaps": overlaps,
        "checker_reads": len(observations),
        "checker_saw_held": sum(o.estado == "reservado" for o in observations),
        "unexplained": unexplained,
        "final_estado": final["estado"],
        "final_holders": listed,
        "problems": problems,
        "connection_retries": retries[0],
        "seconds": round(elapsed, 2),
        "ok": ok,
    }
