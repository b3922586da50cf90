"""``desde`` and ``hasta`` in queries (a doctor's slots, availability, a user's appointments):
a date-time with an offset, one without (the clinic zone), or a plain date (the clinic's whole
day, both ends inclusive); a wrong value is a 400 that shows the accepted forms, and an offset
whose ``+`` arrived as a space (unencoded in the URL) says to send ``%2B``."""

from __future__ import annotations

import pytest

from tests.api.conftest import AGENT
from tests.api.helpers import add_slots, assert_problem, book, create_doctor, other_app

# In Europe/Madrid (UTC+1 in March): the last slot of 4 March, the first and the last of the 5th,
# and midnight starting the 6th.
MAR_4_2330 = "2030-03-04T22:30:00Z"
MAR_5_0030 = "2030-03-04T23:30:00Z"
MAR_5_2330 = "2030-03-05T22:30:00Z"
MAR_6_0000 = "2030-03-05T23:00:00Z"
TIMES = (MAR_4_2330, MAR_5_0030, MAR_5_2330, MAR_6_0000)

SCHEDULES = "/api/v1/doctors/doc-ana/schedules"
AVAILABILITY = "/api/v1/availability"
APPOINTMENTS = "/api/v1/users/user-1/appointments"
# Each query with its window parameters, and what a bad value there is called.
WINDOWS = (
    (SCHEDULES, {}, ("desde", "hasta")),
    (AVAILABILITY, {"especialidad": "cardiologia"}, ("desde", "hasta")),
    (APPOINTMENTS, {}, ("desde",)),
)


@pytest.fixture
def madrid(app, backend, tmp_path):
    """A client of the app with the clinic in Europe/Madrid; ``doc-ana`` (cardiology) with a
    free slot at each of ``TIMES``."""
    client = other_app(app, backend, tmp_path, timezone="Europe/Madrid").test_client()
    create_doctor(client, "doc-ana", especialidad="Cardiología")
    add_slots(client, "doc-ana", *TIMES)
    return client


def starts(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["fecha_hora"] for item in response.get_json()["items"]]


def test_a_plain_date_is_the_clinics_whole_day_in_a_slot_listing(madrid) -> None:
    day = {"desde": "2030-03-05", "hasta": "2030-03-05"}

    response = madrid.get(SCHEDULES, query_string=day, headers=AGENT)

    assert starts(response) == [MAR_5_0030, MAR_5_2330]


def test_a_plain_date_is_the_clinics_whole_day_in_availability(madrid) -> None:
    query = {"especialidad": "cardiologia", "desde": "2030-03-05", "hasta": "2030-03-05"}

    response = madrid.get(AVAILABILITY, query_string=query, headers=AGENT)

    assert starts(response) == [MAR_5_0030, MAR_5_2330]


def test_a_plain_date_starts_a_users_appointments_at_the_clinics_midnight(madrid) -> None:
    for fecha_hora in TIMES:
        assert book(madrid, "doc-ana", fecha_hora, "user-1").status_code == 201

    response = madrid.get(APPOINTMENTS, query_string={"desde": "2030-03-05"}, headers=AGENT)

    assert starts(response) == [MAR_5_0030, MAR_5_2330, MAR_6_0000]


def test_date_times_with_and_without_an_offset_still_bound_the_window(madrid) -> None:
    # 00:30 local (no offset: the clinic zone) to 22:30Z.
    query = {"desde": "2030-03-05T00:30:00", "hasta": "2030-03-05T22:30:00Z"}

    response = madrid.get(SCHEDULES, query_string=query, headers=AGENT)

    assert starts(response) == [MAR_5_0030, MAR_5_2330]


def test_an_encoded_plus_offset_is_read_as_that_instant(madrid) -> None:
    url = f"{SCHEDULES}?desde=2030-03-05T23:30:00%2B01:00&hasta=2030-03-06"

    assert starts(madrid.get(url, headers=AGENT)) == [MAR_5_2330, MAR_6_0000]


def test_a_value_that_is_no_time_is_a_400_that_shows_the_accepted_forms(madrid, subtests) -> None:
    for path, base, names in WINDOWS:
        for name in names:
            for value in ("tomorrow", "mañana", "05/03/2030", "2030-03-05T25:00", ""):
                with subtests.test(path=path, name=name, value=value):
                    query = {**base, name: value}

                    response = madrid.get(path, query_string=query, headers=AGENT)

                    body = assert_problem(response, 400)
                    assert list(body["errors"]) == [name]
                    [message] = body["errors"][name]
                    assert "2026-12-05" in message or "real date" in message, message
                    assert name in body["detail"]


def test_a_plus_sent_unencoded_is_a_400_that_says_to_send_percent_2b(madrid, subtests) -> None:
    for path, base, names in WINDOWS:
        for name in names:
            with subtests.test(path=path, name=name):
                given = "".join(f"{k}={v}&" for k, v in base.items())
                # "+" unencoded in a query string reaches the server as a space.
                url = f"{path}?{given}{name}=2030-03-05T10:00:00+01:00"

                response = madrid.get(url, headers=AGENT)

                body = assert_problem(response, 400)
                assert list(body["errors"]) == [name]
                assert "%2B" in body["errors"][name][0]
