"""DynamoDB Local killed mid-run (kill -9) and started again on the same port and data: while it
is down every storage-backed request is a 503 problem with ``Retry-After`` and ``/readyz`` is a
503; once it is back the same app (no restart) serves again, and the booking accepted before the
crash is still there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from health_api import create_app
from health_api.api import service
from tests.api.conftest import AGENT, storage_settings
from tests.api.helpers import (
    MON_0900,
    MON_0930,
    MON_1000,
    add_slots,
    assert_problem,
    book,
    create_doctor,
)
from tests.conftest import create_dynamodb_tables
from tools.dynamodb_local import DynamoDBLocal


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[DynamoDBLocal]:
    """A DynamoDB Local of this test's own, keeping its data on disk across a kill."""
    server = DynamoDBLocal(db_path=tmp_path / "ddb", log_path=tmp_path / "ddb.log")
    (tmp_path / "ddb").mkdir()
    server.start()
    yield server
    server.stop()


def test_a_killed_dynamodb_is_a_503_and_the_app_recovers_without_restart(
    own_server: DynamoDBLocal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "READY_CACHE_SECONDS", 0)  # every probe asks the storage
    settings = storage_settings(
        "dynamodb-local",
        tmp_path,
        dynamodb_endpoint_url=own_server.url,
        table_prefix="outage-",
        dynamodb_connect_timeout=1.0,
        dynamodb_read_timeout=2.0,
    )
    create_dynamodb_tables(settings)
    client = create_app({"settings": settings}).test_client()
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900, MON_0930, MON_1000)
    assert book(client, "doc-ana", MON_0900, "user-1").status_code == 201

    own_server.kill()

    down = book(client, "doc-ana", MON_0930, "user-2")
    body = assert_problem(down, 503)
    assert int(down.headers["Retry-After"]) >= 1
    assert own_server.url not in down.get_data(as_text=True), body  # no backend detail leaks
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert int(not_ready.headers["Retry-After"]) >= 1

    own_server.start()

    assert client.get("/readyz").status_code == 200
    kept = client.get("/api/v1/users/user-1/appointments", headers=AGENT)
    assert kept.status_code == 200
    assert [a["fecha_hora"] for a in kept.get_json()["items"]] == [MON_0900]
    assert book(client, "doc-ana", MON_0930, "user-2").status_code == 201
