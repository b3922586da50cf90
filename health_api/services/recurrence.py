"""Expand a weekly rule ("Mondays and Wednesdays 09:00-13:00, 30 min") into UTC slot times.

The rule is wall-clock time in its zone, so the UTC instants shift across a DST change while
the local times stay put. A local time that a DST jump skips does not exist and yields no slot; a
repeated (ambiguous) local time yields one slot, at its first occurrence.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from health_api.domain.errors import InvalidRequestError
from health_api.services.times import localize, to_utc_string

WEEKDAYS = {"lun": 0, "mar": 1, "mie": 2, "jue": 3, "vie": 4, "sab": 5, "dom": 6}
MAX_RULE_DAYS = 366


@dataclass(frozen=True)
class WeeklyRule:
    """A recurring schedule: dates inclusive, times of day in ``tz``."""

    desde: date
    hasta: date
    dias: tuple[int, ...]
    hora_inicio: time
    hora_fin: time
    duracion_min: int
    tz: ZoneInfo


def weekday_numbers(names: Iterable[str]) -> tuple[int, ...]:
    """``["lun", "mié"]`` -> ``(0, 2)``; accents and case are ignored; unknown names refused."""
    numbers = []
    for name in names:
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", str(name)) if not unicodedata.combining(c)
        ).casefold()[:3]
        if bare not in WEEKDAYS:
            raise InvalidRequestError(f"{name!r} is not a weekday; use {', '.join(WEEKDAYS)}")
        numbers.append(WEEKDAYS[bare])
    return tuple(sorted(set(numbers)))


def expand(rule: WeeklyRule, limit: int) -> list[str]:
    """The rule's slot start times as canonical UTC strings, in time order.

    ``InvalidRequestError`` when the rule is inconsistent or yields more than ``limit`` slots.
    """
    if rule.hasta < rule.desde:
        raise InvalidRequestError("hasta is before desde")
    if (rule.hasta - rule.desde).days >= MAX_RULE_DAYS:
        raise InvalidRequestError(f"a rule may span at most {MAX_RULE_DAYS} days")
    if rule.hora_fin <= rule.hora_inicio:
        raise InvalidRequestError("hora_fin must be after hora_inicio")
    step = timedelta(minutes=rule.duracion_min)
    starts: list[str] = []
    day = rule.desde
    while day <= rule.hasta:
        if day.weekday() in rule.dias:
            wall = datetime.combine(day, rule.hora_inicio)
            end = datetime.combine(day, rule.hora_fin)
            while wall + step <= end:
                # A wall-clock time skipped by a DST jump does not exist that day: no slot.
                with contextlib.suppress(InvalidRequestError):
                    starts.append(to_utc_string(localize(wall, rule.tz)))
                if len(starts) > limit:
                    raise InvalidRequestError(f"the rule yields more than {limit} slots")
                wall += step
        day += timedelta(days=1)
    return sorted(set(starts))
