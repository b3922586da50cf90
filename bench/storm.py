"""No double booking under real concurrency: barrier-released booking storms, cancel/re-book
churn and reschedule storms against a real gunicorn (several worker processes, threads in each)
on SQLite or on DynamoDB (AWS's DynamoDB Local by default; moto's server answering one request
at a time with ``--dynamodb-engine moto``).

    python -m bench.storm --backend sqlite --clients 100 --rounds 20 --workers 2
    python -m bench.storm --backend dynamodb --clients 100 --rounds 20 --workers 2

Three experiments run on one server:

1. **Booking storm.** ``rounds`` future slots of one doctor; per round ``clients`` threads, each
   with its own HTTP connection already open, wait on a barrier and then book the round's slot
   as ``clients`` different users. Rule: exactly one 201 and ``clients - 1`` 409, no 5xx, and
   the stored slot (the doctor's schedule read with the admin key) names the 201's user. At the
   end every user's appointment list is read: each slot is held exactly once, by its winner.
2. **Churn.** ``churn_clients`` users loop book -> cancel on ONE slot. Each user's hold is
   known from its own answers: from the moment its 201 arrived until the moment it sent the
   cancel, the store must have it as the holder, so two such intervals may never overlap. A
   checker thread reads the slot meanwhile; every holder it sees must be a user whose booking
   was in flight or held at that time. At the end at most one user lists the slot.
3. **Reschedule storm.** ``reschedule_users`` users each hold one slot of
   ``reschedule_users + reschedule_free`` and keep moving to a random other slot (only the free
   ones can be won, so every move races the others for the same few slots). A checker thread
   reads the whole schedule meanwhile (one query: an atomic snapshot on SQLite and on the
   serialised moto server): always exactly ``reschedule_users`` booked slots by as many
   distinct users. At the end each user holds exactly one slot, the one its last 200 named.

Prints a summary, returns a dict (``run()``), and exits 1 when any rule broke.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.ops.procs import (
    ADMIN,
    AGENT,
    TCP_ESTABLISHED,
    Gunicorn,
    booking_path,
    call,
    create_tables,
    dynamodb_env,
    running,
    server_env,
    sqlite_env,
    tcp_entries,
)
from tests.reliability.servers import serial_moto_process
from tools.dynamodb_local import DynamoDBLocal

CONNECTION_ERRORS = (http.client.HTTPException, ConnectionError, TimeoutError, OSError)


@dataclass
class Config:
    """What to run; the defaults are the full-size figures of issue 6."""

    backend: str = "sqlite"
    clients: int = 100
    rounds: int = 20
    workers: int = 2
    threads: int = 16
    churn_clients: int = 50
    churn_iterations: int = 20
    reschedule_users: int = 20
    reschedule_free: int = 2
    reschedule_iterations: int = 20
    seed: int = 6
    workdir: Path | None = None
    dynamodb_engine: str = "dynamodb-local"  # or "moto" (its server, one request at a time)
    dynamodb_endpoint: str | None = None  # a DynamoDB Local already running (the test session's)


# --- HTTP ---------------------------------------------------------------------------------------


class Client:
    """One persistent HTTP/1.1 connection. A request that gets no answer at all because the
    server closed an idle keep-alive connection is sent again once on a new connection (every
    call used here is safe to repeat: a repeated booking by its holder is a 200, a repeated
    cancel a 204, a repeated reschedule a 200); each such retry is counted."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port = port
        self.timeout = timeout
        self.retries = 0
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        conn.connect()
        return conn

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        import json

        payload = None if body is None else json.dumps(body).encode()
        all_headers = dict(headers or AGENT)
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=all_headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise
                self.retries += 1
                self.conn = self._connect()
                continue
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = data
            return response.status, parsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def _get(port: int, path: str, query: dict[str, str], headers: dict[str, str]) -> Any:
    response = call(port, "GET", path + "?" + urllib.parse.urlencode(query), headers=headers)
    if response.status != 200:
        raise AssertionError(f"GET {path} answered {response.status}: {response.body}")
    return response.body


