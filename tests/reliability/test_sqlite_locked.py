"""The SQLite file locked by another process past the busy timeout: 503, nothing
half-written, and the same requests succeed once the lock is gone.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import AGENT
from tests.api.helpers import (
    MON_0900,
    book,
)
from tests.reliability.faults import (
    BUSY_TIMEOUT_MS,
    DOCTOR,
    FIGURES,
    USER,
    assert_unavailable,
    put_session,
    slot_state,
    timed,
)

# Print the measured attempts and wall times once the module has run (conftest.py).
pytestmark = pytest.mark.usefixtures("report_figures")

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
conn.close()
"""


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process holds ``BEGIN IMMEDIATE`` on ``path`` until the block ends."""
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        yield
    finally:
        locker.stdin.write("\n")
        locker.stdin.close()
        assert locker.wait(timeout=10) == 0


def test_a_file_locked_by_another_process_is_a_503_and_nothing_is_half_written(
    sqlite_app, tmp_path
) -> None:
    client = sqlite_app.test_client()

    with write_lock_held(tmp_path / "health.db"):
        booked, booked_elapsed = timed(book, client, DOCTOR, MON_0900, USER, "control")
        session, session_elapsed = timed(put_session, client)
        # Reads do not wait for the writer (WAL).
        assert slot_state(client)["estado"] == "disponible"

    for response, elapsed in ((booked, booked_elapsed), (session, session_elapsed)):
        assert_unavailable(response)
        assert BUSY_TIMEOUT_MS / 1000 <= elapsed < BUSY_TIMEOUT_MS / 1000 + 2.0
    FIGURES["sqlite locked"] = f"503 after {booked_elapsed:.2f} s (busy timeout 0.30 s)"
    assert slot_state(client)["estado"] == "disponible"
    assert "user_id" not in slot_state(client)
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404

    booked = book(client, DOCTOR, MON_0900, USER, "control")
    assert booked.status_code == 201, booked.get_data(as_text=True)
    assert put_session(client).status_code in (200, 201)
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 200
