"""The benchmarked endpoints: for each, the paths a load run cycles through and the one request
the storage-call counter sends.

Booking takes distinct free slots: the counter's request, the warm-up's and the load run's come
from disjoint slices, so every booking request really books (201), none is a retry.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from bench.dataset import SOLO_DOCTOR, SPECIALTIES, DataSet
from bench.load import Target

API = "/api/v1"
BOOKER = "bench-booker"
BOOKING_BODY = json.dumps({"user_id": BOOKER, "motivo": "control anual"}).encode()
SESSION_BODY = json.dumps(
    {
        "data": {"paso": "elegir_horario", "especialidad": "cardiología", "intentos": 2},
        "ttl_seconds": 3600,
    },
    ensure_ascii=False,
).encode()


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked endpoint."""

    name: str
    method: str
    paths: list[str]  # load run
    warm_paths: list[str]  # warm-up, before the run
    count_path: str  # the one request whose storage calls are counted
    body: bytes | None = None
    idempotency_keys: bool = False  # every request carries a fresh Idempotency-Key
    user_token: bool = False  # sent with a user token of the booking user, not the agent key

    def target(self, auth: str, warm: bool = False) -> Target:
        paths = self.warm_paths if warm else self.paths
        return Target(self.name, self.method, paths, self.body, auth, self.idempotency_keys)


def _q(**params: str | int) -> str:
    return urllib.parse.urlencode(params)


NORMAL_SYNC = "booking_sync_normal"  # booking on a server with synchronous=NORMAL (SQLite)
IDEMPOTENT = "booking_idempotency_key"  # booking with a fresh Idempotency-Key on every request
# The same GET and booking with a user token (issue 21) instead of the agent key.
USER_TOKEN_GET = "doctor_get_user_token"  # noqa: S105 (an endpoint name)
USER_TOKEN_BOOKING = "booking_user_token"  # noqa: S105 (an endpoint name)
# (the user token is BOOKER's: the booking body's user)


def endpoints(data: DataSet, bookings: int, warm: int, normal_sync: bool = False) -> list[Endpoint]:
    """The ten endpoints over ``data`` (booking three times: without and with an
    Idempotency-Key on every request, and with a user token; a doctor's GET with the agent key
    and with a user token); ``bookings`` distinct slots for each booking run. With
    ``normal_sync``, an eleventh: booking again, on slots of its own, for a server whose
    SQLite commits skip the fsync (``HEALTH_API_SQLITE_SYNCHRONOUS=normal``)."""
    desde, hasta = data.probe_day
    specialties = [SPECIALTIES[i] for i in range(data.size.specialties)]
    doctors = [f"{API}/doctors/{d}" for d in data.doctor_ids]
    by_specialty = [f"{API}/doctors?{_q(especialidad=s, limit=20)}" for s in specialties]
    day_slots = [
        f"{API}/doctors/{d}/schedules?{_q(desde=desde, hasta=hasta, limit=20)}"
        for d in data.doctor_ids
    ]
    availability = [
        f"{API}/availability?{_q(especialidad=s, desde=desde, hasta=hasta, limit=20)}"
        for s in specialties
    ]
    # Booking, booking with an Idempotency-Key on every request, and (SQLite) booking on a
    # server without the fsync: each run books slots of its own.
    runs = 4 if normal_sync else 3
    free = [
        f"{API}/doctors/{d}/schedules/{t}/booking"
        for d, t in data.free_slots(runs * (1 + warm + bookings))
    ]
    # A small data set has fewer free slots than the budget: the runs share them out evenly.
    share = len(free) // runs
    sessions = [f"{API}/sessions/{u}" for u in data.user_ids]
    return [
        Endpoint("doctor_get", "GET", doctors, doctors, doctors[0]),
        Endpoint("doctors_by_specialty", "GET", by_specialty, by_specialty, by_specialty[0]),
        Endpoint("slots_one_day", "GET", day_slots, day_slots, day_slots[0]),
        Endpoint("availability_one_day", "GET", availability, availability, availability[0]),
        _booking("booking", free[:share], warm),
        _booking(IDEMPOTENT, free[share : 2 * share], warm, idempotency_keys=True),
        Endpoint("session_get", "GET", sessions, sessions, sessions[0]),
        Endpoint("session_put", "PUT", sessions, sessions, sessions[0], SESSION_BODY),
        Endpoint(USER_TOKEN_GET, "GET", doctors, doctors, doctors[0], user_token=True),
        _booking(USER_TOKEN_BOOKING, free[2 * share : 3 * share], warm, user_token=True),
    ] + ([_booking(NORMAL_SYNC, free[3 * share :], warm)] if normal_sync else [])