def read_slots(port: int, doctor_id: str, desde: str, hasta: str) -> list[dict[str, Any]]:
    """The doctor's slots in [desde, hasta] as the admin sees them (with ``user_id``); one page
    of at most 100, so one query."""
    page = _get(
        port,
        f"/api/v1/doctors/{doctor_id}/schedules",
        {"desde": desde, "hasta": hasta, "limit": "100"},
        ADMIN,
    )
    if page["next_cursor"]:
        raise AssertionError("read_slots is for at most 100 slots")
    return page["items"]


def read_slot(port: int, doctor_id: str, fecha_hora: str) -> dict[str, Any]:
    items = read_slots(port, doctor_id, fecha_hora, fecha_hora)
    if len(items) != 1:
        raise AssertionError(f"slot {doctor_id} {fecha_hora} read back as {items}")
    return items[0]


def appointments(port: int, user_id: str) -> list[tuple[str, str]]:
    """(doctor_id, fecha_hora) of every booking the user holds (all pages)."""
    held: list[tuple[str, str]] = []
    cursor = None
    while True:
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = _get(port, f"/api/v1/users/{user_id}/appointments", query, AGENT)
        held += [(item["doctor_id"], item["fecha_hora"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return held


def new_doctor(port: int, count: int, start: datetime, step_min: int = 30) -> tuple[str, list[str]]:
    """A fresh doctor with ``count`` free slots from ``start`` every ``step_min`` minutes."""
    doctor_id = f"storm-{uuid.uuid4().hex[:10]}"
    made = call(
        port,
        "POST",
        "/api/v1/doctors",
        {"doctor_id": doctor_id, "nombre": "Dra. Tormenta", "especialidad": "Neumología"},
        ADMIN,
    )
    if made.status != 201:
        raise AssertionError(f"creating the doctor answered {made.status}: {made.body}")
    times = [_utc(start + timedelta(minutes=step_min * n)) for n in range(count)]
    added = call(
        port,
        "POST",
        f"/api/v1/doctors/{doctor_id}/schedules",
        {"slots": [{"fecha_hora": t, "duracion_min": step_min} for t in times]},
        ADMIN,
    )
    if added.status != 201 or added.body["created"] != count:
        raise AssertionError(f"adding slots answered {added.status}: {added.body}")
    return doctor_id, times


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _future_start(days: int) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(days=days)


def _released_together(count: int, work: Callable[[int, threading.Barrier], None]) -> None:
    """Run ``work(n, barrier)`` on ``count`` threads that share one barrier; wait for all."""
    barrier = threading.Barrier(count)
    threads = [
        threading.Thread(target=work, args=(n, barrier), name=f"storm-{n}") for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if any(thread.is_alive() for thread in threads):
        raise AssertionError("a client thread hung")


def _checked_while(
    checker: Callable[[], None],
    done: threading.Event,
    name: str,
    count: int,
    work: Callable[[int, threading.Barrier], None],
) -> float:
    """Run ``work`` on ``count`` threads (``_released_together``) while ``checker`` watches
    from its own thread; set ``done`` to stop it; the seconds the storm took."""
    check_thread = threading.Thread(target=checker, name=name)
    started = time.monotonic()
    check_thread.start()
    try:
        _released_together(count, work)
    finally:
        done.set()
        check_thread.join(timeout=60)
    return time.monotonic() - started


def connections_per_worker(server: Gunicorn) -> list[int]:
    """How many established client connections each worker process holds right now (read
    from /proc): the proof that a storm's requests were served by several processes."""
    inodes = {
        inode
        for local, _, state, _, inode in tcp_entries()
        if local == server.port and state == TCP_ESTABLISHED
    }
    counts = []
    for pid in server.worker_pids():
        count = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                        count += 1
        counts.append(count)
    return sorted(counts, reverse=True)


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
    doctor_id, times = new_doctor(port, rounds, _future_start(days=3))
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
        _released_together(clients, book)
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


# --- 2. churn -----------------------------------------------------------------------------------


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


def snapshot_problem(items: list[dict[str, Any]], users: list[str], total: int) -> str | None:
    """What is wrong with one reading of a reschedule storm's slots, or None: there must be
    ``total`` slots, one booked per user, each user on exactly one."""
    booked = [item for item in items if item["estado"] == "reservado"]
    holders = [item.get("user_id") for item in booked]
    if len(items) != total or sorted(holders) != sorted(users):
        return f"{len(booked)} booked of {len(items)}, holders {dict(Counter(holders))}"
    return None


def churn(port: int, clients: int, iterations: int, run_id: str) -> dict[str, Any]:
    """``clients`` users loop book -> cancel on one slot, ``iterations`` booking attempts each,
    while a checker reads the slot."""
    doctor_id, (fecha_hora,) = new_doctor(port, 1, _future_start(days=5))
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

    elapsed = _checked_while(checker, done, "churn-checker", clients, loop)

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


# --- 3. reschedule storm ------------------------------------------------------------------------


def reschedule_storm(
    port: int, users_count: int, free: int, iterations: int, run_id: str, seed: int
) -> dict[str, Any]:
    """``users_count`` users, each holding one slot, keep rescheduling to random other slots
    of the same doctor (``free`` of them free at any time)."""
    total = users_count + free
    if total > 100:
        raise ValueError("at most 100 slots (one page per snapshot)")
    doctor_id, times = new_doctor(port, total, _future_start(days=7))
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

    elapsed = _checked_while(checker, done, "reschedule-checker", users_count, mover)

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


# --- the server ---------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(config: Config, workdir: Path) -> Iterator[Gunicorn]:
    """gunicorn (``config.workers`` x ``config.threads``) on the chosen backend."""
    extra = {
        "GUNICORN_WORKERS": str(config.workers),
        "GUNICORN_THREADS": str(config.threads),
        # The storm's clients open their connections before the barrier: keep them open.
        "GUNICORN_KEEPALIVE": "30",
        "LOG_LEVEL": "WARNING",
    }
    if config.backend == "sqlite":
        env = server_env(sqlite_env(workdir / "storm.db"), **extra)
        with running(env, workdir) as server:
            yield server
    elif config.backend == "dynamodb":
        with _dynamodb_endpoint(config, workdir) as url:
            env = server_env(dynamodb_env(url, f"storm{uuid.uuid4().hex[:6]}-"), **extra)
            # Fake credentials only: nothing from the developer's own AWS set-up.
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
                env.pop(name, None)
            env.update(
                AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
                AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-config"),
                AWS_EC2_METADATA_DISABLED="true",
            )
            create_tables(env)
            with running(env, workdir) as server:
                yield server
    else:
        raise ValueError(f"unknown backend {config.backend!r}")


@contextlib.contextmanager
def _dynamodb_endpoint(config: Config, workdir: Path) -> Iterator[str]:
    """The URL of the DynamoDB engine the storm runs on (started here unless given)."""
    if config.dynamodb_endpoint:
        yield config.dynamodb_endpoint
    elif config.dynamodb_engine == "moto":
        with serial_moto_process() as url:
            yield url
    else:
        with DynamoDBLocal(log_path=workdir / "dynamodb-local.log") as server:
            yield server.url


def run(config: Config) -> dict[str, Any]:
    """All three experiments on one fresh server; the results with an overall ``ok``."""
    with contextlib.ExitStack() as stack:
        workdir = config.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="storm-"))
        )
        run_id = uuid.uuid4().hex[:6]
        started = time.monotonic()
        with serving(config, workdir) as server:
            workers = len(server.worker_pids())
            result: dict[str, Any] = {
                "backend": config.backend,
                "workers": config.workers,
                "threads": config.threads,
                "worker_processes_seen": workers,
            }
            result["storm"] = booking_storm(server, config.clients, config.rounds, run_id)
            if config.churn_clients and config.churn_iterations:
                result["churn"] = churn(
                    server.port, config.churn_clients, config.churn_iterations, run_id
                )
            if config.reschedule_users and config.reschedule_iterations:
                result["reschedule"] = reschedule_storm(
                    server.port,
                    config.reschedule_users,
                    config.reschedule_free,
                    config.reschedule_iterations,
                    run_id,
                    config.seed,
                )
            result["server_errors_logged"] = sum(
                1 for line in server.log_lines() if '"level": "ERROR"' in line
            )
        result["seconds"] = round(time.monotonic() - started, 2)
        parts = [result[name]["ok"] for name in ("storm", "churn", "reschedule") if name in result]
        result["ok"] = all(parts) and result["server_errors_logged"] == 0
        return result


def summary(result: dict[str, Any]) -> str:
    """The figures, as printed."""
    s = result["storm"]
    lines = [
        f"backend {result['backend']}: gunicorn {result['workers']} workers x "
        f"{result['threads']} threads ({result['worker_processes_seen']} worker processes "
        f"seen), total {result['seconds']} s",
        f"  booking storm: {s['rounds']} rounds x {s['clients']} clients released by a barrier "
        f"= {s['requests']} bookings in {s['seconds']} s "
        f"(slowest round {s['max_round_seconds']} s)",
        f"    201 x {s['count_201']}, 409 x {s['count_409']}, 5xx x {s['count_5xx']}, "
        f"other x {s['count_other']}, connection retries {s['connection_retries']}",
        f"    perfect rounds (1 x 201, {s['clients'] - 1} x 409, stored holder = winner): "
        f"{s['perfect_rounds']}/{s['rounds']}; holder problems {len(s['holder_problems'])}",
        f"    rounds whose clients were served by >= 2 worker processes: "
        f"{s['rounds_on_several_workers']}/{s['rounds']} (connections per worker, round 1: "
        f"{s['rounds_detail'][0]['per_worker']})",
    ]
    for r in s["rounds_detail"]:
        if not r["perfect"]:
            lines.append(
                f"    BROKEN {r['fecha_hora']}: {r['statuses']} stored {r['stored_estado']} "
                f"{r['stored_user']} winners {r['winners']}"
            )
    lines += [f"    {p}" for p in s["holder_problems"][:10]]
    if "churn" in result:
        c = result["churn"]
        lines += [
            f"  churn: {c['clients']} clients x {c['iterations']} book attempts on one slot in "
            f"{c['seconds']} s: {c['statuses']}",
            f"    holds {c['holds']}, overlapping holds {len(c['overlaps'])}, 5xx x "
            f"{c['count_5xx']}; checker reads {c['checker_reads']} (held in "
            f"{c['checker_saw_held']}), unexplained holders {len(c['unexplained'])}; "
            f"at the end {c['final_estado']}, users listing it {len(c['final_holders'])}",
        ]
        lines += [f"    {p}" for p in (c["overlaps"] + c["unexplained"] + c["problems"])[:10]]
    if "reschedule" in result:
        m = result["reschedule"]
        lines += [
            f"  reschedule storm: {m['users']} users on {m['slots']} slots x {m['iterations']} "
            f"attempts in {m['seconds']} s: {m['statuses']}",
            f"    moves {m['moves']}, 5xx x {m['count_5xx']}; snapshots {m['snapshots']}, bad "
            f"{len(m['bad_snapshots'])}; end: users not holding exactly their one slot "
            f"{len(m['final_problems'])}",
        ]
        lines += [
            f"    {p}" for p in (m["problems"] + m["bad_snapshots"] + m["final_problems"])[:10]
        ]
    lines.append(
        f"  server ERROR log lines {result['server_errors_logged']}; "
        f"RESULT: {'PASS' if result['ok'] else 'FAIL'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    defaults = Config()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "dynamodb"), default=defaults.backend)
    parser.add_argument(
        "--dynamodb-engine",
        choices=("dynamodb-local", "moto"),
        default=defaults.dynamodb_engine,
        help="what serves DynamoDB: AWS's DynamoDB Local (default) or moto's server",
    )
    parser.add_argument(
        "--dynamodb-endpoint", default=None, help="use this running DynamoDB Local instead"
    )
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--churn-clients", type=int, default=defaults.churn_clients)
    parser.add_argument("--churn-iterations", type=int, default=defaults.churn_iterations)
    parser.add_argument("--reschedule-users", type=int, default=defaults.reschedule_users)
    parser.add_argument("--reschedule-free", type=int, default=defaults.reschedule_free)
    parser.add_argument("--reschedule-iterations", type=int, default=defaults.reschedule_iterations)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the server logs here")
    args = parser.parse_args(argv)
    if args.workers < 2:
        parser.error("--workers must be at least 2 (the race must cross processes)")
    config = Config(**vars(args))
    result = run(config)
    print(summary(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
