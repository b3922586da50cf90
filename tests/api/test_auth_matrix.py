"""Every route and method of API.md against no key, an unknown key, and the agent key."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from health_api import signing
from health_api.api.cursors import secret_for
from health_api.config import ApiKey, load_settings
from health_api.domain.models import Hold
from health_api.services import holds
from tests.api.conftest import ADMIN, ADMIN_KEY, AGENT, AGENT_KEY
from tests.api.helpers import MON_0900, MON_0930, assert_problem, slot_url

DOCTOR = "/api/v1/doctors/doc-ana"
SLOT = slot_url("doc-ana", MON_0900)
BOOKING = slot_url("doc-ana", MON_0900, "booking")
RESCHEDULE_BODY = {
    "user_id": "user-1",
    "from": {"doctor_id": "doc-ana", "fecha_hora": MON_0900},
    "to": {"doctor_id": "doc-ana", "fecha_hora": MON_0930},
}
# user-1's hold of 09:30 (``arranged``), its id made with a fixed nonce and the test keys' secret.
HOLD_NONCE = "AAAAAAAAAAAAAAAA"
HOLD_BODY = {"doctor_id": "doc-ana", "fecha_hora": MON_0930, "user_id": "user-1"}
HOLD = "/api/v1/holds/" + signing.hold_id_of(
    secret_for(load_settings({}), (ApiKey("admin", ADMIN_KEY), ApiKey("agent", AGENT_KEY))),
    Hold("doc-ana", MON_0930, "user-1", HOLD_NONCE, "", None),
)

# (method, path, body, role that the contract requires)
ROUTES = [
    ("POST", "/api/v1/doctors", {"nombre": "Dr. X", "especialidad": "Y"}, "admin"),
    ("GET", "/api/v1/doctors", None, "agent"),
    ("GET", DOCTOR, None, "agent"),
    ("PATCH", DOCTOR, {"centro": "Norte"}, "admin"),
    ("DELETE", DOCTOR, None, "admin"),
    ("POST", f"{DOCTOR}/schedules", {"slots": [{"fecha_hora": MON_0930}]}, "admin"),
    ("GET", f"{DOCTOR}/schedules", None, "agent"),
    ("DELETE", SLOT, None, "admin"),
    ("PUT", BOOKING, {"user_id": "user-1"}, "agent"),
    ("DELETE", f"{BOOKING}?user_id=user-1", None, "agent"),
    ("POST", "/api/v1/holds", HOLD_BODY, "agent"),
    ("GET", HOLD, None, "agent"),
    ("DELETE", HOLD, None, "agent"),
    ("POST", "/api/v1/appointments/reschedule", RESCHEDULE_BODY, "agent"),
    ("GET", "/api/v1/users/user-1/appointments", None, "agent"),
    ("GET", "/api/v1/availability?especialidad=cardiologia", None, "agent"),
    ("PUT", "/api/v1/sessions/user-1", {"data": {"a": 1}}, "agent"),
    ("GET", "/api/v1/sessions/user-1", None, "agent"),
    ("PATCH", "/api/v1/sessions/user-1", {"data": {"b": 2}}, "agent"),
    ("DELETE", "/api/v1/sessions/user-1", None, "agent"),
    ("GET", "/api/v1/admin/tables", None, "admin"),
    ("POST", "/api/v1/admin/seed", None, "admin"),
    ("DELETE", "/api/v1/admin/seed", None, "admin"),
    ("POST", "/api/v1/tokens", {"user_id": "user-1"}, "issuer"),
]


def route_ids(routes: list) -> list[str]:
    return [f"{method} {path}" for method, path, _, _ in routes]


ADMIN_ONLY = [route for route in ROUTES if route[3] == "admin"]
AGENT_ROUTES = [route for route in ROUTES if route[3] == "agent"]
BAD_HEADERS = [
    {},
    {"Authorization": "Bearer not-a-key-0123456789"},
    {"Authorization": f"Bearer {ADMIN_KEY}x"},
    {"Authorization": f"Basic {ADMIN_KEY}"},
    {"Authorization": ADMIN_KEY},
    {"Authorization": "Bearer "},
]


@pytest.fixture
def arranged(client, monkeypatch) -> None:
    """``doc-ana`` with 09:00 booked by ``user-1`` and 09:30 held by ``user-1`` (``HOLD``),
    and ``user-1``'s session, so that every route reaches its view and succeeds for its role."""
    client.post(
        "/api/v1/doctors",
        json={"doctor_id": "doc-ana", "nombre": "Dra. Ana", "especialidad": "Cardiología"},
        headers=ADMIN,
    )
    client.post(
        f"{DOCTOR}/schedules",
        json={"slots": [{"fecha_hora": MON_0900}, {"fecha_hora": MON_0930}]},
        headers=ADMIN,
    )
    client.put(BOOKING, json={"user_id": "user-1"}, headers=AGENT)
    client.put("/api/v1/sessions/user-1", json={"data": {"a": 1}}, headers=AGENT)
    monkeypatch.setattr(holds, "new_nonce", lambda: HOLD_NONCE)
    client.post("/api/v1/holds", json=HOLD_BODY, headers=AGENT)


