"""Start-up rules of the app factory: keys, development key generation, CORS, bad storage."""

from __future__ import annotations

import json
import stat

import pytest

from health_api import create_app
from health_api.api.auth import MissingKeysError
from health_api.config import load_settings
from health_api.domain.errors import StorageUnavailableError


def test_outside_development_the_app_refuses_to_start_without_keys(tmp_path) -> None:
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db", environment="staging")

    with pytest.raises(MissingKeysError, match="HEALTH_API_KEYS is required"):
        create_app({"settings": settings})


def test_in_development_a_key_pair_is_generated_once_with_private_permissions(
    tmp_path, capsys
) -> None:
    settings = load_settings({}).replace(sqlite_path=tmp_path / "data" / "h.db")

    first = create_app({"settings": settings})
    second = create_app({"settings": settings})

    keys_file = tmp_path / "data" / "dev-keys.json"
    keys = json.loads(keys_file.read_text())
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert set(keys) == {"admin", "agent", "issuer"}
    assert all(len(key) >= 16 for key in keys.values())
    printed = capsys.readouterr().out
    assert str(keys_file) in printed
    assert keys["agent"] not in printed
    for app in (first, second):
        response = app.test_client().get(
            "/api/v1/doctors", headers={"Authorization": f"Bearer {keys['agent']}"}
        )
        assert response.status_code == 200


def test_cors_is_off_unless_origins_are_configured(tmp_path) -> None:
    keys = "admin=admin-key-0123456789,agent=agent-key-0123456789"
    closed = create_app(
        {
            "settings": load_settings({"HEALTH_API_KEYS": keys}).replace(
                sqlite_path=tmp_path / "a.db"
            )
        }
    )
    opened = create_app(
        {
            "settings": load_settings(
                {"HEALTH_API_KEYS": keys, "HEALTH_API_CORS_ORIGINS": "https://clinic.example"}
            ).replace(sqlite_path=tmp_path / "b.db")
        }
    )
    request = {
        "headers": {
            "Origin": "https://clinic.example",
            "Authorization": "Bearer agent-key-0123456789",
        }
    }

    assert (
        "Access-Control-Allow-Origin"
        not in closed.test_client().get("/api/v1/doctors", **request).headers
    )
    assert (
        opened.test_client()
        .get("/api/v1/doctors", **request)
        .headers["Access-Control-Allow-Origin"]
        == "https://clinic.example"
    )


def test_a_store_that_cannot_be_opened_stops_start_up(tmp_path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be")
    settings = load_settings({"HEALTH_API_KEYS": "agent=agent-key-0123456789"}).replace(
        sqlite_path=blocker / "h.db"
    )

    with pytest.raises(StorageUnavailableError):
        create_app({"settings": settings})
