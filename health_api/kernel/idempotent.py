"""The idempotent-call wrapper: one way for every surface to run a call under an idempotency key.

A surface feeds it a scope (the caller's ``idempotency_scope``), the client's key, a fingerprint
of the call and an answer codec (how its answer is stored and replayed); the wrapper drives the
rules of ``services/idempotency.py``: :meth:`IdempotentCall.begin` reads and claims the key (the
claim's lease is renewed meanwhile, ``services/idempotency_lease.py``), :meth:`~IdempotentCall.end`
stores the answer (``finish``), or gives the claim up (``abandon``) when the codec says the answer
is not to be kept, and always stops renewing the claim (``let_go``). A replay is the codec's
reading of the stored answer. REST (``api/idempotency.py``, between its before and after hooks)
and MCP (``mcp/calls.py``, around a tool's body) only add their codec and their refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from health_api.config import Settings
from health_api.domain.errors import HealthApiError
from health_api.services import idempotency as rules
from health_api.storage.base import IdempotencyRepository

log = logging.getLogger("health_api.idempotency")

R = TypeVar("R")

RUN, REPLAY, REUSED, IN_FLIGHT = rules.RUN, rules.REPLAY, rules.REUSED, rules.IN_FLIGHT


class AnswerCodec(Protocol[R]):
    """How a surface's answers are stored and replayed."""

    def encode(self, result: R) -> rules.Answer | None:
        """The answer to store for ``result``; None when it is not to be kept (a retry runs)."""

    def failed(self, result: R) -> bool:
        """Whether ``result`` failed mid-way (a 5xx: a write may have committed)."""

    def decode(self, answer: rules.Answer) -> R:
        """The replay of a stored ``answer``."""


@dataclass
class IdempotentCall(Generic[R]):
    """One call under an idempotency key (see the module doc)."""

    repository: IdempotencyRepository
    codec: AnswerCodec[R]
    clave: str
    huella: str
    ttl_seconds: int
    lease_seconds: int
    # Said in the warning when the record cannot be updated (never the client's key).
    log_extra: Mapping[str, Any] = field(default_factory=dict)
    decision: rules.Decision | None = None

    @classmethod
    def of(
        cls,
        repository: IdempotencyRepository,
        settings: Settings,
        codec: AnswerCodec[R],
        *,
        scope: str,
        key: str,
        fingerprint: str,
        log_extra: Mapping[str, Any] | None = None,
    ) -> IdempotentCall[R]:
        """The call keyed ``key`` in ``scope`` (a caller's ``idempotency_scope``), with the
        ``settings``' record lifetime and claim lease."""
        return cls(
            repository,
            codec,
            rules.record_key(scope, key),
            fingerprint,
            settings.idempotency_ttl_seconds,
            settings.idempotency_lease_seconds,
            dict(log_extra or {}),
        )

    def begin(self) -> str:
        """Read the key's record and claim it when free: ``RUN`` (run the call, then
        :meth:`end`), ``REPLAY`` (answer :meth:`replayed`), ``REUSED`` or ``IN_FLIGHT``."""
        self.decision = rules.begin(
            self.repository,
            self.clave,
            self.huella,
            ttl_seconds=self.ttl_seconds,
            lease_seconds=self.lease_seconds,
        )
        if self.decision.outcome == REPLAY and self.decision.answer is None:
            return IN_FLIGHT  # never so: a completed record always has an answer
        return self.decision.outcome

    def replayed(self) -> R:
        """The stored answer, as the codec replays it."""
        answer = self.decision.answer if self.decision is not None else None
        return self.codec.decode(answer or rules.Answer(status=200, body=""))

    def end(self, result: R) -> None:
        """Store ``result`` when the codec keeps it, else give the claim up; then stop renewing
        the claim whatever happened. A record that cannot be updated is logged, not raised: the
        call itself happened (the claim lapses with its lease, and a retry re-runs)."""
        decision = self.decision
        if decision is None or decision.claim is None:
            return
        try:
            answer = self.codec.encode(result)
            if answer is not None:
                rules.finish(self.repository, decision, answer, self.ttl_seconds)
            else:
                rules.abandon(self.repository, decision, failed=self.codec.failed(result))
        except HealthApiError as exc:
            log.warning(
                "idempotency record not updated",
                extra={**self.log_extra, "cause": type(exc).__name__},
            )
        finally:
            rules.let_go(self.repository, decision)

    def id_seed(self) -> str | None:
        """The seed for ids the running call generates (``rules.id_seed``); None unclaimed."""
        if self.decision is None or self.decision.claim is None:
            return None
        return rules.id_seed(self.decision.clave, self.decision.claim.seed)

    def run(self, action: Callable[[], R], refuse: Callable[[str], R]) -> tuple[str, R]:
        """Run ``action`` under the key: ``(outcome, result)`` where a replay is the stored
        answer and a refusal (``REUSED``, ``IN_FLIGHT``) is ``refuse(outcome)``."""
        outcome = self.begin()
        if outcome == REPLAY:
            return outcome, self.replayed()
        if outcome != RUN:
            return outcome, refuse(outcome)
        result = action()
        self.end(result)
        return outcome, result
