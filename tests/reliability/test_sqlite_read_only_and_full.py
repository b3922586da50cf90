"""A read-only or full SQLite store: a start-up error naming the file, or 503 per write,
never a silent success, and nothing half-written.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from health_api import create_app
from health_api.api.kernel import kernel_of
from health_api.domain.errors import StorageUnavailableError
from health_api.storage.sqlite import connection as sqlite_connection
from tests.api.conftest import ADMIN, AGENT, storage_settings
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    book,
)
from tests.reliability.faults import (
    DOCTOR,
    USER,
    assert_unavailable,
    create_doctor_response,
    put_session,
    seed,
    slot_state,
)

# Print the measured attempts and wall times once the module has run (conftest.py).
pytestmark = pytest.mark.usefixtures("report_figures")


def _mount(*args: str) -> bool:
    try:
        return subprocess.run(["mount", *args], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only; the test is skipped otherwise)."""
    where.mkdir()
    if os.geteuid() != 0 or not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)):
        pytest.skip("needs root to mount a tmpfs")
    try:
        yield where
    finally:
        if not _mount_undo(where):
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def _mount_undo(where: Path) -> bool:
    return subprocess.run(["umount", str(where)], capture_output=True).returncode == 0


def make_read_only(directory: Path) -> None:
    """Make ``directory`` and its files unwritable, for root too when it is a mount."""
    if os.geteuid() == 0:
        assert _mount("-o", "remount,ro", str(directory)), "cannot remount read-only"
    else:
        for child in directory.iterdir():
            child.chmod(0o444)
        directory.chmod(0o555)


@pytest.fixture
def writable_dir(tmp_path) -> Iterator[Path]:
    """A directory that ``make_read_only`` can really lock (a tmpfs when running as root)."""
    if os.geteuid() == 0:
        with small_filesystem(tmp_path / "mnt", "4m") as where:
            yield where
    else:
        where = tmp_path / "data"
        where.mkdir()
        yield where
        where.chmod(0o755)


def test_a_read_only_database_is_a_clear_startup_error(writable_dir, tmp_path) -> None:
    settings = storage_settings("sqlite", tmp_path).replace(sqlite_path=writable_dir / "health.db")
    app = create_app({"settings": settings})
    client = app.test_client()
    seed(client)
    kernel_of(app).storage.release()
    make_read_only(writable_dir)

    # A running process whose store turns read-only: each write is a 503, none a 2xx.
    assert_unavailable(book(client, DOCTOR, MON_0900, USER))
    assert_unavailable(put_session(client))
    assert_unavailable(create_doctor_response(client))
    kernel_of(app).storage.close()
    # A process starting on it refuses to start, naming the file and the cause.
    with pytest.raises(StorageUnavailableError) as refused:
        create_app({"settings": settings})

    message = str(refused.value)
    assert str(writable_dir / "health.db") in message
    assert "read-only" in message, message


def test_a_full_database_is_a_503_and_nothing_is_half_written(sqlite_app, monkeypatch) -> None:
    """SQLITE_FULL through the API: the file may not grow by one page (``max_page_count``)."""
    client = sqlite_app.test_client()
    original = sqlite_connection.connect

    def no_room(*args, **kwargs):
        conn = original(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    kernel_of(sqlite_app).storage.release()
    monkeypatch.setattr(sqlite_connection, "connect", no_room)
    many = [{"fecha_hora": f"2030-04-{1 + n // 20:02d}T{n % 20:02d}:00:00Z"} for n in range(500)]

    added = client.post(f"/api/v1/doctors/{DOCTOR}/schedules", json={"slots": many}, headers=ADMIN)
    session = put_session(client, size=60_000)

    assert_unavailable(added)
    assert_unavailable(session)
    monkeypatch.setattr(sqlite_connection, "connect", original)
    kernel_of(sqlite_app).storage.release()  # drop the capped connection
    listed = client.get(
        f"/api/v1/doctors/{DOCTOR}/schedules",
        query_string={"desde": "2030-04-01T00:00:00Z", "hasta": "2030-05-01T00:00:00Z"},
        headers=AGENT,
    )
    assert listed.get_json()["items"] == []  # the batch was rolled back as a whole
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404
    assert client.post(
        f"/api/v1/doctors/{DOCTOR}/schedules", json={"slots": many}, headers=ADMIN
    ).get_json() == {"created": 500, "skipped": 0}
    assert put_session(client, size=60_000).status_code in (200, 201)


def test_a_really_full_disk_is_a_503_and_the_store_recovers(tmp_path) -> None:
    """ENOSPC from a tiny tmpfs (root only): a write that does not fit is a 503, not a 2xx."""
    with small_filesystem(tmp_path / "mnt", "1m") as where:
        settings = storage_settings("sqlite", tmp_path).replace(sqlite_path=where / "health.db")
        app = create_app({"settings": settings})
        client = app.test_client()
        seed(client)
        filler = where / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            while True:  # take every free block
                handle.write(b"\0" * 4096)
                handle.flush()

        session = put_session(client, size=60_000)
        booked = book(client, DOCTOR, MON_0930, USER)

        assert_unavailable(session)
        # A booking rewrites a page in place; it may fit or not, but never half-succeed.
        assert booked.status_code in (201, 503), booked.get_data(as_text=True)
        filler.unlink()
        assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404
        expected = "reservado" if booked.status_code == 201 else "disponible"
        assert slot_state(client, MON_0930)["estado"] == expected
        assert put_session(client, size=60_000).status_code in (200, 201)
        kernel_of(app).storage.close()
