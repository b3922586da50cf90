"""The MCP server's ``/readyz`` shares the REST service's readiness check: every served table is
probed, and a missing one is named (never its key attribute names)."""

from __future__ import annotations

import contextlib
import sqlite3

import httpx2
import pytest

from health_api.storage.dynamodb.client import build_client
from health_api.storage.tables import USER_SESSIONS, table_specs
from tests.mcp.conftest import MCP_BACKENDS, running_stack


def drop_table(settings, logical: str) -> str:
    """Delete one of the server's tables behind its back; its name."""
    name = table_specs(settings)[logical].name
    if settings.storage == "sqlite":
        with contextlib.closing(sqlite3.connect(settings.sqlite_path)) as conn:
            conn.execute(f'DROP TABLE "{name}"')
            conn.commit()
    else:
        client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
        client.delete_table(TableName=name)
        client.close()
    return name


@pytest.mark.parametrize("backend", MCP_BACKENDS)
def test_readyz_names_a_deleted_sessions_table(backend, request) -> None:
    with running_stack(backend, request) as stack:
        assert httpx2.get(f"{stack.url}/readyz").status_code == 200
        name = drop_table(stack.settings, USER_SESSIONS)

        response = httpx2.get(f"{stack.url}/readyz")

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["detail"] == f"tables differ from their specs: {name}"
    assert "user_id" not in response.text
