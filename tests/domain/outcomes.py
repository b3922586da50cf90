"""What an action of the state machine answers, as a table row states it, and the check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from health_api.domain import slots as rules
from health_api.domain.models import Slot, slot_at
from health_api.domain.slots import Keep, Move, Precondition, Write
from tests.domain.states import (
    EXPIRY,
    FUTURE,
    MOTIVO,
    NEW_NONCE,
    NOW,
    OLD_MOTIVO,
    OTHER_TIME,
    PAST,
    STATE_NAMES,
    USER,
    state,
)

FREE = Precondition.FREE
HELD_LIVE_BY = Precondition.HELD_LIVE_BY
BOOKED_BY = Precondition.BOOKED_BY
CARRIES_HOLD = Precondition.CARRIES_HOLD


@dataclass(frozen=True)
class Raises:
    """The action raises exactly ``error`` (with ``reason``, for a ``RescheduleError``)."""

    error: type[Exception]
    reason: str | None = None


@dataclass(frozen=True)
class Writes:
    """The action answers a ``Write`` under ``when`` of a ``booking``, ``hold`` or ``freeing``."""

    when: Precondition
    changes: str
    nonce: str | None = None

    def expected(self, stored: Slot | None) -> Write:
        changes = {
            "booking": rules.booking_changes(USER, MOTIVO, NOW),
            "hold": rules.hold_changes(USER, NEW_NONCE, EXPIRY),
            "freeing": rules.freeing_changes(),
        }[self.changes]
        return Write(self.when, changes, self.nonce)


@dataclass(frozen=True)
class Keeps:
    """The action changes nothing and answers the slot ``as stored`` or ``free at now``."""

    view: str = "as stored"
    created: bool = False

    def expected(self, stored: Slot | None) -> Keep:
        assert stored is not None
        slot = stored if self.view == "as stored" else slot_at(stored, NOW)
        assert self.view in ("as stored", "free at now")
        return Keep(slot, created=self.created)


@dataclass(frozen=True)
class Moves:
    """A reschedule answers a ``Move``: the source freed under ``BOOKED_BY``, the target booked
    under ``when`` (``nonce``: the user's hold it consumes) with the old booking's motivo."""

    when: Precondition
    nonce: str | None = None

    def expected(self, stored: Slot | None) -> Move:
        take = Write(self.when, rules.booking_changes(USER, OLD_MOTIVO, NOW), self.nonce)
        return Move(Write(BOOKED_BY, rules.freeing_changes()), take)


@dataclass(frozen=True)
class KeepsTarget:
    """A reschedule retried after success answers the target as stored."""

    def expected(self, stored: Slot | None) -> Keep:
        return Keep(state("booked by the user", OTHER_TIME))


class Nothing:
    """A release with nothing to do answers None."""

    def expected(self, stored: Slot | None) -> None:
        return None


NOTHING = Nothing()


def check(act: Callable[[], object], outcome: object, stored: Slot | None) -> None:
    """Run ``act`` and hold its answer to ``outcome``."""
    if isinstance(outcome, Raises):
        with pytest.raises(outcome.error) as caught:
            act()
        assert type(caught.value) is outcome.error
        if outcome.reason is not None:
            assert caught.value.reason == outcome.reason
        return
    assert act() == outcome.expected(stored)  # type: ignore[attr-defined]


def rows(table: dict[str, object]) -> list:
    """The table's rows, each for a slot in the future and one in the past."""
    assert tuple(table) == STATE_NAMES  # every stored state, in one order
    return [
        pytest.param(name, outcome, fecha_hora, id=f"{name}-{when}")
        for name, outcome in table.items()
        for when, fecha_hora in (("future", FUTURE), ("past", PAST))
    ]
