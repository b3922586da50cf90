"""Time normalisation: whatever a client sends becomes one canonical UTC string.

Inputs are ISO 8601 with any UTC offset, or with none (read in the clinic zone). Stored and
returned times are ``YYYY-MM-DDTHH:MM:SSZ``: second precision, UTC, so that string order is time
order. Local renderings (``fecha_hora_local``) are computed here too, so no client converts.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from health_api.domain.errors import InvalidRequestError
from health_api.domain.models import UTC_FORMAT

# Calendar date and time, optional fraction, optional offset; nothing else (no week dates,
# no ordinal dates): a strict shape keeps "2026-02-30" and friends out before parsing.
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A date-time whose offset lost its "+": form encoding reads an unescaped "+" in a query as a
# space, so "...T10:00:00+01:00" arrives as "...T10:00:00 01:00".
_PLUS_AS_SPACE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)? \d{2}:?\d{2}", re.ASCII
)
BOUND_EXAMPLES = (
    "send a date-time with an offset (2026-12-05T10:00:00+01:00, the '+' as %2B in a URL, or "
    "2026-12-05T09:00:00Z), one without (2026-12-05T10:00:00, the clinic's time zone), or a "
    "date (2026-12-05)"
)
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


# Instants a client may name. Far outside it, the canonical form breaks (strftime does not pad
# a year before 1000, so string order is no longer time order) and date arithmetic overflows.
YEARS = (1900, 2999)


def normalize_instant(value: str, default_zone: ZoneInfo) -> str:
    """A client's instant as canonical UTC (no offset: ``default_zone``); a malformed or
    out-of-range one is an ``InvalidRequestError`` saying why."""
    try:
        moment = parse_instant(value, default_zone)
    except OverflowError:
        raise InvalidRequestError(f"{value!r} is out of range") from None
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise InvalidRequestError(f"{value!r}: the year must be {YEARS[0]}-{YEARS[1]}")
    return to_utc_string(moment)


def normalize_bound(value: str, default_zone: ZoneInfo, *, end: bool = False) -> str:
    """A query window's bound (``desde``, ``hasta``) as canonical UTC: a date-time as
    ``normalize_instant`` reads it, or a date ``YYYY-MM-DD`` in ``default_zone``, from its first
    second (``end=False``) or to its last, 23:59:59, inclusive (``end=True``). Anything else is
    an ``InvalidRequestError`` that shows the accepted forms, and names the lost ``+`` when an
    offset arrived after a space."""
    text = value.strip() if isinstance(value, str) else ""
    if _DATE.fullmatch(text):
        day = parse_date(text)
        if not YEARS[0] <= day.year <= YEARS[1]:
            raise InvalidRequestError(f"the year must be {YEARS[0]}-{YEARS[1]}")
        wall = datetime.combine(day, time(23, 59, 59) if end else time(0))
        # No round-trip check here: where midnight is skipped by a DST jump, fold=0 reads it
        # with the old offset, which is the day's first instant; at a repeated hour, the end of
        # the day takes its second occurrence, so the whole day is inside the window.
        return to_utc_string(wall.replace(tzinfo=default_zone, fold=1 if end else 0))
    if _PLUS_AS_SPACE.fullmatch(text):
        raise InvalidRequestError(
            "the offset lost its '+': in a URL query a '+' means a space, so send it as %2B "
            "(2026-12-05T10:00:00%2B01:00)"
        )
    if not _ISO.match(text):
        raise InvalidRequestError(f"not a date-time or a date: {BOUND_EXAMPLES}")
    return normalize_instant(text, default_zone)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``InvalidRequestError`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequestError(f"unknown time zone {name!r}") from None


def parse_instant(value: str, default_zone: ZoneInfo) -> datetime:
    """An aware UTC datetime from ISO 8601 text; a value with no offset is local to
    ``default_zone``. Fractions of a second are dropped. Impossible dates are
    ``InvalidRequestError``."""
    match = _ISO.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise InvalidRequestError(
            f"{value!r} is not an ISO 8601 date-time: send e.g. 2026-12-05T10:00:00+01:00, "
            "2026-12-05T09:00:00Z, or 2026-12-05T10:00:00 (the clinic's time zone)"
        )
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    offset = match.group(7)
    try:
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise InvalidRequestError(f"{value!r} is not a real date-time: {exc}") from None
    if offset is None:
        return localize(naive, default_zone).astimezone(UTC)
    if offset in {"Z", "z"}:
        return naive.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise InvalidRequestError(f"{value!r} has an impossible UTC offset")
    delta = timedelta(hours=hours, minutes=minutes) * sign
    return (naive - delta).replace(tzinfo=UTC)


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach ``tz`` to a wall-clock time. A time skipped by a DST jump is
    ``InvalidRequestError``; an ambiguous one (the repeated hour) takes its first occurrence."""
    aware = naive.replace(tzinfo=tz, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        raise InvalidRequestError(f"{naive.isoformat()} does not exist in {tz.key} (DST change)")
    return aware


def to_utc_string(instant: datetime) -> str:
    """The canonical stored form of an aware datetime."""
    utc = instant.astimezone(UTC)
    # Not strftime("%Y"): glibc does not zero-pad years below 1000, which would break the
    # "string order is time order" promise of the stored form.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def normalize(value: str, default_zone: ZoneInfo) -> str:
    """``parse_instant`` then ``to_utc_string``: any accepted input to its canonical form."""
    return to_utc_string(parse_instant(value, default_zone))


def from_utc_string(value: str) -> datetime:
    """Parse a canonical stored string back to an aware UTC datetime."""
    if _CANONICAL.fullmatch(value):
        # Every stored time has this shape: slicing is ~10x cheaper than strptime, which cost
        # more than the query in slot listings (each slot's fecha_hora_local parses one).
        return datetime(
            int(value[0:4]), int(value[5:7]), int(value[8:10]),
            int(value[11:13]), int(value[14:16]), int(value[17:19]), tzinfo=UTC,
        )  # fmt: skip
    return datetime.strptime(value, UTC_FORMAT).replace(tzinfo=UTC)


@functools.lru_cache(maxsize=16384)
def local_string(fecha_hora: str, tz: ZoneInfo) -> str:
    """The wall-clock time of a stored instant in ``tz``, ISO 8601 with its offset.

    Remembered: the same slots are listed again and again (a day of a specialty's availability
    is 20 of them per request), and the answer for an instant and a zone never changes."""
    return from_utc_string(fecha_hora).astimezone(tz).isoformat()


def parse_date(value: str) -> date:
    """A calendar date ``YYYY-MM-DD``; ``InvalidRequestError`` otherwise."""
    if not isinstance(value, str) or not _DATE.match(value):
        raise InvalidRequestError(f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(f"{value!r} is not a real date: {exc}") from None


def parse_time_of_day(value: str) -> time:
    """A wall-clock time ``HH:MM`` (or ``HH:MM:SS``); ``InvalidRequestError`` otherwise."""
    if not isinstance(value, str) or not re.match(r"^\d{2}:\d{2}(:\d{2})?$", value):
        raise InvalidRequestError(f"{value!r} is not a time of day (HH:MM)")
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequestError(f"{value!r} is not a real time of day: {exc}") from None
