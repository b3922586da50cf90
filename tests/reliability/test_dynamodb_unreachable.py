"""The DynamoDB endpoint refusing connections, or accepting them and never answering (a real
TCP proxy in front of a moto server, switched at run time): 503 within the configured
timeouts, ``/readyz`` 503, and recovery without restarting the app. The timeouts come from the
settings, are bounded, and fit inside gunicorn's worker timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask import Flask

from health_api import create_app
from health_api.api.kernel import kernel_of
from health_api.config import Settings
from tests.api.conftest import AGENT, storage_settings
from tests.api.helpers import (
    MON_0900,
    assert_problem,
    book,
)
from tests.conftest import create_dynamodb_tables
from tests.reliability.faults import (
    ATTEMPTS,
    DOCTOR,
    FIGURES,
    GUNICORN_TIMEOUT,
    MAX_BACKOFF,
    USER,
    assert_unavailable,
    put_session,
    readyz,
    seed,
    slot_state,
    timed,
)
from tests.reliability.proxy import SwitchableProxy

# Print the measured attempts and wall times once the module has run (conftest.py).
pytestmark = pytest.mark.usefixtures("report_figures")

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.75


@pytest.fixture
def proxied_app(moto_server_url, table_prefix, tmp_path) -> Iterator[tuple[Flask, SwitchableProxy]]:
    """The app built from settings (as in production) on moto, reached through the proxy."""
    direct = storage_settings(
        "dynamodb", tmp_path, dynamodb_endpoint_url=moto_server_url, table_prefix=table_prefix
    )
    create_dynamodb_tables(direct)
    upstream = urlsplit(moto_server_url)
    proxy = SwitchableProxy((upstream.hostname, upstream.port))
    settings: Settings = direct.replace(
        dynamodb_endpoint_url=proxy.url,
        dynamodb_connect_timeout=CONNECT_TIMEOUT,
        dynamodb_read_timeout=READ_TIMEOUT,
    )
    app = create_app({"settings": settings})
    seed(app.test_client())
    yield app, proxy
    kernel_of(app).storage.close()
    proxy.close()


def count_attempts(app: Flask) -> list[str]:
    """Every request botocore sends from now on (each retry too), by operation name."""
    attempts: list[str] = []

    def record(event_name, **_kwargs):
        attempts.append(event_name.rsplit(".", 1)[-1])

    # The storage's one client: the same object every repository uses.
    aws = kernel_of(app).storage._client
    aws.meta.events.register("before-send.dynamodb.*", record)
    return attempts


def test_the_timeouts_come_from_the_settings(proxied_app) -> None:
    app, _proxy = proxied_app
    config = kernel_of(app).storage._client.meta.config

    assert (config.connect_timeout, config.read_timeout) == (CONNECT_TIMEOUT, READ_TIMEOUT)
    assert config.retries == {"mode": "standard", "total_max_attempts": ATTEMPTS}


def test_an_endpoint_that_stops_listening_is_a_503_and_recovers_without_restart(
    proxied_app,
) -> None:
    app, proxy = proxied_app
    client = app.test_client()
    assert readyz(app, client).status_code == 200
    attempts = count_attempts(app)

    proxy.refuse()
    response, elapsed = timed(book, client, DOCTOR, MON_0900, USER)
    assert_unavailable(response)
    assert attempts == ["UpdateItem"] * ATTEMPTS
    assert elapsed < ATTEMPTS * CONNECT_TIMEOUT + MAX_BACKOFF + 1.0
    FIGURES["dynamodb refused"] = f"{len(attempts)} attempts, 503 after {elapsed:.2f} s"
    session, _ = timed(put_session, client)
    assert_unavailable(session)
    ready, ready_elapsed = timed(readyz, app, client)
    assert_problem(ready, 503)
    assert ready.headers["Retry-After"]
    assert ready_elapsed < ATTEMPTS * CONNECT_TIMEOUT + MAX_BACKOFF + 1.0

    proxy.forward()
    assert readyz(app, client).status_code == 200
    assert slot_state(client)["estado"] == "disponible"  # the refused booking wrote nothing
    assert client.get(f"/api/v1/sessions/{USER}", headers=AGENT).status_code == 404
    assert book(client, DOCTOR, MON_0900, USER).status_code == 201
    assert put_session(client).status_code in (200, 201)


def test_an_endpoint_that_never_answers_is_a_503_within_the_timeouts_and_recovers(
    proxied_app,
) -> None:
    app, proxy = proxied_app
    client = app.test_client()
    assert readyz(app, client).status_code == 200
    attempts = count_attempts(app)

    proxy.blackhole()
    response, elapsed = timed(book, client, DOCTOR, MON_0900, USER)
    assert_unavailable(response)
    assert attempts == ["UpdateItem"] * ATTEMPTS
    # Each attempt waited out its read timeout; all of them and the backoff stay bounded.
    assert elapsed >= ATTEMPTS * READ_TIMEOUT
    assert elapsed < ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + MAX_BACKOFF + 1.0
    FIGURES["dynamodb silent"] = f"{len(attempts)} attempts, 503 after {elapsed:.2f} s"
    ready, ready_elapsed = timed(readyz, app, client)
    assert_problem(ready, 503)
    assert ready_elapsed < ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT) + MAX_BACKOFF + 1.0

    proxy.forward()
    assert readyz(app, client).status_code == 200
    assert slot_state(client)["estado"] == "disponible"
    assert book(client, DOCTOR, MON_0900, USER).status_code == 201


@pytest.mark.parametrize("value", ["0", "-1", "20.5", "nan", "inf", "soon"])
def test_a_timeout_that_is_not_bounded_stops_start_up(value) -> None:
    from health_api.config import ConfigError, load_settings

    for variable in ("HEALTH_API_DYNAMODB_CONNECT_TIMEOUT", "HEALTH_API_DYNAMODB_READ_TIMEOUT"):
        with pytest.raises(ConfigError, match=variable):
            load_settings({variable: value})


def test_the_default_timeouts_fit_inside_the_worker_timeout() -> None:
    """The worst case of one DynamoDB call with the defaults: every attempt times out."""
    from health_api.config import load_settings

    settings = load_settings({})
    worst = ATTEMPTS * (settings.dynamodb_connect_timeout + settings.dynamodb_read_timeout)

    assert worst + MAX_BACKOFF < GUNICORN_TIMEOUT
