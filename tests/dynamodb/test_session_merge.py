"""The session merge on real DynamoDB: an eventually consistent read that may be stale.

No emulator returns a stale read on demand, so botocore's Stubber plays the table: each test
lays out what DynamoDB answers, call by call, and checks what the repository sends.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from health_api.domain.errors import NotFoundError, StorageUnavailableError
from health_api.domain.requests import SessionPatch
from health_api.storage.dynamodb import sessions as module
from health_api.storage.dynamodb.items import TableRef
from health_api.storage.dynamodb.sessions import DynamoSessionRepository

TABLE = "user_sessions"
NOW = 1_900_000_000
KEY = {"user_id": {"S": "u1"}}


def _item(data: dict, version: int | None, ttl_seconds: int | None = 60, ttl: int = NOW + 30):
    item = {
        "user_id": {"S": "u1"},
        "data": {"S": json.dumps(data, separators=(",", ":"))},
        "created_at": {"S": "2030-03-17T17:46:10Z"},
        "updated_at": {"S": "2030-03-17T17:46:10Z"},
        "expires_at": {"S": "2030-03-17T17:46:40Z"},
        "ttl": {"N": str(ttl)},
    }
    if version is not None:
        item["version"] = {"N": str(version)}
    if ttl_seconds is not None:
        item["ttl_seconds"] = {"N": str(ttl_seconds)}
    return item


def _read(consistent: bool) -> dict:
    return {"TableName": TABLE, "Key": KEY, "ConsistentRead": consistent}


def _update(condition: str) -> dict:
    return {
        "TableName": TABLE,
        "Key": KEY,
        "UpdateExpression": ANY,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": ANY,
        "ExpressionAttributeValues": ANY,
        "ReturnValues": "ALL_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


@pytest.fixture
def repo_and_stubber(monkeypatch: pytest.MonkeyPatch):
    """A session repository on a client whose every call is answered by a Stubber."""
    monkeypatch.setattr(module.time, "sleep", lambda _seconds: None)  # the race back-off
    client = boto3.client("dynamodb", region_name="us-east-1")
    sent: list[dict] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", lambda params, **_: sent.append(params)
    )
    with Stubber(client) as stubber:
        yield DynamoSessionRepository(client, TableRef(TABLE)), stubber, sent
        stubber.assert_no_pending_responses()


def _written_data(params: dict) -> dict:
    return json.loads(params["ExpressionAttributeValues"][":data"]["S"])


def test_a_stale_read_fails_the_version_check_and_the_retry_merges_into_the_current_item(
    repo_and_stubber,
) -> None:
    repo, stubber, sent = repo_and_stubber
    # The eventual read still shows version 1; another merge already wrote version 2.
    stubber.add_response("get_item", {"Item": _item({"a": 1}, 1)}, _read(consistent=False))
    current = _item({"a": 1, "b": 2}, 2)
    stubber.add_client_error(
        "update_item",
        service_error_code="ConditionalCheckFailedException",
        expected_params=_update("#version = :version"),
        modeled_fields={"Item": current},
    )
    merged = {**current, "data": {"S": '{"a":1,"b":2,"c":3}'}, "version": {"N": "3"}}
    stubber.add_response("update_item", {"Attributes": merged}, _update("#version = :version"))

    session = repo.merge("u1", SessionPatch({"c": 3}, default_ttl=1800), NOW)

    assert session.data == {"a": 1, "b": 2, "c": 3}
    stale, retry = sent
    assert stale["ExpressionAttributeValues"][":version"] == {"N": "1"}
    assert retry["ExpressionAttributeValues"][":version"] == {"N": "2"}
    # The retry is built on the item the failed write returned, not on the stale read.
    assert _written_data(retry) == {"a": 1, "b": 2, "c": 3}
    assert retry["ExpressionAttributeValues"][":ttl"] == {"N": str(NOW + 60)}


def test_a_miss_on_the_eventual_read_is_confirmed_by_a_consistent_read(repo_and_stubber) -> None:
    repo, stubber, _sent = repo_and_stubber
    # A PUT a moment ago is not visible to the eventual read yet.
    stubber.add_response("get_item", {}, _read(consistent=False))
    stubber.add_response("get_item", {"Item": _item({"a": 1}, 1)}, _read(consistent=True))
    stubber.add_response(
        "update_item",
        {"Attributes": _item({"a": 1, "b": 2}, 2)},
        _update("#version = :version"),
    )

    session = repo.merge("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)

    assert session.data == {"a": 1, "b": 2}


def test_an_absent_session_is_not_found_only_after_a_consistent_read(repo_and_stubber) -> None:
    repo, stubber, sent = repo_and_stubber
    stubber.add_response("get_item", {}, _read(consistent=False))
    stubber.add_response("get_item", {}, _read(consistent=True))

    with pytest.raises(NotFoundError):
        repo.merge("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)

    assert sent == []


def test_a_session_deleted_after_the_read_is_not_found_and_not_recreated(
    repo_and_stubber,
) -> None:
    repo, stubber, _sent = repo_and_stubber
    stubber.add_response("get_item", {"Item": _item({"a": 1}, 1)}, _read(consistent=False))
    stubber.add_client_error(
        "update_item",
        service_error_code="ConditionalCheckFailedException",
        expected_params=_update("#version = :version"),
    )

    with pytest.raises(NotFoundError):
        repo.merge("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)


def test_an_item_stored_before_lifetimes_were_remembered_slides_by_the_default(
    repo_and_stubber,
) -> None:
    repo, stubber, sent = repo_and_stubber
    legacy = _item({"a": 1}, None, ttl_seconds=None)
    stubber.add_response("get_item", {"Item": legacy}, _read(consistent=False))
    stubber.add_response(
        "update_item",
        {"Attributes": {**legacy, "version": {"N": "1"}}},
        # Without a version the item must still exist, or the update would create a bare one.
        _update("attribute_exists(#user_id) AND attribute_not_exists(#version)"),
    )

    session = repo.merge("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)

    (params,) = sent
    assert params["ExpressionAttributeValues"][":ttl"] == {"N": str(NOW + 1800)}
    assert ":ttl_seconds" not in params["ExpressionAttributeValues"]  # still the default's
    assert session.ttl_seconds is None


CREATE = "attribute_not_exists(#user_id) OR attribute_not_exists(#ttl) OR #ttl <= :now"


def test_a_first_save_that_loses_the_race_merges_into_the_winners_session(
    repo_and_stubber,
) -> None:
    repo, stubber, sent = repo_and_stubber
    # Nothing there when read; another first save creates the session before this write.
    stubber.add_response("get_item", {}, _read(consistent=False))
    winner = _item({"a": 1}, 1)
    stubber.add_client_error(
        "update_item",
        service_error_code="ConditionalCheckFailedException",
        expected_params=_update(CREATE),
        modeled_fields={"Item": winner},
    )
    merged = {**winner, "data": {"S": '{"a":1,"b":2}'}, "version": {"N": "2"}}
    stubber.add_response("update_item", {"Attributes": merged}, _update("#version = :version"))

    session = repo.upsert("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)

    assert session.data == {"a": 1, "b": 2}
    create, merge = sent
    assert _written_data(create) == {"b": 2}
    assert create["ExpressionAttributeValues"][":now"] == {"N": str(NOW)}
    assert merge["ExpressionAttributeValues"][":version"] == {"N": "1"}
    assert _written_data(merge) == {"a": 1, "b": 2}


def test_a_save_over_an_expired_item_creates_only_while_it_is_still_expired(
    repo_and_stubber,
) -> None:
    repo, stubber, sent = repo_and_stubber
    stubber.add_response(
        "get_item", {"Item": _item({"viejo": 1}, 4, ttl=NOW)}, _read(consistent=False)
    )
    created = _item({"b": 2}, 5, ttl_seconds=1800, ttl=NOW + 1800)
    stubber.add_response("update_item", {"Attributes": created}, _update(CREATE))

    session = repo.upsert("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)

    assert session.data == {"b": 2}
    (create,) = sent
    assert _written_data(create) == {"b": 2}  # the expired data is not merged
    assert create["ExpressionAttributeValues"][":ttl_seconds"] == {"N": "1800"}


def test_a_save_that_keeps_losing_races_is_a_503_after_bounded_attempts(
    repo_and_stubber,
) -> None:
    repo, stubber, sent = repo_and_stubber
    stubber.add_response("get_item", {}, _read(consistent=False))
    for version in range(1, module.MERGE_ATTEMPTS + 1):
        condition = CREATE if version == 1 else "#version = :version"
        stubber.add_client_error(
            "update_item",
            service_error_code="ConditionalCheckFailedException",
            expected_params=_update(condition),
            modeled_fields={"Item": _item({"a": version}, version)},
        )

    with pytest.raises(StorageUnavailableError):
        repo.upsert("u1", SessionPatch({"b": 2}, default_ttl=1800), NOW)

    assert len(sent) == module.MERGE_ATTEMPTS
