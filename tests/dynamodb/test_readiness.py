"""What start-up and ``/readyz`` ask of DynamoDB: DescribeTable only (cached 10 s at most) and one
GetItem per served table per probe, never ``ListTagsOfResource`` (10 calls/s per account, shared
by every worker of every pod).

The calls are counted with a ``before-call`` hook on the client, on moto in-process; a failure
is injected with a ``before-send`` hook or a Stubber, as real DynamoDB would answer.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from botocore.awsrequest import AWSResponse
from freezegun import freeze_time
from moto import mock_aws

from health_api.config import Settings, load_settings
from health_api.domain.errors import StorageUnavailableError
from health_api.storage.dynamodb import storage as dynamo_storage
from health_api.storage.dynamodb.client import build_client
from health_api.storage.dynamodb.storage import DynamoStorage
from health_api.storage.tables import DOCTORES, LOGICAL_TABLES, USER_SESSIONS, table_specs

# Tables with a TTL attribute (user_sessions, idempotency_keys): one DescribeTimeToLive each.
TTL_TABLES = 2

START = "2030-01-01T00:00:00Z"


class CallLog:
    """The DynamoDB operations a client sent, by name, counted from a given moment."""

    def __init__(self, client) -> None:
        self.seen: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._record)

    def _record(self, model, **_kwargs) -> None:
        self.seen[model.name] += 1

    def take(self) -> Counter[str]:
        """The operations since the last take."""
        seen, self.seen = self.seen, Counter()
        return seen


@pytest.fixture
def settings() -> Iterator[Settings]:
    with mock_aws():
        yield load_settings({}).replace(storage="dynamodb")


@pytest.fixture
def client(settings):
    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    for spec in table_specs(settings).values():
        client.create_table(**spec.create_table_request())
    client.update_time_to_live(
        TableName="user_sessions",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )
    yield client
    client.close()


def test_start_up_sends_one_describe_table_per_table_and_nothing_else(client, settings) -> None:
    calls = CallLog(client)

    DynamoStorage.on_client(client, settings)

    assert calls.take() == {"DescribeTable": len(LOGICAL_TABLES)}


def test_a_probe_is_one_get_item_per_table_while_the_described_tables_are_fresh(
    client, settings
) -> None:
    with freeze_time(START):
        storage = DynamoStorage.on_client(client, settings)
        calls = CallLog(client)

        reports = [storage.check_ready() for _ in range(5)]

    assert calls.take() == {"GetItem": 5 * len(LOGICAL_TABLES)}
    assert all(report.ok for probe in reports for report in probe)
    assert [r.logical for r in reports[0]] == list(table_specs(settings))


def test_the_tables_are_described_again_after_ten_seconds(client, settings) -> None:
    assert dynamo_storage.DESCRIBE_CACHE_SECONDS <= 10
    with freeze_time(START) as clock:
        storage = DynamoStorage.on_client(client, settings)
        calls = CallLog(client)
        clock.tick(dynamo_storage.DESCRIBE_CACHE_SECONDS + 1)

        storage.check_ready()
        storage.check_ready()

    assert calls.take() == {
        "GetItem": 2 * len(LOGICAL_TABLES),
        "DescribeTable": len(LOGICAL_TABLES),
    }


def test_the_probe_reads_eventually_consistently_an_absent_item_of_every_table(
    client, settings
) -> None:
    storage = DynamoStorage.on_client(client, settings)
    sent = []
    client.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: sent.append(params)
    )

    storage.check_ready()

    absent = {"S": dynamo_storage.PROBE_KEY}
    assert sent == [
        {"TableName": "doctores", "Key": {"doctor_id": absent}, "ConsistentRead": False},
        {
            "TableName": "horarios_doctores",
            "Key": {"doctor_id": absent, "fecha_hora": absent},
            "ConsistentRead": False,
        },
        {"TableName": "user_sessions", "Key": {"user_id": absent}, "ConsistentRead": False},
        {"TableName": "idempotency_keys", "Key": {"clave": absent}, "ConsistentRead": False},
    ]


def test_the_full_table_report_still_reads_ttl_and_tags(client, settings) -> None:
    storage = DynamoStorage.on_client(client, settings)
    calls = CallLog(client)

    storage.check_tables()

    assert calls.take() == {
        "DescribeTable": len(LOGICAL_TABLES),
        "DescribeTimeToLive": TTL_TABLES,
        "ListTagsOfResource": len(LOGICAL_TABLES),
    }


class _Body(io.BytesIO):
    def stream(self, **_kwargs):
        yield self.getvalue()


def _unavailable(request, **_kwargs):
    body = json.dumps({"__type": "InternalServerError", "message": "down"}).encode()
    return AWSResponse(request.url, 500, {}, _Body(body))


def test_an_endpoint_that_fails_is_unavailable_and_recovery_describes_again(
    client, settings, monkeypatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda _seconds: None)  # botocore's retry backoff
    storage = DynamoStorage.on_client(client, settings)
    client.meta.events.register("before-send.dynamodb.GetItem", _unavailable)

    with pytest.raises(StorageUnavailableError):
        storage.check_ready()

    client.meta.events.unregister("before-send.dynamodb.GetItem", _unavailable)
    calls = CallLog(client)
    reports = storage.check_ready()

    # Whatever happened while it was down (a restarted DynamoDB Local has no tables), the
    # first answer after an outage is judged on fresh DescribeTable calls.
    assert calls.take() == {
        "GetItem": len(LOGICAL_TABLES),
        "DescribeTable": len(LOGICAL_TABLES),
    }
    assert all(r.ok for r in reports)


def test_a_table_deleted_while_serving_is_reported_missing_at_the_next_probe(
    client, settings
) -> None:
    storage = DynamoStorage.on_client(client, settings)
    client.delete_table(TableName="doctores")

    reports = {r.logical: r for r in storage.check_ready()}

    assert not reports[DOCTORES].exists
    assert reports[DOCTORES].differences == ["table doctores does not exist"]


def test_a_deleted_sessions_table_is_missing_at_the_next_probe_while_the_cache_is_fresh(
    client, settings
) -> None:
    with freeze_time(START) as clock:
        storage = DynamoStorage.on_client(client, settings)
        assert all(r.ok for r in storage.check_ready())
        client.delete_table(TableName="user_sessions")
        clock.tick(1)

        reports = {r.logical: r for r in storage.check_ready()}

    assert not reports[USER_SESSIONS].exists
    assert [r.logical for r in reports.values() if not r.ok] == [USER_SESSIONS]


def test_a_difference_is_not_cached_so_a_fix_is_seen_at_the_next_probe(client, settings) -> None:
    with freeze_time(START) as clock:
        storage = DynamoStorage.on_client(client, settings)
        client.update_table(
            TableName="doctores",
            BillingMode="PROVISIONED",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        )
        clock.tick(dynamo_storage.DESCRIBE_CACHE_SECONDS + 1)
        differing = {r.logical: r for r in storage.check_ready()}
        client.update_table(TableName="doctores", BillingMode="PAY_PER_REQUEST")

        fixed = storage.check_ready()

    assert differing[DOCTORES].differences == [
        "billing mode is PROVISIONED, expected PAY_PER_REQUEST"
    ]
    assert all(r.ok for r in fixed)
