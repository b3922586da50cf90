"""The idempotent-call wrapper (kernel/idempotent.py) on every engine, with a codec of its own:
what REST and MCP share when a call carries an idempotency key."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from freezegun import freeze_time

from health_api.config import load_settings
from health_api.domain.errors import StorageUnavailableError
from health_api.kernel.idempotent import IN_FLIGHT, REPLAY, REUSED, RUN, IdempotentCall
from health_api.services import idempotency as rules
from health_api.services.idempotency_lease import RENEWER

START = "2030-01-01T00:00:00Z"
SETTINGS = load_settings({})


@dataclass
class Reply:
    """A surface's answer, as simple as one can be."""

    status: int
    text: str
    replayed: bool = False


class ReplyCodec:
    """Keeps 2xx and 409 replies (a rule's answer), not others; 5xx are failures."""

    def encode(self, reply: Reply) -> rules.Answer | None:
        if reply.status < 300 or reply.status == 409:
            return rules.Answer(reply.status, reply.text, "text/plain")
        return None

    def failed(self, reply: Reply) -> bool:
        return reply.status >= 500

    def decode(self, answer: rules.Answer) -> Reply:
        return Reply(answer.status, answer.body, replayed=True)


def keyed(storage, key: str = "key-1", fingerprint: str = "f1", scope: str = "scope-a"):
    return IdempotentCall.of(
        storage.idempotency,
        SETTINGS,
        ReplyCodec(),
        scope=scope,
        key=key,
        fingerprint=fingerprint,
    )


def refuse(outcome: str) -> Reply:
    return Reply(422 if outcome == REUSED else 409, outcome)


@pytest.fixture
def frozen():
    with freeze_time(START) as clock:
        yield clock


def test_a_first_call_runs_and_a_repeat_replays_its_answer_through_the_codec(
    storage, frozen
) -> None:
    runs: list[int] = []

    first = keyed(storage).run(lambda: runs.append(1) or Reply(201, "made"), refuse)
    again = keyed(storage).run(lambda: runs.append(2) or Reply(201, "again"), refuse)

    assert first == (RUN, Reply(201, "made"))
    assert again == (REPLAY, Reply(201, "made", replayed=True))
    assert runs == [1]


def test_another_fingerprint_under_the_same_key_is_refused_as_reused(storage, frozen) -> None:
    keyed(storage).run(lambda: Reply(201, "made"), refuse)

    outcome, reply = keyed(storage, fingerprint="f2").run(lambda: Reply(201, "x"), refuse)

    assert (outcome, reply) == (REUSED, Reply(422, REUSED))


def test_the_same_key_in_another_scope_is_another_call(storage, frozen) -> None:
    keyed(storage).run(lambda: Reply(201, "made"), refuse)

    outcome, reply = keyed(storage, scope="scope-b").run(lambda: Reply(200, "other"), refuse)

    assert (outcome, reply) == (RUN, Reply(200, "other"))


def test_a_repeat_while_the_first_runs_is_in_flight(storage, frozen) -> None:
    first = keyed(storage)
    assert first.begin() == RUN

    outcome, reply = keyed(storage).run(lambda: Reply(201, "x"), refuse)
    first.end(Reply(201, "made"))

    assert (outcome, reply) == (IN_FLIGHT, Reply(409, IN_FLIGHT))
    assert not RENEWER.holds(storage.idempotency, first.decision.claim)


def test_an_answer_the_codec_does_not_keep_frees_the_key_for_a_retry(storage, frozen) -> None:
    keyed(storage).run(lambda: Reply(400, "refused"), refuse)

    outcome, reply = keyed(storage).run(lambda: Reply(201, "made"), refuse)

    assert (outcome, reply) == (RUN, Reply(201, "made"))


def test_a_failed_call_is_taken_over_at_once_with_the_same_id_seed(storage, frozen) -> None:
    first = keyed(storage)
    first.begin()
    seed = first.id_seed()
    first.end(Reply(503, "broken"))

    retry = keyed(storage)

    assert retry.begin() == RUN
    assert retry.id_seed() == seed is not None
    retry.end(Reply(201, "made"))


def test_a_rule_failure_the_codec_keeps_is_replayed(storage, frozen) -> None:
    keyed(storage).run(lambda: Reply(409, "taken"), refuse)

    assert keyed(storage).run(lambda: Reply(201, "x"), refuse) == (
        REPLAY,
        Reply(409, "taken", replayed=True),
    )


def test_a_record_that_cannot_be_stored_is_logged_and_its_claim_no_longer_renewed(
    storage, frozen, monkeypatch, caplog
) -> None:
    call = keyed(storage)
    call.begin()

    def unavailable(_record) -> bool:
        raise StorageUnavailableError()

    monkeypatch.setattr(storage.idempotency, "complete", unavailable)
    with caplog.at_level(logging.WARNING, logger="health_api.idempotency"):
        call.end(Reply(201, "made"))

    assert [r.getMessage() for r in caplog.records] == ["idempotency record not updated"]
    assert caplog.records[0].cause == "StorageUnavailableError"
    assert not RENEWER.holds(storage.idempotency, call.decision.claim)


def test_a_call_that_never_claimed_has_no_id_seed_and_ends_as_a_no_op(storage, frozen) -> None:
    call = keyed(storage)

    call.end(Reply(201, "made"))

    after = keyed(storage)
    assert call.id_seed() is None
    assert after.begin() == RUN
    after.end(Reply(201, "made"))
