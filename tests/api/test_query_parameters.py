"""Query parameters: an unknown one is a 400 naming it on every operation (a typo must never
widen a query), a bad value is a 400, and the app's own length limits on ids and cursors answer
with problem+json well below the request line gunicorn accepts."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from health_api.schemas.common import ID_PATTERN, MAX_CURSOR_LENGTH
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import (
    MON_0900,
    add_slots,
    assert_problem,
    book,
    create_doctor,
    slot_url,
)

METHODS = {"get", "put", "post", "delete", "patch"}
SAMPLE_PATH_VALUES = {
    "doctor_id": "doc-ana",
    "user_id": "user-1",
    "fecha_hora": MON_0900,
    "hold_id": "no-such-hold",
}
GUNICORN_CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_a_misspelt_filter_is_a_400_naming_it_not_every_doctor(client) -> None:
    create_doctor(client, "doc-ana", "Cardiología")
    create_doctor(client, "doc-luis", "Pediatría")

    response = client.get("/api/v1/doctors?especialidd=cardiologia", headers=AGENT)

    body = assert_problem(response, 400)
    assert body["errors"] == {"especialidd": ["unknown query parameter"]}
    assert "especialidd" in body["detail"]
    assert "items" not in body


def test_known_parameters_still_filter(client) -> None:
    create_doctor(client, "doc-ana", "Cardiología")
    create_doctor(client, "doc-luis", "Pediatría")

    response = client.get("/api/v1/doctors?especialidad=cardiologia&limit=5", headers=AGENT)

    assert response.status_code == 200
    assert [d["doctor_id"] for d in response.get_json()["items"]] == ["doc-ana"]


def test_every_unknown_parameter_is_named(client) -> None:
    response = client.get("/api/v1/availability?especialidad=x&desd=1&hast=2", headers=AGENT)

    body = assert_problem(response, 400)
    assert set(body["errors"]) == {"desd", "hast"}


def test_a_key_without_the_role_gets_its_403_before_any_parameter_check(client) -> None:
    response = client.get("/api/v1/admin/tables?verbose=1", headers=AGENT)

    assert_problem(response, 403)


def _operations(client):
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method in METHODS & item.keys():
            url = re.sub(
                r"\{(\w+)\}", lambda m: quote(SAMPLE_PATH_VALUES[m.group(1)], safe=""), path
            )
            yield method, url


def test_every_operation_refuses_an_unknown_parameter_before_acting(client) -> None:
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900)
    operations = sorted(_operations(client))
    assert len(operations) >= 20

    for method, url in operations:
        response = client.open(f"{url}?zz_typo=1", method=method.upper(), headers=ADMIN)
        if (method, url) == ("post", "/api/v1/tokens"):
            # Only issuer keys mint: the admin key's 403 comes first (as in the test above);
            # test_tokens_endpoint.py sends the issuer key's typo.
            assert_problem(response, 403)
            continue
        body = assert_problem(response, 400)
        assert body["errors"] == {"zz_typo": ["unknown query parameter"]}, (method, url)

    # Nothing acted: the doctor and its slot are still there.
    assert client.get("/api/v1/doctors/doc-ana", headers=AGENT).status_code == 200
    slots = client.get(
        "/api/v1/doctors/doc-ana/schedules?desde=2030-03-01T00:00:00Z", headers=AGENT
    )
    assert [s["fecha_hora"] for s in slots.get_json()["items"]] == [MON_0900]


def test_a_cancel_takes_only_user_id(client) -> None:
    url = slot_url("doc-ana", MON_0900, "booking")

    response = client.delete(f"{url}?user_id=user-1&userid=user-1", headers=AGENT)

    assert assert_problem(response, 400)["errors"] == {"userid": ["unknown query parameter"]}


def test_without_a_key_an_unknown_parameter_is_still_a_401(client) -> None:
    response = client.get("/api/v1/doctors?especialidd=x")

    assert_problem(response, 401)


def test_an_unknown_route_stays_a_404_whatever_its_query(client) -> None:
    assert_problem(client.get("/api/v1/nothing-here?x=1", headers=AGENT), 404)


@pytest.mark.parametrize("estado", ["libre", "", "DISPONIBLE"])
def test_an_invalid_estado_on_the_schedule_listing_is_a_400(client, estado) -> None:
    create_doctor(client, "doc-ana")

    response = client.get(f"/api/v1/doctors/doc-ana/schedules?estado={estado}", headers=AGENT)

    assert "estado" in assert_problem(response, 400)["errors"]


def test_a_valid_estado_filters_the_listing(client) -> None:
    create_doctor(client, "doc-ana")
    add_slots(client, "doc-ana", MON_0900)

    response = client.get(
        "/api/v1/doctors/doc-ana/schedules?desde=2030-03-01T00:00:00Z&estado=disponible",
        headers=AGENT,
    )

    assert [s["estado"] for s in response.get_json()["items"]] == ["disponible"]


def _gunicorn_limit_request_line() -> int:
    # gunicorn.conf.py does not set it, so gunicorn's default applies.
    from gunicorn.config import Config

    assert "limit_request_line" not in GUNICORN_CONF.read_text()
    return Config().limit_request_line


def test_the_app_limits_sit_below_the_request_line_gunicorn_accepts() -> None:
    limit = _gunicorn_limit_request_line()
    longest_id = int(re.search(r"\{1,(\d+)\}", ID_PATTERN.pattern).group(1))
    # A request line that just misses the app's limits: two ids (schedules, booking) and a
    # cursor, each one character over, plus every other parameter at its longest.
    over = "x" * (longest_id + 1)
    line = (
        f"GET /api/v1/doctors/{over}/schedules?desde={'9' * 40}&hasta={'9' * 40}"
        f"&estado=disponible&limit=100&cursor={'c' * (MAX_CURSOR_LENGTH + 1)} HTTP/1.1"
    )

    assert len(line) < limit  # so the app, not gunicorn, answers it


def test_the_longest_cursor_the_service_issues_is_accepted_and_fits_a_request_line(
    client,
) -> None:
    # The longest id: 128 characters, each quoted to three in a URL.
    wide = "@" * 128
    create_doctor(client, wide)
    add_slots(client, wide, MON_0900, "2030-03-04T09:30:00Z")
    for fecha_hora in (MON_0900, "2030-03-04T09:30:00Z"):
        assert book(client, wide, fecha_hora, wide).status_code == 201
    url = f"/api/v1/users/{quote(wide, safe='')}/appointments?desde={quote(MON_0900)}&limit=1"

    cursor = client.get(url, headers=AGENT).get_json()["next_cursor"]
    following = client.get(f"{url}&cursor={quote(cursor, safe='')}", headers=AGENT)

    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert following.status_code == 200
    line = f"GET {url}&cursor={quote(cursor, safe='')} HTTP/1.1"
    assert len(line) < _gunicorn_limit_request_line()


def test_an_over_long_cursor_is_the_apps_400(client) -> None:
    response = client.get(f"/api/v1/doctors?cursor={'c' * (MAX_CURSOR_LENGTH + 1)}", headers=AGENT)

    assert "cursor" in assert_problem(response, 400)["errors"]


def test_an_over_long_id_is_the_apps_400(client) -> None:
    long_id = "d" * 3000  # far over the id limit, still inside gunicorn's request line

    for path, field in (
        (f"/api/v1/doctors/{long_id}", "doctor_id"),
        (f"/api/v1/sessions/{long_id}", "user_id"),
        (f"/api/v1/users/{long_id}/appointments", "user_id"),
    ):
        assert list(assert_problem(client.get(path, headers=AGENT), 400)["errors"]) == [field]
