"""Every acknowledged write survives the death of the whole server (DESIGN.md, failure rules).

Client threads stream bookings and session writes at a real gunicorn (2 workers x 4 threads) on
the embedded SQLite store; the moment enough of them have been acknowledged, with the stream
still running, the master and its workers are killed together (SIGKILL to the process group, as
``kill -9 -<pgid>`` or an OOM-killed container) or stopped with SIGTERM. A new server on the same
file must then hold every write that got a 2xx. Writes cut off without an answer may or may not
be there; nothing else may be.
"""

from __future__ import annotations

import http.client
import signal
import threading
import uuid
from pathlib import Path

import pytest

from tests.ops import procs
from tests.ops.procs import AGENT, running, send

BOOKING_THREADS = 3
BOOKINGS_PER_THREAD = 30
ACKED_BOOKINGS = 60  # stop the server once this many bookings are acknowledged ...
ACKED_SESSIONS = 20  # ... and this many session writes
SESSIONS_TO_TRY = 40


class Stream:
    """Writes in flight from several client threads, with every acknowledgement recorded."""

    def __init__(self, port: int, slots: list[tuple[str, str]], run_id: str) -> None:
        self.port = port
        self.run_id = run_id
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.stop = threading.Event()
        self.booked: dict[tuple[str, str], tuple[str, str]] = {}  # slot -> (user, motivo)
        self.sessions: dict[str, dict] = {}  # user -> data
        self.unexpected: list[str] = []
        per = len(slots) // BOOKING_THREADS
        self.threads = [
            threading.Thread(target=self._book, args=(n, slots[n * per : (n + 1) * per]))
            for n in range(BOOKING_THREADS)
        ]
        self.threads.append(threading.Thread(target=self._sessions))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"

    def _check(self) -> None:
        if len(self.booked) >= ACKED_BOOKINGS and len(self.sessions) >= ACKED_SESSIONS:
            self.enough.set()

    def _connection(self) -> http.client.HTTPConnection:
        # Keep-alive connections, as a real client pool would use.
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def _book(self, n: int, slots: list[tuple[str, str]]) -> None:
        conn = self._connection()
        user = f"dur-{self.run_id}-u{n}"
        try:
            for i, (doctor_id, fecha_hora) in enumerate(slots):
                if self.stop.is_set():
                    return
                motivo = f"revision {n}-{i}"
                try:
                    response = send(
                        conn,
                        "PUT",
                        procs.booking_path(doctor_id, fecha_hora),
                        {"user_id": user, "motivo": motivo},
                        AGENT,
                    )
                except (OSError, http.client.HTTPException):
                    return  # the server is gone: this write was never acknowledged
                with self.lock:
                    if response.status in (200, 201):
                        self.booked[(doctor_id, fecha_hora)] = (user, motivo)
                        self._check()
                    else:
                        self.unexpected.append(f"booking {response.status} {response.body}")
        finally:
            conn.close()

    def _sessions(self) -> None:
        conn = self._connection()
        try:
            for i in range(SESSIONS_TO_TRY):
                if self.stop.is_set():
                    return
                user = f"dur-{self.run_id}-s{i}"
                data = {"paso": "confirmar", "n": i, "especialidad": "cardiologia"}
                try:
                    response = send(conn, "PUT", f"/api/v1/sessions/{user}", {"data": data}, AGENT)
                except (OSError, http.client.HTTPException):
                    return
                with self.lock:
                    if response.status == 200:
                        self.sessions[user] = data
                        self._check()
                    else:
                        self.unexpected.append(f"session {response.status} {response.body}")
        finally:
            conn.close()


@pytest.mark.parametrize(
    ("how", "synchronous"),
    # NORMAL leaves out the fsync at commit: the commit is in the OS cache, which a killed
    # process does not take with it (a power loss would).
    [("SIGKILL", "full"), ("SIGTERM", "full"), ("SIGKILL", "normal")],
)
def test_acknowledged_writes_survive_the_server_dying(
    how: str, synchronous: str, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    env = procs.server_env(
        {
            **procs.sqlite_env(tmp_path / "data" / "h.db"),
            "HEALTH_API_SQLITE_SYNCHRONOUS": synchronous,
        }
    )
    run_id = uuid.uuid4().hex[:6]

    with running(env, tmp_path / "logs") as server:
        procs.seed(server.port)
        slots = procs.free_slots(server.port, BOOKING_THREADS * BOOKINGS_PER_THREAD)
        stream = Stream(server.port, slots, run_id)
        stream.start()
        try:
            finished = stream.enough.wait(timeout=60)
            # The stream is still running: the server dies with writes in flight.
            if how == "SIGKILL":
                server.kill_group(signal.SIGKILL)
                assert server.wait(timeout=10) == -signal.SIGKILL
            else:
                server.send_signal(signal.SIGTERM)
                assert server.wait(timeout=30) == 0
            procs.wait_for(server.group_gone, 10, "every worker to be gone")
        finally:
            stream.stop.set()
            stream.join()
        assert finished, (
            f"only {len(stream.booked)} bookings and {len(stream.sessions)} sessions acknowledged"
        )
        assert not stream.unexpected, stream.unexpected[:5]
        assert len(stream.booked) >= ACKED_BOOKINGS
        assert len(stream.sessions) >= ACKED_SESSIONS

    with running(env, tmp_path / "logs") as again:
        held: dict[tuple[str, str], tuple[str, str]] = {}
        for n in range(BOOKING_THREADS):
            user = f"dur-{run_id}-u{n}"
            for slot in procs.appointments(again.port, user):
                held[(slot["doctor_id"], slot["fecha_hora"])] = (slot["user_id"], slot["motivo"])
        lost = {slot: who for slot, who in stream.booked.items() if held.get(slot) != who}
        assert not lost, f"{len(lost)} of {len(stream.booked)} acknowledged bookings lost: {lost}"
        # Anything beyond the acknowledged set is a write cut off mid-answer: at most one per
        # client thread.
        assert len(held) - len(stream.booked) <= BOOKING_THREADS

        for user, data in stream.sessions.items():
            response = procs.call(again.port, "GET", f"/api/v1/sessions/{user}", headers=AGENT)
            assert response.status == 200, f"acknowledged session {user} lost: {response.body}"
            assert response.body["data"] == data
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 0
