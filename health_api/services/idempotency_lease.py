"""Leases on the Idempotency-Key claims of running requests: renewed for as long as they run.

A claim stays its request's while the request renews it: one daemon thread per process renews
every running request's claim (one write conditional on the claim's token, setting
``claimed_at`` to now) each ``lease_seconds / 3``, until the request stores its answer or
releases the claim. A request is never taken over for being slow (a booking stalled on slow
DynamoDB, a long doctor deletion): gthread workers and uvicorn do not kill slow requests, so
the age of a claim says nothing about whether its request still runs. A process that dies
(kill -9, a worker killed at gunicorn's time-out) stops renewing: its claims lapse
``lease_seconds`` after their last renewal, and a retry takes over.

Why a lease rather than a deadline every request must meet: a Python thread cannot be stopped at
a deadline, and a storage write sent before it may still commit after it (a slow DynamoDB call
retried by botocore), so a takeover that waits out a deadline would still race the first run.

A renewal that fails (the store unreachable for a moment) is tried again at the next beat; the
lease outlasts two missed beats. A request that lives longer than its record (``ttl``) loses
the claim: the renewal's condition wants a live record. Requests shorter than a beat (nearly
all) cost no renewal at all; the thread exists only while some keyed request runs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from health_api import clock
from health_api.domain.errors import HealthApiError
from health_api.storage.base import IdempotencyRecord, IdempotencyRepository

log = logging.getLogger("health_api.idempotency")

BEATS_PER_LEASE = 3  # renewals per lease: two may fail before a running claim lapses
POLL_SECONDS = 1.0  # how often the thread looks for claims due a renewal


@dataclass
class _Lease:
    repository: IdempotencyRepository
    clave: str
    token: str
    lease_seconds: int
    renewed_at: int

    @property
    def every(self) -> float:
        """Seconds between renewals."""
        return self.lease_seconds / BEATS_PER_LEASE


class Renewer:
    """Renews the claims of this process's running requests (see the module doc)."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._leases: dict[tuple[int, str, str], _Lease] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(
        self, repository: IdempotencyRepository, claim: IdempotencyRecord, lease_seconds: int
    ) -> None:
        """Keep renewing ``claim`` (just written) until :meth:`drop`."""
        lease = _Lease(repository, claim.clave, claim.token, lease_seconds, claim.claimed_at)
        with self._lock:
            self._leases[_key(repository, claim)] = lease
            if self._thread is None or not self._thread.is_alive():
                # Started here, in the worker that runs the request (never before a fork).
                self._thread = threading.Thread(
                    target=self._run, name="idempotency-lease", daemon=True
                )
                self._thread.start()

    def drop(self, repository: IdempotencyRepository, claim: IdempotencyRecord) -> None:
        """Stop renewing ``claim`` (answered or released); nothing when it is not held."""
        with self._lock:
            self._leases.pop(_key(repository, claim), None)

    def holds(self, repository: IdempotencyRepository, claim: IdempotencyRecord) -> bool:
        """Whether ``claim`` is being renewed."""
        with self._lock:
            return _key(repository, claim) in self._leases

    def clear(self) -> None:
        """Stop renewing every claim (for tests that leave claims behind on purpose)."""
        with self._lock:
            self._leases.clear()

    def renew_due(self) -> int:
        """One beat: renew every held claim whose last renewal is a beat old (by the clock
        claims are stamped with); returns how many were due. A claim found no longer ours
        (answered, taken over, expired) is dropped, and so is one whose renewals failed for a
        whole lease (it may have been taken over since: trying on would only load the store)."""
        now = clock.epoch_seconds()
        with self._lock:
            due = [
                (key, lease)
                for key, lease in self._leases.items()
                if now - lease.renewed_at >= lease.every
            ]
        for key, lease in due:
            try:
                owned = lease.repository.renew(lease.clave, lease.token, now)
            except Exception as exc:
                # Storage errors (HealthApiError) are expected now and then; anything else is
                # a bug, logged with its trace. The thread must outlive both.
                if isinstance(exc, HealthApiError):
                    cause = type(exc).__name__
                    log.warning("idempotency claim not renewed", extra={"cause": cause})
                else:
                    log.exception("idempotency claim renewal failed unexpectedly")
                if now - lease.renewed_at >= lease.lease_seconds:
                    self._forget(key)
                continue
            with self._lock:
                if not owned:
                    self._leases.pop(key, None)
                elif key in self._leases:
                    lease.renewed_at = now
        return len(due)

    def _forget(self, key: tuple[int, str, str]) -> None:
        with self._lock:
            self._leases.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._leases:
                    # Under the lock: a hold() after this starts a new thread.
                    self._thread = None
                    return
            time.sleep(self.poll_seconds)
            self.renew_due()


def _key(repository: IdempotencyRepository, claim: IdempotencyRecord) -> tuple[int, str, str]:
    return (id(repository), claim.clave, claim.token)


RENEWER = Renewer()
