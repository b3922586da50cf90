"""The real server's size limits: an over-long id or cursor that still fits a request line is
the application's problem+json; past gunicorn's limits the server answers 414 / 431 itself, as
the OpenAPI document says (text/html, before the application)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ops import procs
from tests.ops.procs import AGENT, call, running

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One gunicorn on the embedded store for the whole module (nothing here writes)."""
    directory = tmp_path_factory.mktemp("limits")
    env = procs.server_env(procs.sqlite_env(directory / "h.db"))
    with running(env, directory) as server:
        yield server.port


def _get(port: int, path: str, **headers: str) -> procs.Response:
    return call(port, "GET", path, headers={**AGENT, **headers})


def test_an_over_long_id_inside_the_request_line_is_the_apps_400(port: int) -> None:
    response = _get(port, "/api/v1/doctors/" + "d" * 3000)

    assert response.status == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "doctor_id" in response.body["errors"]


def test_an_over_long_cursor_inside_the_request_line_is_the_apps_400(port: int) -> None:
    response = _get(port, "/api/v1/doctors?cursor=" + "c" * 3000)

    assert response.status == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "cursor" in response.body["errors"]


def test_a_request_line_past_gunicorns_limit_is_its_own_414(port: int) -> None:
    response = _get(port, "/api/v1/doctors/" + "d" * 5000)

    assert response.status == 414
    assert response.headers.get("content-type", "").startswith("text/html")


def test_a_header_past_gunicorns_limit_is_its_own_431(port: int) -> None:
    response = _get(port, "/api/v1/doctors", **{"X-Padding": "p" * 9000})

    assert response.status == 431
    assert response.headers.get("content-type", "").startswith("text/html")
