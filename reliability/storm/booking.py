"""Experiment 1, the booking storm: per round, ``clients`` users book one slot at the same
instant; exactly one 201, ``clients - 1`` 409, and the stored holder is the 201's user."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from reliability.storm.client import (
    CONNECTION_ERRORS,
    Client,
    appointments,
    future_start,
    new_doctor,
    read_slot,
)
from reliability.storm.crowd import connections_per_worker, released_together
from tests.ops.procs import Gunicorn, booking_path


def _status_key(status: int | str) -> str:
    return str(status)


# --- 1. booking storm ---------------------------------------------------------------------------


@dataclass
class Round:
    fecha_hora: str
    statuses: dict[str, int]
    winners: list[str]
    stored_estado: str | None
    stored_user: str | None
    seconds: float
    per_worker: list[int]
    perfect: bool = False


def booking_storm(server: Gunicorn, clients: int, rounds: int, run_id: str) -> dict[str, Any]:
    """``rounds`` rounds of ``clients`` users booking one slot at the same instant."""
    port = server.port
    doctor_id, times = new_doctor(port, rounds, future_start(days=3))
    users = [f"storm-{run_id}-u{n:03d}" for n in range(clients)]
    results: list[Round] = []
    retries = 0
    started = time.monotonic()
    for fecha_hora in times:
        path = booking_path(doctor_id, fecha_hora)
        statuses: list[int | str] = [""] * clients
        clients_open = [Client(port) for _ in range(clients)]  # connected before the barrier

        def book(n: int, barrier: threading.Barrier, path=path, statuses=statuses, cs=clients_open):
            barrier.wait()
            try:
                status, _ = cs[n].request("PUT", path, {"user_id": users[n], "motivo": "tormenta"})
            except CONNECTION_ERRORS as exc:
                status = f"error:{type(exc).__name__}"
            statuses[n] = status

        round_start = time.monotonic()
        released_together(clients, book)
        seconds = time.monotonic() - round_start
        retries += sum(c.retries for c in clients_open)
        per_worker = connections_per_worker(server)  # before the clients hang up
        for c in clients_open:
            c.close()
        stored = read_slot(port, doctor_id, fecha_hora)
        counts = Counter(_status_key(s) for s in statuses)
        winners = [users[n] for n, s in enumerate(statuses) if s == 201]
        result = Round(
            fecha_hora,
            dict(sorted(counts.items())),
            winners,
            stored.get("estado"),
            stored.get("user_id"),
            round(seconds, 3),
            per_worker,
        )
        result.perfect = (
            counts == Counter({"201": 1, "409": clients - 1})
            and stored.get("estado") == "reservado"
            and stored.get("user_id") == winners[0]
        )
        results.append(result)
    elapsed = time.monotonic() - started

    # Every user's own list: each slot held exactly once, by the round's winner.
    held_by: dict[str, list[str]] = {t: [] for t in times}
    for user in users:
        for doctor, fecha_hora in appointments(port, user):
            if doctor == doctor_id:
                held_by.setdefault(fecha_hora, []).append(user)
    holder_problems = []
    for result in results:
        holders = held_by[result.fecha_hora]
        if holders != result.winners or len(holders) != 1:
            holder_problems.append(
                f"{result.fecha_hora}: holders {holders}, 201 to {result.winners}"
            )
    totals = Counter()
    for result in results:
        totals.update(result.statuses)
    return {
        "clients": clients,
        "rounds": rounds,
        "requests": clients * rounds,
        "statuses": dict(sorted(totals.items())),
        "count_201": totals.get("201", 0),
        "count_409": totals.get("409", 0),
        "count_5xx": sum(v for k, v in totals.items() if k.startswith("5")),
        "count_other": sum(v for k, v in totals.items() if k not in {"201", "409"}),
        "perfect_rounds": sum(r.perfect for r in results),
        "holder_problems": holder_problems,
        "connection_retries": retries,
        "seconds": round(elapsed, 2),
        "max_round_seconds": max(r.seconds for r in results),
        "rounds_on_several_workers": sum(sum(1 for n in r.per_worker if n) >= 2 for r in results),
        "rounds_detail": [asdict(r) for r in results],
        "ok": all(r.perfect for r in results) and not holder_problems,
    }
