"""Properties of time normalisation (health_api/services/times.py), for any input hypothesis finds.

- Any aware instant (years 1900-2999, any offset from -23:59 to +23:59, any fraction), written as
  ISO 8601 in any of the accepted spellings, normalises to the one canonical
  ``YYYY-MM-DDTHH:MM:SSZ`` string of that instant truncated to the second in UTC.
- String order of the normalised values is time order.
- A naive input in a zone with DST either normalises to a UTC string whose local rendering shows
  the same wall-clock time (the first occurrence when the hour repeats), or is refused, and only
  when that wall-clock time does not exist (a DST gap). The oracle for "does not exist" is
  independent of the code: no UTC instant has that local time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from health_api.domain.errors import InvalidRequestError
from health_api.services.times import local_string, normalize

CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DST_ZONES = (ZoneInfo("Europe/Madrid"), ZoneInfo("America/Santiago"))
PROPERTIES = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_instants = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31, 23, 59, 59)),
    offsets,
)


@st.composite
def iso_text(draw: st.DrawFn, instant: datetime) -> str:
    """``instant`` in one of the spellings the API accepts: ``T`` or a space, a fraction of 0-9
    digits (digits past the microsecond are arbitrary: they are below the second anyway), and
    the offset as ``+HH:MM``, ``+HHMM`` or, at zero, ``Z`` / ``z``."""
    separator = draw(st.sampled_from(["T", " "]))
    text = instant.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    digits = draw(st.integers(min_value=0, max_value=9))
    if digits:
        fraction = f"{instant.microsecond:06d}"
        fraction += "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=3, max_size=3)))
        text += "." + fraction[:digits]
    minutes = int(instant.utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    spellings = [f"{sign}{hours:02d}:{rest:02d}", f"{sign}{hours:02d}{rest:02d}"]
    if minutes == 0:
        spellings += ["Z", "z"]
    return text + draw(st.sampled_from(spellings))


def expected_utc(instant: datetime) -> str:
    """The oracle: the instant in UTC, truncated to the second, formatted by hand."""
    utc = instant.astimezone(UTC).replace(microsecond=0)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def truncated(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


@PROPERTIES
@given(data=st.data(), instant=aware_instants)
def test_any_offset_gives_the_one_canonical_utc_string(data: st.DataObject, instant) -> None:
    text = data.draw(iso_text(instant), label="text")
    # The clinic zone must not matter for a value that carries its offset.
    for clinic in (ZoneInfo("UTC"), *DST_ZONES):
        result = normalize(text, clinic)

        assert CANONICAL.match(result), result
        assert result == expected_utc(instant), (text, clinic.key)


@PROPERTIES
@given(data=st.data(), first=aware_instants, second=aware_instants)
def test_string_order_is_time_order(data: st.DataObject, first, second) -> None:
    a = normalize(data.draw(iso_text(first)), ZoneInfo("UTC"))
    b = normalize(data.draw(iso_text(second)), ZoneInfo("UTC"))

    assert (a < b) == (truncated(first) < truncated(second))
    assert (a == b) == (truncated(first) == truncated(second))


def _transitions(tz: ZoneInfo, years: range) -> list[datetime]:
    """Local wall-clock times at which ``tz`` changed its offset in ``years`` (hourly scan)."""
    found = []
    instant = datetime(years.start, 1, 1, tzinfo=UTC)
    end = datetime(years.stop, 1, 1, tzinfo=UTC)
    previous = instant.astimezone(tz).utcoffset()
    while instant < end:
        instant += timedelta(hours=1)
        offset = instant.astimezone(tz).utcoffset()
        if offset != previous:
            # The wall-clock time just before the change, in the old offset.
            found.append((instant - timedelta(microseconds=1)).astimezone(tz).replace(tzinfo=None))
            previous = offset
    return found


TRANSITIONS = {tz.key: _transitions(tz, range(2015, 2031)) for tz in DST_ZONES}


def _instants_with_wall_time(naive: datetime, tz: ZoneInfo) -> set[datetime]:
    """Every UTC instant whose local time in ``tz`` is ``naive``: none in a DST gap, two in a
    repeated hour."""
    instants = set()
    for fold in (0, 1):
        offset = naive.replace(tzinfo=tz, fold=fold).utcoffset()
        instant = (naive - offset).replace(tzinfo=UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == naive:
            instants.add(instant)
    return instants


def _earliest_instant_with_wall_time(naive: datetime, tz: ZoneInfo) -> datetime | None:
    """The first UTC instant whose local time in ``tz`` is ``naive``; None in a DST gap."""
    return min(_instants_with_wall_time(naive, tz), default=None)


@st.composite
def naive_in_dst_zone(draw: st.DrawFn) -> tuple[datetime, ZoneInfo]:
    """A wall-clock time in a DST zone: mostly within two hours of an offset change (so gaps
    and repeated hours are met), else anywhere in 1970-2037."""
    tz = draw(st.sampled_from(DST_ZONES))
    if draw(st.booleans()):
        near = draw(st.sampled_from(TRANSITIONS[tz.key]))
        naive = near + timedelta(seconds=draw(st.integers(-7200, 7200)))
    else:
        naive = draw(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2037, 12, 31)))
    return naive.replace(microsecond=0), tz


@PROPERTIES
@given(case=naive_in_dst_zone())
def test_a_naive_time_keeps_its_wall_clock_or_is_refused_only_in_a_dst_gap(case) -> None:
    naive, tz = case
    text = naive.strftime("%Y-%m-%dT%H:%M:%S")
    expected = _earliest_instant_with_wall_time(naive, tz)
    try:
        result = normalize(text, tz)
    except InvalidRequestError:
        assert expected is None, f"{text} exists in {tz.key} but was refused"
        return

    assert expected is not None, f"{text} does not exist in {tz.key} but became {result}"
    assert CANONICAL.match(result), result
    local = datetime.fromisoformat(local_string(result, tz))
    assert local.replace(tzinfo=None) == naive, (text, tz.key, result)
    assert result == expected_utc(expected)  # the repeated hour: its first occurrence


@pytest.mark.parametrize("tz", DST_ZONES, ids=lambda tz: tz.key)
def test_the_dst_strategy_does_reach_gaps_and_repeated_hours(tz: ZoneInfo) -> None:
    """The property above is only as good as its inputs: near every change of offset there is
    a skipped or a repeated wall-clock time, and both kinds occur in each zone."""
    kinds = set()
    for near in TRANSITIONS[tz.key]:
        just_before = near.replace(microsecond=0)
        if not _instants_with_wall_time(just_before + timedelta(seconds=1), tz):
            kinds.add("gap")
        if len(_instants_with_wall_time(just_before, tz)) == 2:
            kinds.add("repeat")
    assert kinds == {"gap", "repeat"}, (tz.key, kinds)
