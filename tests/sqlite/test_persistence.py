"""What SQLite stores outlives the process: read back in a new process, and after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from health_api.domain.models import Doctor, Slot, SlotKey
from health_api.domain.requests import BookingRequest
from health_api.storage.sqlite.storage import SqliteStorage

NOW_EPOCH = 1_795_000_000  # 2026-11-19; sessions are read with the same "now" in both processes
NOW = "2026-12-01T08:00:00Z"

# Runs in a fresh interpreter: opens the same settings and prints everything it can read.
READER = textwrap.dedent(
    """
    import dataclasses, json, sys
    from pathlib import Path
    from health_api.config import load_settings
    from health_api.domain.requests import SlotRange
    from health_api.storage.sqlite.storage import SqliteStorage

    path, prefix, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = load_settings({}).replace(sqlite_path=Path(path), table_prefix=prefix)
    store = SqliteStorage.open(settings)
    doctors = store.doctors.list_all(limit=100).items
    slots = [s for d in ("doc-1", "doc-2") for s in store.slots.list_range(SlotRange(
        d, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", limit=100)).items]
    sessions = [store.sessions.get(u, now) for u in ("user-a", "user-b")]
    json.dump({"doctors": [dataclasses.asdict(d) for d in doctors],
               "slots": [dataclasses.asdict(s) for s in slots],
               "sessions": [dataclasses.asdict(s) for s in sessions]}, sys.stdout)
    store.close()
    """
)

# Books slots one by one and acknowledges each on stdout only after book() returned.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from health_api.config import load_settings
    from health_api.domain.models import SlotKey
    from health_api.domain.requests import BookingRequest
    from health_api.storage.sqlite.storage import SqliteStorage

    path, prefix = sys.argv[1], sys.argv[2]
    settings = load_settings({}).replace(sqlite_path=Path(path), table_prefix=prefix)
    store = SqliteStorage.open(settings)
    n = 0
    while True:
        key = SlotKey("doc-1", f"2026-12-01T{n // 60:02d}:{n % 60:02d}:00Z")
        store.slots.book(BookingRequest(key, f"user-{n}"), "2026-11-30T00:00:00Z")
        print(n, flush=True)
        n += 1
    """
)


def as_dicts(items) -> list[dict]:
    """Dataclasses as JSON would bring them back (tuples become lists)."""
    return json.loads(json.dumps([item.__dict__ for item in items], default=list))


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_everything_written_is_read_back_by_a_new_process(settings) -> None:
    store = SqliteStorage.open(settings)
    doctors = [
        store.doctors.create(
            Doctor("doc-1", "Dra. Núñez", "Cardiología", "Norte", "+34 600", "a@b.es", ("es",))
        ),
        store.doctors.create(Doctor("doc-2", "Dr. Pérez", "Pediatría")),
    ]
    store.slots.add_many([Slot("doc-1", "2026-12-02T09:00:00Z"), Slot("doc-2", NOW)])
    store.slots.book(
        BookingRequest(SlotKey("doc-1", "2026-12-02T09:00:00Z"), "user-a", "dolor"), NOW
    )
    sessions = [
        store.sessions.put("user-a", {"paso": "confirmar", "n": 2}, 3600, NOW_EPOCH),
        store.sessions.put("user-b", {"ñ": "¿sí?"}, 60, NOW_EPOCH),
    ]
    slots = [
        store.slots.get(SlotKey("doc-1", "2026-12-02T09:00:00Z")),
        store.slots.get(SlotKey("doc-2", NOW)),
    ]
    store.close()

    result = run_python(READER, str(settings.sqlite_path), settings.table_prefix, str(NOW_EPOCH))

    read_back = json.loads(result.stdout)
    assert read_back["doctors"] == as_dicts(doctors)
    assert read_back["slots"] == as_dicts(slots)
    assert read_back["sessions"] == as_dicts(sessions)
    assert read_back["slots"][0]["user_id"] == "user-a"


def test_every_acknowledged_booking_survives_kill_9(settings) -> None:
    store = SqliteStorage.open(settings)
    store.slots.add_many(
        [Slot("doc-1", f"2026-12-01T{n // 60:02d}:{n % 60:02d}:00Z") for n in range(1440)]
    )
    store.close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(settings.sqlite_path), settings.table_prefix],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged = -1
    try:
        assert writer.stdout is not None
        for line in writer.stdout:
            acknowledged = int(line)
            if acknowledged >= 20:
                break
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)

    reopened = SqliteStorage.open(settings)
    try:
        holders = [
            reopened.slots.get(SlotKey("doc-1", f"2026-12-01T{n // 60:02d}:{n % 60:02d}:00Z"))
            for n in range(acknowledged + 1)
        ]
    finally:
        reopened.close()

    assert acknowledged >= 20
    assert [s.user_id for s in holders] == [f"user-{n}" for n in range(acknowledged + 1)]
