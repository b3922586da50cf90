"""What ``python -m health_api mcp`` refuses at start-up (exit 2, one clear line) and how it
hands the HTTP app to uvicorn (the client address is the guard's to find)."""

from __future__ import annotations

from typing import Any

import pytest

from health_api.mcp_entry import main

KEYS = "admin=admin-entry-key-0123456789,agent=agent-entry-key-0123456789"


@pytest.fixture
def served(monkeypatch, tmp_path) -> dict[str, Any]:
    """uvicorn.run replaced by a recorder; a SQLite store in ``tmp_path``."""
    import uvicorn

    options: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **given: options.update(given))
    monkeypatch.setenv("HEALTH_API_SQLITE_PATH", str(tmp_path / "h.db"))
    monkeypatch.setenv("HEALTH_API_KEYS", KEYS)
    return options


def test_uvicorn_does_not_rewrite_the_client_address(served) -> None:
    assert main([]) == 0

    assert served["proxy_headers"] is False


def test_a_wildcard_origin_stops_the_server(served, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HEALTH_API_CORS_ORIGINS", "*")

    assert main([]) == 2

    err = capsys.readouterr().err
    assert "HEALTH_API_CORS_ORIGINS: '*' is not accepted" in err
    assert served == {}


@pytest.mark.parametrize("stdio", [False, True], ids=["http", "stdio"])
def test_outside_development_the_key_id_secret_is_required(
    served, monkeypatch, capsys, stdio
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("HEALTH_API_MCP_KEY", "agent-entry-key-0123456789")

    assert main(["--stdio"] if stdio else []) == 2

    assert "HEALTH_API_KEY_ID_SECRET is required when ENVIRONMENT=staging" in (
        capsys.readouterr().err
    )
    assert served == {}
