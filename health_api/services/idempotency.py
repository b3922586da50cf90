"""Idempotency-Key rules (draft-ietf-httpapi-idempotency-key-header), independent of HTTP.

A request with a key is *begun* before it runs: one consistent read of the key's record, then,
when the key is free, a conditional write that claims it. The outcome says what to do:

- ``run``: this request owns the key; afterwards it is *finished* (its answer stored) or
  *abandoned* (the claim deleted, so that a retry runs again);
- ``replay``: a completed record with the same fingerprint: answer what it stored;
- ``reused``: the key was used for another request (other fingerprint): a 422;
- ``in_flight``: another request holds a live claim on it: a 409, retry shortly.

A running request renews its claim, a lease of ``lease_seconds`` (``idempotency_lease.py``), so
however slow it is, it is never taken over. A claim whose request died with its process
(kill -9, a worker killed at its time-out) is no longer renewed and is taken over once its last
renewal is ``lease_seconds`` old. The re-run must not create twice what the first run
committed: ids the server generates are derived from :func:`id_seed` of the key and the claim's
``seed``, which a takeover keeps (a key claimed afresh, after its record expired or was
released, draws a new one: a new request, new ids); the other writes are idempotent by their
own rules (a booking by the same user answers the booking).

Answers larger than ``MAX_STORED_BODY_BYTES`` are not stored (DynamoDB's items stop at 400 KB):
the claim is released instead, and a retry with the key runs again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from health_api import clock
from health_api.services.idempotency_lease import RENEWER
from health_api.storage.base import IdempotencyRecord, IdempotencyRepository

# Well under DynamoDB's 400 KB item limit, which also counts the other attributes and names.
MAX_STORED_BODY_BYTES = 256 * 1024
# A claim can lose to a record that expires or is released between the read and the write;
# each round reads again. Past these, the key is treated as in flight (the client retries).
CLAIM_ATTEMPTS = 3

RUN, REPLAY, REUSED, IN_FLIGHT = "run", "replay", "reused", "in_flight"
# ``claimed_at`` of a claim given up after a failure: older than any lease, taken over at once.
LAPSED = 0


@dataclass(frozen=True)
class Answer:
    """A response as stored and replayed: status, exact body text, content type, Location."""

    status: int
    body: str
    content_type: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class Decision:
    """What :func:`begin` decided; ``claim`` is this request's claim when ``outcome == RUN``,
    ``answer`` the stored answer when ``outcome == REPLAY``."""

    outcome: str
    clave: str
    claim: IdempotencyRecord | None = None
    answer: Answer | None = None


def record_key(scope: str, key: str) -> str:
    """The record's key: a hash of the scope (the API key's id) and the Idempotency-Key, so
    keys of two clients never meet and no client text is stored."""
    return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


def id_seed(clave: str, seed: str = "") -> str:
    """Seed for ids the server generates while running under key ``clave`` with a claim of
    ``seed``: the same on a re-run that took the claim over, so a first run that committed
    before dying is found, not duplicated; another after the record expired (a new ``seed``).
    Without a seed (a claim stored before seeds existed) it is the key's alone, as it was."""
    material = f"{clave}\n{seed}" if seed else clave
    return hashlib.sha256(b"health-api generated id\n" + material.encode()).hexdigest()


def canonical_body(body: bytes) -> bytes:
    """JSON bodies in a canonical form (sorted keys, no spaces); other bytes as they are."""
    if not body:
        return b""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _utf8(text)


def _utf8(text: str) -> bytes:
    # A JSON escape may name a lone surrogate ("\ud800"), which UTF-8 cannot encode: hashed as
    # it came (surrogatepass), the request runs and its handler refuses the body (a 400, as
    # without a key) instead of the fingerprint failing with a 500.
    return text.encode("utf-8", "surrogatepass")


