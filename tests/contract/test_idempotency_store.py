"""Idempotency-Key records on every engine: claim, complete, replay, release, takeover, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from freezegun import freeze_time

from health_api.domain.errors import StorageUnavailableError
from health_api.services import idempotency as rules
from health_api.services.idempotency_lease import RENEWER
from health_api.storage.base import IdempotencyRecord

START = "2030-01-01T00:00:00Z"
NOW = 1_893_456_000  # START as epoch seconds
TTL = 3600
STALE = 30


def claim(clave: str = "k", token: str = "t1", huella: str = "h", at: int = NOW):  # noqa: S107
    return IdempotencyRecord(clave=clave, huella=huella, token=token, claimed_at=at, ttl=at + TTL)


def answered(record: IdempotencyRecord, body: str = '{"ok":true}') -> IdempotencyRecord:
    return IdempotencyRecord(
        clave=record.clave,
        huella=record.huella,
        token=record.token,
        claimed_at=record.claimed_at,
        ttl=record.ttl,
        completed=True,
        status=201,
        body=body,
        content_type="application/json",
        location="/api/v1/x/1",
    )


def test_a_free_key_is_claimed_once(storage) -> None:
    repo = storage.idempotency
    assert repo.claim(claim(token="t1"), NOW, NOW - STALE)
    assert not repo.claim(claim(token="t2"), NOW + 1, NOW + 1 - STALE)
    assert repo.get("k", NOW + 1).token == "t1"


def test_a_completed_record_is_read_back_exactly_and_not_claimable(storage) -> None:
    repo = storage.idempotency
    first = claim()
    repo.claim(first, NOW, NOW - STALE)
    body = '{"b": "ñ", "a": [1, 2.5]}'
    assert repo.complete(answered(first, body))
    record = repo.get("k", NOW + 100)
    assert record.completed
    assert record.status == 201
    assert record.body == body
    assert record.location == "/api/v1/x/1"
    assert record.content_type == "application/json"
    # A completed record is never taken over, however old.
    assert not repo.claim(claim(token="t2", at=NOW + 1000), NOW + 1000, NOW + 1000)


def test_a_claim_younger_than_the_bound_blocks_and_an_older_one_is_taken_over(storage) -> None:
    repo = storage.idempotency
    repo.claim(claim(token="dead"), NOW, NOW - STALE)
    later = NOW + STALE - 1
    assert not repo.claim(claim(token="t2", at=later), later, later - STALE)
    later = NOW + STALE
    assert repo.claim(claim(token="t2", at=later), later, later - STALE)
    assert repo.get("k", later).token == "t2"


def test_only_the_claims_owner_completes_or_releases_it(storage) -> None:
    repo = storage.idempotency
    mine = claim(token="mine")
    repo.claim(mine, NOW, NOW - STALE)
    assert not repo.complete(answered(claim(token="other")))
    repo.release("k", "other")
    assert repo.get("k", NOW).token == "mine"
    repo.release("k", "mine")
    assert repo.get("k", NOW) is None
    repo.release("k", "mine")  # already gone: fine


def test_an_expired_record_is_absent_and_its_key_is_new_again(storage) -> None:
    repo = storage.idempotency
    first = claim()
    repo.claim(first, NOW, NOW - STALE)
    repo.complete(answered(first))
    assert repo.get("k", NOW + TTL - 1) is not None
    assert repo.get("k", NOW + TTL) is None
    assert repo.claim(claim(token="t2", at=NOW + TTL), NOW + TTL, NOW + TTL - STALE)


@pytest.fixture
def frozen() -> Iterator:
    with freeze_time(START) as frozen_time:
        yield frozen_time


def begin(storage, huella: str = "h") -> rules.Decision:
    return rules.begin(storage.idempotency, "key", huella, ttl_seconds=TTL, lease_seconds=STALE)


def test_the_service_runs_once_then_replays_the_stored_answer(storage, frozen) -> None:
    first = begin(storage)
    assert first.outcome == rules.RUN
    assert begin(storage).outcome == rules.IN_FLIGHT
    answer = rules.Answer(201, '{"id":"x"}', "application/json", "/api/v1/x")
    assert rules.finish(storage.idempotency, first, answer, TTL)
    frozen.tick(60)
    replay = begin(storage)
    assert replay.outcome == rules.REPLAY
    assert replay.answer == answer
    assert begin(storage, huella="other").outcome == rules.REUSED


def test_the_service_takes_over_a_claim_whose_process_died(storage, frozen) -> None:
    assert begin(storage).outcome == rules.RUN
    frozen.tick(STALE - 1)
    assert begin(storage).outcome == rules.IN_FLIGHT
    frozen.tick(1)
    assert begin(storage).outcome == rules.RUN


def test_an_abandoned_claim_lets_the_retry_run_again(storage, frozen) -> None:
    first = begin(storage)
    rules.abandon(storage.idempotency, first)
    assert begin(storage).outcome == rules.RUN


def test_an_answer_over_the_size_bound_is_released_not_stored(storage, frozen) -> None:
    first = begin(storage)
    big = rules.Answer(200, "x" * (rules.MAX_STORED_BODY_BYTES + 1), "application/json")
    assert not rules.finish(storage.idempotency, first, big, TTL)
    assert begin(storage).outcome == rules.RUN


def test_a_record_expires_after_its_lifetime(storage, frozen) -> None:
    first = begin(storage)
    rules.finish(storage.idempotency, first, rules.Answer(204, ""), TTL)
    frozen.tick(TTL - 1)
    assert begin(storage).outcome == rules.REPLAY
    frozen.tick(1)
    assert begin(storage, huella="new intent").outcome == rules.RUN


def test_only_the_owner_renews_a_live_unanswered_claim(storage) -> None:
    repo = storage.idempotency
    mine = claim(token="mine")
    repo.claim(mine, NOW, NOW - STALE)
    renewed = NOW + STALE - 1
    assert repo.renew("k", "mine", renewed)
    assert not repo.renew("k", "other", renewed)
    assert repo.get("k", renewed).claimed_at == renewed
    # Renewed, it is not stale at its first claim's bound, only a lease after its renewal.
    later = NOW + STALE + 5
    assert not repo.claim(claim(token="t2", at=later), later, later - STALE)
    later = renewed + STALE
    assert repo.claim(claim(token="t2", at=later), later, later - STALE)
    assert not repo.renew("k", "mine", later)  # taken over: no longer mine


def test_an_answered_or_expired_claim_is_not_renewed(storage) -> None:
    repo = storage.idempotency
    first = claim(token="mine")
    repo.claim(first, NOW, NOW - STALE)
    repo.complete(answered(first))
    assert not repo.renew("k", "mine", NOW + 1)
    assert repo.get("k", NOW + 1).completed
    repo.claim(claim(clave="k2", token="mine"), NOW, NOW - STALE)
    assert not repo.renew("k2", "mine", NOW + TTL)


def test_a_seed_is_stored_with_the_claim_and_read_back(storage) -> None:
    repo = storage.idempotency
    repo.claim(replace(claim(), seed="abc123"), NOW, NOW - STALE)
    assert repo.get("k", NOW).seed == "abc123"
    repo.claim(claim(clave="k2"), NOW, NOW - STALE)
    assert repo.get("k2", NOW).seed == ""


def test_a_running_request_keeps_its_claim_past_any_age_while_renewed(storage, frozen) -> None:
    running = begin(storage)
    assert running.outcome == rules.RUN
    assert RENEWER.holds(storage.idempotency, running.claim)
    for _ in range(10):  # 100 s: past the lease many times over, renewed each 10 s
        frozen.tick(STALE // 3)
        RENEWER.renew_due()
        assert begin(storage).outcome == rules.IN_FLIGHT
    assert rules.finish(storage.idempotency, running, rules.Answer(204, ""), TTL)
    assert not RENEWER.holds(storage.idempotency, running.claim)
    assert begin(storage).outcome == rules.REPLAY


def test_a_takeover_keeps_the_dead_claims_seed_and_a_fresh_claim_draws_a_new_one(
    storage, frozen
) -> None:
    first = begin(storage)
    RENEWER.drop(storage.idempotency, first.claim)  # its process died: no more renewals
    frozen.tick(STALE)
    taken = begin(storage)
    assert taken.outcome == rules.RUN
    assert taken.claim.token != first.claim.token
    assert taken.claim.seed == first.claim.seed
    rules.finish(storage.idempotency, taken, rules.Answer(204, ""), TTL)
    frozen.tick(TTL)
    fresh = begin(storage)
    assert fresh.outcome == rules.RUN
    assert fresh.claim.seed != first.claim.seed
    assert rules.id_seed("key", fresh.claim.seed) != rules.id_seed("key", first.claim.seed)


def test_a_renewal_that_fails_is_tried_again_and_given_up_once_the_lease_lapsed(
    storage, frozen, monkeypatch
) -> None:
    running = begin(storage)
    repo = storage.idempotency

    def unreachable(clave, token, now):
        raise StorageUnavailableError("the store is unreachable")

    with monkeypatch.context() as outage:
        outage.setattr(repo, "renew", unreachable)
        frozen.tick(STALE // 3)
        assert RENEWER.renew_due() == 1  # failed: held, tried again at the next beat
        assert RENEWER.holds(repo, running.claim)
        frozen.tick(STALE - STALE // 3)
        assert begin(storage).outcome == rules.RUN  # lapsed: a retry took it over
        assert RENEWER.renew_due() >= 1
        assert not RENEWER.holds(repo, running.claim)  # given up after a whole lease
    assert not rules.finish(repo, running, rules.Answer(204, ""), TTL)  # no longer its claim


def test_a_claim_given_up_after_a_failure_is_taken_over_at_once_with_its_seed(
    storage, frozen
) -> None:
    failed = begin(storage)
    rules.abandon(storage.idempotency, failed, failed=True)  # a 5xx: something may be written
    retry = begin(storage)
    assert retry.outcome == rules.RUN
    assert retry.claim.seed == failed.claim.seed
    rules.abandon(storage.idempotency, retry)  # refused before it ran: the key is free
    assert begin(storage, huella="another intent").outcome == rules.RUN
