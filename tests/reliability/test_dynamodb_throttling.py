"""DynamoDB throttling and 5xx, injected into botocore with a ``before-send`` hook, so that
botocore's own ``standard`` retry machinery (and its real, jittered backoff) runs: 3 attempts,
then a 503 problem with ``Retry-After`` that says nothing about botocore, well inside
gunicorn's 30 s worker timeout. A transient error followed by success is a 2xx.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from botocore.awsrequest import AWSResponse
from flask import Flask

from health_api import create_app
from health_api.storage.dynamodb.client import build_client
from health_api.storage.dynamodb.storage import DynamoStorage
from tests.api.conftest import storage_settings
from tests.api.helpers import (
    MON_0900,
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
    seed,
    slot_state,
    timed,
)

# Print the measured attempts and wall times once the module has run (conftest.py).
pytestmark = pytest.mark.usefixtures("report_figures")


class _Body(io.BytesIO):
    """A raw body as urllib3 would hand it to botocore."""

    def stream(self, **_kwargs):
        yield self.getvalue()


def aws_error(request, status: int, code: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code})
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
    return AWSResponse(request.url, status, headers, _Body(body.encode()))


@pytest.fixture
def dynamo_app(moto_server_url, table_prefix, tmp_path) -> Iterator[tuple[Flask, object]]:
    """The app on a DynamoStorage on a moto server, seeded; and the botocore client it uses.

    moto over HTTP, not in-process: in-process moto answers from its own ``before-send``
    handler, which runs (and writes) even when an injected handler has already answered.
    """
    settings = storage_settings(
        "dynamodb", tmp_path, dynamodb_endpoint_url=moto_server_url, table_prefix=table_prefix
    )
    create_dynamodb_tables(settings)
    aws = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    storage = DynamoStorage.on_client(aws, settings)
    app = create_app({"settings": settings, "storage": storage})
    seed(app.test_client())
    yield app, aws
    storage.close()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_errors_that_outlive_the_retries_are_a_503_well_inside_the_worker_timeout(
    dynamo_app, code, status
) -> None:
    app, aws = dynamo_app
    client = app.test_client()
    attempts: list[str] = []

    def fail(request, event_name, **_kwargs):
        attempts.append(event_name.rsplit(".", 1)[-1])
        return aws_error(request, status, code)

    aws.meta.events.register("before-send.dynamodb.*", fail)
    response, elapsed = timed(book, client, DOCTOR, MON_0900, USER, "control")
    aws.meta.events.unregister("before-send.dynamodb.*", fail)

    assert attempts == ["UpdateItem"] * ATTEMPTS  # the first try and 2 retries, one operation
    assert_unavailable(response)
    assert elapsed < MAX_BACKOFF + 2.0 < GUNICORN_TIMEOUT
    FIGURES[f"dynamodb {code}"] = f"{len(attempts)} attempts, 503 after {elapsed:.2f} s"
    # Nothing was written: the slot is still free and can be booked now.
    assert slot_state(client)["estado"] == "disponible"
    assert book(client, DOCTOR, MON_0900, USER).status_code == 201


@pytest.mark.parametrize(
    ("code", "status"), [("ThrottlingException", 400), ("InternalServerError", 500)]
)
def test_one_transient_error_is_retried_and_answered(dynamo_app, code, status) -> None:
    app, aws = dynamo_app
    client = app.test_client()
    attempts: list[str] = []

    def fail_once(request, event_name, **_kwargs):
        attempts.append(event_name.rsplit(".", 1)[-1])
        return aws_error(request, status, code) if len(attempts) == 1 else None

    aws.meta.events.register("before-send.dynamodb.*", fail_once)
    booked = book(client, DOCTOR, MON_0900, USER)
    session = put_session(client)
    aws.meta.events.unregister("before-send.dynamodb.*", fail_once)

    assert booked.status_code == 201, booked.get_data(as_text=True)
    assert booked.get_json()["user_id"] == USER
    assert session.status_code in (200, 201), session.get_data(as_text=True)
    # The booking's UpdateItem twice (the failure, then the retry), then the session's write.
    assert attempts[:2] == ["UpdateItem", "UpdateItem"]
    assert len(attempts) == 3
