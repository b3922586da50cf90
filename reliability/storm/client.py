"""The storms' HTTP side: one persistent connection per simulated client (``Client``), and
the admin's and users' reads the storms check their rules against (a doctor's slots, a user's
appointments), plus a fresh doctor with free slots to storm on."""

from __future__ import annotations

import http.client
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.ops.procs import ADMIN, AGENT, call

CONNECTION_ERRORS = (http.client.HTTPException, ConnectionError, TimeoutError, OSError)


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
    times = [utc(start + timedelta(minutes=step_min * n)) for n in range(count)]
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


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def future_start(days: int) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now + timedelta(days=days)
