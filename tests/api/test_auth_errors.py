"""What a refused request is told (API.md v1.2 "Every client, every error"): which case it is,
the expected form and, in development, where the keys are; never the key it sent."""

from __future__ import annotations

import pytest
from flask import Flask

from health_api import create_app
from health_api.config import load_settings
from health_api.keys import DEV_KEYS_FILE
from tests.api.conftest import AGENT_KEY, with_test_keys
from tests.api.helpers import assert_problem

WRONG_KEY = "wrong-key-sent-by-a-client-0123"
EXPECTED = "`Authorization: Bearer <key>`"


def sqlite_app(tmp_path, **changes) -> Flask:
    """The app on a SQLite file with the test keys (authentication touches no storage)."""
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")
    return create_app({"settings": with_test_keys(settings, **changes)})


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        pytest.param({}, "no credentials were sent", id="no-header"),
        pytest.param(
            {"Authorization": f"Bearer {WRONG_KEY}"},
            "the bearer key is not one of this server's keys",
            id="wrong-key",
        ),
        pytest.param(
            {"Authorization": WRONG_KEY},
            "the Authorization header does not start with `Bearer `",
            id="no-bearer-prefix",
        ),
        pytest.param(
            {"Authorization": f"Token {WRONG_KEY}"},
            "the Authorization header does not start with `Bearer `",
            id="another-scheme",
        ),
        pytest.param(
            {"Authorization": "Bearer "},
            "the Authorization header holds no key after `Bearer `",
            id="empty-bearer",
        ),
        pytest.param(
            {"X-API-Key": WRONG_KEY},
            "the X-API-Key header is not read",
            id="x-api-key",
        ),
    ],
)
def test_a_401_says_which_case_it_is_and_the_expected_form(tmp_path, headers, says) -> None:
    client = sqlite_app(tmp_path).test_client()

    response = client.get("/api/v1/doctors", headers=headers)

    body = assert_problem(response, 401)
    assert body["type"] == "/problems/unauthorized"
    assert body["detail"].startswith(says + ": send " + EXPECTED), body["detail"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="health-api"'
    assert WRONG_KEY not in response.get_data(as_text=True)
    assert "development" not in body["detail"]  # environment "test": no hint about files


def test_the_bearer_scheme_is_case_insensitive(tmp_path) -> None:
    client = sqlite_app(tmp_path).test_client()

    response = client.get("/api/v1/doctors", headers={"Authorization": f"bearer {AGENT_KEY}"})

    assert response.status_code == 200, response.get_json()


def test_in_development_a_401_says_where_the_generated_keys_are(tmp_path) -> None:
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")
    client = create_app({"settings": settings}).test_client()

    response = client.get("/api/v1/doctors", headers={"Authorization": f"Bearer {WRONG_KEY}"})

    detail = response.get_json()["detail"]
    assert response.status_code == 401
    assert f"are in {tmp_path / DEV_KEYS_FILE}" in detail
    assert "python -m health_api keys" in detail
    assert WRONG_KEY not in response.get_data(as_text=True)


def test_in_development_with_configured_keys_a_401_names_the_variable(tmp_path) -> None:
    settings = with_test_keys(load_settings({}).replace(sqlite_path=tmp_path / "h.db")).replace(
        environment="development"
    )
    client = create_app({"settings": settings}).test_client()

    detail = client.get("/api/v1/doctors").get_json()["detail"]

    assert "the keys are those of HEALTH_API_KEYS" in detail
    assert DEV_KEYS_FILE not in detail
