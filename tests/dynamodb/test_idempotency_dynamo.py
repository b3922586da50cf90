"""Idempotency records as real DynamoDB behaves (Stubber): a claim whose PutItem botocore sent
twice, the first attempt committing and its answer lost, is still this request's claim."""

from __future__ import annotations

from botocore.stub import Stubber

from health_api.storage.base import IdempotencyRecord
from health_api.storage.dynamodb.idempotency import DynamoIdempotencyRepository
from health_api.storage.dynamodb.items import TableRef

NOW = 1_893_456_000


def _stored(token: str) -> dict:
    return {
        "clave": {"S": "k"},
        "huella": {"S": "h"},
        "token": {"S": token},
        "claimed_at": {"N": str(NOW)},
        "ttl": {"N": str(NOW + 60)},
        "completed": {"BOOL": False},
    }


def _failed_claim(client, token_found: str, retried: bool) -> bool:
    repository = DynamoIdempotencyRepository(client, TableRef("idempotency_keys"))
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "put_item",
            service_error_code="ConditionalCheckFailedException",
            http_status_code=400,
            response_meta={"RetryAttempts": 1 if retried else 0},
            modeled_fields={"Item": _stored(token_found)},
        )
        return repository.claim(IdempotencyRecord("k", "h", "mine", NOW, NOW + 60), NOW, NOW - 30)


def test_a_retried_claim_that_failed_on_its_own_write_is_ours(on_moto) -> None:
    _, client, _ = on_moto

    assert _failed_claim(client, token_found="mine", retried=True)


def test_a_claim_that_failed_on_another_requests_claim_is_not_ours(on_moto) -> None:
    _, client, _ = on_moto

    assert not _failed_claim(client, token_found="theirs", retried=False)