def fingerprint(method: str, path: str, query: Iterable[tuple[str, str]], body: bytes) -> str:
    """A hash of method + path + sorted query + canonical JSON body (the body is never kept)."""
    digest = hashlib.sha256()
    for part in (method.upper(), path, json.dumps(sorted(query), ensure_ascii=False)):
        digest.update(_utf8(part) + b"\n")
    digest.update(canonical_body(body))
    return digest.hexdigest()


def call_fingerprint(tool: str, arguments: Mapping[str, Any]) -> str:
    """The fingerprint of an MCP tool call: the tool's name and its canonical JSON arguments."""
    body = json.dumps(arguments, sort_keys=True, ensure_ascii=False)
    return fingerprint("TOOL", tool, [], _utf8(body))


def begin(
    repository: IdempotencyRepository,
    clave: str,
    huella: str,
    *,
    ttl_seconds: int,
    lease_seconds: int,
) -> Decision:
    """Read the key's record and claim the key when it is free (see the module doc). A claim
    won is renewed in the background until :func:`finish` or :func:`abandon`."""
    for _ in range(CLAIM_ATTEMPTS):
        now = clock.epoch_seconds()
        stale_before = now - lease_seconds
        record = repository.get(clave, now)
        seed = secrets.token_hex(8)
        if record is not None:
            if record.huella != huella:
                return Decision(REUSED, clave)
            if record.completed:
                return Decision(REPLAY, clave, answer=_answer(record))
            if record.claimed_at > stale_before:
                return Decision(IN_FLIGHT, clave)
            # Its request died mid-way: the re-run keeps its seed, so the ids it generates
            # are those the first run may have committed.
            seed = record.seed
        claim = IdempotencyRecord(
            clave=clave,
            huella=huella,
            token=secrets.token_hex(16),
            claimed_at=now,
            ttl=now + ttl_seconds,
            seed=seed,
        )
        if repository.claim(claim, now, stale_before):
            RENEWER.hold(repository, claim, lease_seconds)
            return Decision(RUN, clave, claim=claim)
    return Decision(IN_FLIGHT, clave)


def finish(
    repository: IdempotencyRepository, decision: Decision, answer: Answer, ttl_seconds: int
) -> bool:
    """Store ``answer`` for the key this request claimed; True when stored. A body over
    ``MAX_STORED_BODY_BYTES`` is not stored: the claim is released instead."""
    claim = decision.claim
    if claim is None:
        return False
    try:
        if len(answer.body.encode()) > MAX_STORED_BODY_BYTES:
            repository.release(claim.clave, claim.token)
            return False
        completed = replace(
            claim,
            completed=True,
            status=answer.status,
            body=answer.body,
            content_type=answer.content_type,
            location=answer.location,
            ttl=clock.epoch_seconds() + ttl_seconds,
        )
        return repository.complete(completed)
    finally:
        RENEWER.drop(repository, claim)


def abandon(repository: IdempotencyRepository, decision: Decision, *, failed: bool = False) -> None:
    """Give up this request's claim: the answer is not to be replayed, a retry runs again.

    Refused before it changed anything (a 400, a schema 422): the claim is deleted, the key is
    free for any request. ``failed`` mid-way (a 5xx: a write may have committed, e.g. a
    DynamoDB error after the item was written): the claim stays, lapsed at once, so that the
    retry takes it over now and keeps its ``seed`` (it finds what the first run created)."""
    claim = decision.claim
    if claim is None:
        return
    try:
        if failed:
            repository.renew(claim.clave, claim.token, LAPSED)
        else:
            repository.release(claim.clave, claim.token)
    finally:
        RENEWER.drop(repository, claim)


def let_go(repository: IdempotencyRepository, decision: Decision) -> None:
    """Stop renewing this request's claim, leaving it as it is (answered, released, or to
    lapse a lease later): for a request that ends by an error between claim and answer."""
    if decision.claim is not None:
        RENEWER.drop(repository, decision.claim)


def _answer(record: IdempotencyRecord) -> Answer:
    return Answer(
        status=record.status or 200,
        body=record.body or "",
        content_type=record.content_type or None,
        location=record.location or None,
    )
