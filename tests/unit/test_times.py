"""Time normalisation and weekly-rule expansion (pure functions)."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

import pytest

from health_api.domain.errors import InvalidRequestError
from health_api.services.recurrence import WeeklyRule, expand, weekday_numbers
from health_api.services.times import local_string, normalize

MADRID = ZoneInfo("Europe/Madrid")
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01T10:30:00+01:00", "2026-12-01T09:30:00Z"),
        ("2026-12-01T09:30:00Z", "2026-12-01T09:30:00Z"),
        ("2026-12-01T09:30:00.987Z", "2026-12-01T09:30:00Z"),
        ("2026-12-01T04:30:00-0500", "2026-12-01T09:30:00Z"),
        ("2026-12-01T10:30", "2026-12-01T09:30:00Z"),
        ("2026-07-01T10:30:00", "2026-07-01T08:30:00Z"),
        ("2026-12-31T23:30:00-02:00", "2027-01-01T01:30:00Z"),
    ],
)
def test_any_offset_becomes_one_utc_string(value: str, expected: str) -> None:
    assert normalize(value, MADRID) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-12-01T25:00:00Z",
        "tomorrow",
        "",
        "2026-12-01",
        "2026-12-01T10:00:00+25:00",
        "2026-W49-1T10:00:00Z",
    ],
)
def test_impossible_or_malformed_times_are_refused(value: str) -> None:
    with pytest.raises(InvalidRequestError):
        normalize(value, UTC)


def test_a_local_time_skipped_by_dst_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="DST"):
        normalize("2026-03-29T02:30:00", MADRID)


def test_an_ambiguous_local_time_takes_its_first_occurrence() -> None:
    assert normalize("2026-10-25T02:30:00", MADRID) == "2026-10-25T00:30:00Z"


def test_local_string_renders_the_clinic_wall_clock() -> None:
    assert local_string("2026-07-01T08:30:00Z", MADRID) == "2026-07-01T10:30:00+02:00"
    assert local_string("2026-12-01T09:30:00Z", MADRID) == "2026-12-01T10:30:00+01:00"


def test_weekday_names_ignore_accents_and_case() -> None:
    assert weekday_numbers(["LUN", "mié", "Sáb", "mie"]) == (0, 2, 5)
    with pytest.raises(InvalidRequestError):
        weekday_numbers(["funday"])


def rule(
    desde: str, hasta: str, dias=("lun",), inicio="09:00", fin="11:00", minutes=30, tz=MADRID
) -> WeeklyRule:
    return WeeklyRule(
        date.fromisoformat(desde),
        date.fromisoformat(hasta),
        weekday_numbers(dias),
        time.fromisoformat(inicio),
        time.fromisoformat(fin),
        minutes,
        tz,
    )


def test_a_rule_expands_to_slots_that_end_by_hora_fin() -> None:
    starts = expand(rule("2026-11-30", "2026-11-30", inicio="09:00", fin="10:45"), 500)

    assert starts == ["2026-11-30T08:00:00Z", "2026-11-30T08:30:00Z", "2026-11-30T09:00:00Z"]


def test_a_rule_keeps_local_times_across_the_dst_change() -> None:
    # Spain leaves summer time on Sunday 25 October 2026: 09:00 local is 07:00Z, then 08:00Z.
    starts = expand(rule("2026-10-23", "2026-10-26", dias=("vie", "lun"), fin="09:30"), 500)

    assert starts == ["2026-10-23T07:00:00Z", "2026-10-26T08:00:00Z"]


def test_a_rule_skips_local_times_that_do_not_exist() -> None:
    starts = expand(
        rule("2026-03-29", "2026-03-29", dias=("dom",), inicio="01:30", fin="03:30", minutes=30),
        500,
    )

    # 01:30 local is 00:30Z; 02:00 and 02:30 do not exist; 03:00 local (CEST) is 01:00Z.
    assert starts == ["2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"]


def test_a_repeated_local_hour_yields_each_slot_once() -> None:
    starts = expand(
        rule("2026-10-25", "2026-10-25", dias=("dom",), inicio="02:00", fin="03:00", minutes=30),
        500,
    )

    assert starts == ["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"desde": "2026-12-02", "hasta": "2026-12-01"}, "hasta is before desde"),
        ({"inicio": "10:00", "fin": "09:00"}, "hora_fin must be after"),
        ({"desde": "2026-01-01", "hasta": "2027-06-01"}, "at most 366 days"),
    ],
)
def test_an_inconsistent_rule_is_refused(kwargs, message) -> None:
    arguments = {"desde": "2026-11-30", "hasta": "2026-12-30", **kwargs}

    with pytest.raises(InvalidRequestError, match=message):
        expand(rule(**arguments), 500)


def test_a_rule_yielding_too_many_slots_is_refused() -> None:
    every_day = ("lun", "mar", "mie", "jue", "vie", "sab", "dom")

    with pytest.raises(InvalidRequestError, match="more than 500"):
        expand(
            rule(
                "2026-11-30", "2027-02-28", dias=every_day, inicio="08:00", fin="20:00", minutes=15
            ),
            500,
        )
