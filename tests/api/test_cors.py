"""CORS on /api/v1 (API.md v1.2 "CORS"): a preflight needs no key and is a 204, allowing only
a configured origin; responses to that origin expose the headers clients read; ``*`` stops
start-up."""

from __future__ import annotations

import pytest

from health_api import create_app
from health_api.config import ConfigError, load_settings
from tests.api.conftest import AGENT, with_test_keys

ALLOWED = "https://clinic.example"
OTHER = "https://evil.example"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Expose-Headers",
)
EXPOSED = {"RateLimit-Policy", "RateLimit", "WWW-Authenticate", "Idempotent-Replayed", "Location"}


@pytest.fixture
def client(tmp_path):
    """The app on SQLite allowing ``ALLOWED`` (CORS touches no storage)."""
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")
    return create_app({"settings": with_test_keys(settings, cors_origins=(ALLOWED,))}).test_client()


def preflight(client, origin: str, path: str = "/api/v1/doctors/doc-1/schedules/x/booking"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )


def test_a_preflight_from_an_allowed_origin_is_a_204_without_a_key(client) -> None:
    response = preflight(client, ALLOWED)

    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in response.headers["Vary"]
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, PATCH, DELETE"
    assert (
        response.headers["Access-Control-Allow-Headers"]
        == "Authorization, Content-Type, Idempotency-Key"
    )
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.get_data() == b""


def test_a_preflight_from_another_origin_is_a_204_that_allows_nothing(client) -> None:
    response = preflight(client, OTHER)

    assert response.status_code == 204
    assert not [name for name in CORS_HEADERS if name in response.headers]


def test_without_configured_origins_a_preflight_allows_nothing(tmp_path) -> None:
    settings = with_test_keys(load_settings({}).replace(sqlite_path=tmp_path / "h.db"))
    response = preflight(create_app({"settings": settings}).test_client(), ALLOWED)

    assert response.status_code == 204
    assert not [name for name in CORS_HEADERS if name in response.headers]


def test_an_options_request_that_is_not_a_preflight_still_needs_a_key(client) -> None:
    response = client.options("/api/v1/doctors", headers={"Origin": ALLOWED})

    assert response.status_code == 401


@pytest.mark.parametrize("headers", [AGENT, {}], ids=["served", "refused"])
def test_responses_to_an_allowed_origin_expose_the_headers_clients_read(client, headers) -> None:
    response = client.get("/api/v1/doctors", headers={**headers, "Origin": ALLOWED})

    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in response.headers["Vary"]
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed >= EXPOSED


def test_responses_to_another_origin_carry_no_cors_headers(client) -> None:
    response = client.get("/api/v1/doctors", headers={**AGENT, "Origin": OTHER})

    assert response.status_code == 200
    assert not [name for name in CORS_HEADERS if name in response.headers]


@pytest.mark.parametrize("value", ["*", f"{ALLOWED},*"])
def test_a_wildcard_origin_stops_start_up_with_a_clear_error(value, monkeypatch) -> None:
    monkeypatch.setenv("HEALTH_API_CORS_ORIGINS", value)

    with pytest.raises(ConfigError, match=r"HEALTH_API_CORS_ORIGINS: '\*' is not accepted"):
        create_app()