PROBE_USER = "bench-probe"


def counted_requests(eps: list[Endpoint], data: DataSet) -> list[tuple]:
    """What the storage-call counter sends, in order: each endpoint's counted request (with an
    Idempotency-Key where its load run sends one), then :func:`count_only`."""
    return [
        (
            e.name,
            e.method,
            e.count_path,
            e.body,
            {"Idempotency-Key": f"bench-count-{e.name}"} if e.idempotency_keys else {},
        )
        for e in eps
    ] + count_only(data)


def count_only(data: DataSet) -> list[tuple]:
    """Requests whose storage calls and capacity are counted but that are not load-tested, sent
    once in this order: a booking with an Idempotency-Key and its replay (the same key again),
    a booking taken by another user (409 with ``alternativas``), the user's
    appointments, a reschedule, a cancel, a session PATCH. They use the single-doctor
    specialty's last day, which no load run books."""
    last_day = data.size.days - 1
    first, second = data.slot_time(last_day, 0), data.slot_time(last_day, 1)
    third = data.slot_time(last_day, 2)
    keyed = {"Idempotency-Key": "bench-probe-key"}
    doctor = SOLO_DOCTOR
    booking = f"{API}/doctors/{doctor}/schedules/{first}/booking"
    moved = f"{API}/doctors/{doctor}/schedules/{second}/booking"
    other = json.dumps({"user_id": "bench-other"}).encode()
    reschedule = {
        "user_id": PROBE_USER,
        "from": {"doctor_id": doctor, "fecha_hora": first},
        "to": {"doctor_id": doctor, "fecha_hora": second},
    }
    keyed_booking = f"{API}/doctors/{doctor}/schedules/{third}/booking"
    keyed_body = json.dumps({"user_id": PROBE_USER}).encode()
    return [
        ("probe_booking", "PUT", booking, json.dumps({"user_id": PROBE_USER}).encode()),
        ("booking_with_key", "PUT", keyed_booking, keyed_body, keyed),
        ("booking_replay", "PUT", keyed_booking, keyed_body, keyed),
        ("booking_taken_409", "PUT", booking, other),
        ("appointments", "GET", f"{API}/users/{PROBE_USER}/appointments", None),
        ("reschedule", "POST", f"{API}/appointments/reschedule", json.dumps(reschedule).encode()),
        ("cancel", "DELETE", f"{moved}?{_q(user_id=PROBE_USER)}", None),
        (
            "session_patch",
            "PATCH",
            f"{API}/sessions/{data.user_ids[0]}",
            json.dumps({"data": {"paso": "confirmar"}}).encode(),
        ),
    ]


def _booking(
    name: str,
    free: list[str],
    warm: int,
    idempotency_keys: bool = False,
    user_token: bool = False,
) -> Endpoint:
    """Booking over distinct free slots: the counted request, the warm-up's and the load
    run's come from disjoint parts of ``free``."""
    return Endpoint(
        name,
        "PUT",
        free[1 + warm :],
        free[1 : 1 + warm],
        free[0],
        BOOKING_BODY,
        idempotency_keys,
        user_token,
    )