@pytest.fixture
def cheap_seed(monkeypatch) -> None:
    """The demo set takes seconds on moto; the auth matrix only needs the view to run."""
    from health_api.services import seed

    monkeypatch.setattr(seed, "load_demo", lambda *_: seed.SeedResult(0, 0))
    monkeypatch.setattr(seed, "remove_demo", lambda *_: seed.SeedResult(0, 0))


def call(client, method: str, path: str, body, headers):
    return client.open(path, method=method, json=body, headers=headers)


def test_every_route_refuses_a_missing_or_unknown_key_with_401(client, subtests) -> None:
    # Subtests, not parameters: a refused request touches no storage, so one store serves all.
    for method, path, body, _ in ROUTES:
        for headers in BAD_HEADERS:
            with subtests.test(route=f"{method} {path}", headers=headers):
                response = call(client, method, path, body, headers)

                assert_problem(response, 401)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                assert response.headers["Cache-Control"] == "no-store"
                assert ADMIN_KEY not in response.get_data(as_text=True)
    assert client.get(DOCTOR, headers=AGENT).status_code == 404


def test_every_admin_route_refuses_an_agent_key_with_403(client, arranged, subtests) -> None:
    for method, path, body, _ in ADMIN_ONLY:
        with subtests.test(route=f"{method} {path}"):
            response = call(client, method, path, body, AGENT)

            assert_problem(response, 403)
            assert "WWW-Authenticate" not in response.headers
    doctor = client.get(DOCTOR, headers=AGENT).get_json()
    assert doctor["nombre"] == "Dra. Ana"


@pytest.mark.parametrize(
    ("method", "path", "body", "role"), AGENT_ROUTES, ids=route_ids(AGENT_ROUTES)
)
def test_an_agent_key_on_an_agent_route_is_let_through(
    client, arranged, method, path, body, role
) -> None:
    response = call(client, method, path, body, AGENT)

    assert response.status_code < 400, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("method", "path", "body", "role"), ADMIN_ONLY, ids=route_ids(ADMIN_ONLY))
def test_the_admin_key_is_let_through_on_admin_routes(
    client, arranged, cheap_seed, method, path, body, role
) -> None:
    response = call(client, method, path, body, ADMIN)

    assert response.status_code not in (401, 403, 404, 405), response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_matrix_covers_every_api_route_and_method(app) -> None:
    adapter = app.url_map.bind("localhost")
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    covered = set()
    for method, path, _, _ in ROUTES:
        try:
            rule, _ = adapter.match(path.split("?")[0], method=method, return_rule=True)
        except (NotFound, MethodNotAllowed) as exc:
            pytest.fail(f"{method} {path} is not served: {exc}")
        covered.add((method, rule.rule))

    assert covered == served


def test_service_paths_need_no_key(client, subtests) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        with subtests.test(path=path):
            response = client.get(path)

            assert response.status_code == 200
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "WWW-Authenticate" not in response.headers
