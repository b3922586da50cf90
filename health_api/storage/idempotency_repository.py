"""The idempotency repository protocol (table ``idempotency_keys``) and the record it stores.
Part of the repository protocols of ``storage.base``, which re-exports every name here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class IdempotencyRecord:
    """One ``Idempotency-Key`` record (table ``idempotency_keys``); times are epoch seconds.

    ``clave`` is a hash of (API key id, Idempotency-Key); ``huella`` the request's fingerprint
    hash. A claim (``completed`` False) belongs to the request holding ``token``, which renews
    ``claimed_at`` while it runs (a lease); ``seed`` is drawn when the key is claimed afresh and
    kept by a takeover (ids the request generates derive from it; empty on records written
    before seeds existed). A completed record carries the stored answer: ``status``, ``body``
    (the exact bytes, as text), ``content_type`` and ``location``. The record is gone on every
    read once ``ttl <= now``."""

    clave: str
    huella: str
    token: str
    claimed_at: int
    ttl: int
    completed: bool = False
    status: int | None = None
    body: str | None = None
    content_type: str | None = None
    location: str | None = None
    seed: str = ""


class IdempotencyRepository(Protocol):
    """Table ``idempotency_keys``: claims and stored answers of requests with a key."""

    def get(self, clave: str, now: int) -> IdempotencyRecord | None:
        """The live record (``ttl > now``), read strongly consistent; None when absent."""

    def claim(self, record: IdempotencyRecord, now: int, stale_before: int) -> bool:
        """Store ``record`` (a claim) with one conditional write when no live record holds
        ``clave``, or the one there is a claim taken at or before ``stale_before`` (its
        process died). False when another live record is in the way."""

    def renew(self, clave: str, token: str, now: int) -> bool:
        """Set ``claimed_at`` to ``now`` on the live claim holding ``token`` (its request still
        runs; ``now`` 0 lapses the claim at once); False when the claim is gone, completed or
        taken over."""

    def complete(self, completed: IdempotencyRecord) -> bool:
        """Replace the claim with its answer, only while the claim still holds ``token``
        (False when it was taken over or is gone)."""

    def release(self, clave: str, token: str) -> None:
        """Delete the claim holding ``token`` (nothing when it is gone or taken over)."""
