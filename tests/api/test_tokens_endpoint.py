"""POST /api/v1/tokens: an issuer key mints a user token (API.md "Patient tokens", role
``issuer``), the token works at once, and an issuer key can do nothing else."""

from __future__ import annotations

import jwt
import pytest

from health_api import create_app
from health_api.api.kernel import kernel_of
from health_api.config import ConfigError
from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import MON_0900, add_slots, assert_problem, create_doctor, slot_url
from tests.api.test_auth_matrix import ROUTES
from tests.api.tokens import ISSUER, TEST_KEYS, bearer, token_settings

TOKENS = "/api/v1/tokens"


@pytest.fixture
def backend() -> str:
    """Minting touches no storage: SQLite is enough."""
    return "sqlite"


def mint(client, body, headers=ISSUER, **extra):
    return client.post(TOKENS, json=body, headers={**headers, **extra})


def claims_of(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def test_an_issuer_key_mints_a_token_for_a_user(token_client) -> None:
    response = mint(token_client, {"user_id": "user-1"})

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "appointments sessions"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256"
    assert header["kid"]
    claims = claims_of(body["access_token"])
    assert claims["iss"] == "health-api"
    assert claims["sub"] == "user-1"
    assert claims["aud"] == ["health-api"]
    assert claims["exp"] - claims["iat"] == 900


def test_a_token_names_the_mcp_server_among_its_audiences_when_it_has_a_public_url(
    make_storage, engine_settings
) -> None:
    settings = token_settings(engine_settings(), mcp_public_url="https://mcp.example/mcp")
    client = create_app({"settings": settings, "storage": make_storage()}).test_client()

    body = mint(client, {"user_id": "user-1"}).get_json()

    assert claims_of(body["access_token"])["aud"] == ["health-api", "https://mcp.example/mcp"]


def test_scope_and_lifetime_are_the_ones_asked_for(token_client, subtests) -> None:
    for scope, ttl in (("sessions", 60), ("appointments", 3600), ("sessions appointments", 61)):
        with subtests.test(scope=scope, ttl=ttl):
            response = mint(token_client, {"user_id": "user-1", "scope": scope, "ttl_seconds": ttl})

            body = response.get_json()
            assert response.status_code == 201
            assert body["expires_in"] == ttl
            assert set(body["scope"].split()) == set(scope.split())
            claims = claims_of(body["access_token"])
            assert claims["exp"] - claims["iat"] == ttl
            assert set(claims["scope"].split()) == set(scope.split())


def test_a_lower_maximum_lifetime_lowers_the_default_and_caps_the_asked_one(
    make_storage, engine_settings
) -> None:
    settings = token_settings(engine_settings(), token_max_ttl_seconds=300)
    client = create_app({"settings": settings, "storage": make_storage()}).test_client()

    assert mint(client, {"user_id": "user-1"}).get_json()["expires_in"] == 300
    response = mint(client, {"user_id": "user-1", "ttl_seconds": 301})
    assert list(assert_problem(response, 422)["errors"]) == ["ttl_seconds"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "user_id"),
        ({"user_id": "user 1"}, "user_id"),
        ({"user_id": "us\u0435r-1"}, "user_id"),
        ({"user_id": "x" * 129}, "user_id"),
        ({"user_id": None}, "user_id"),
        ({"user_id": "user-1", "scope": "admin"}, "scope"),
        ({"user_id": "user-1", "scope": ""}, "scope"),
        ({"user_id": "user-1", "scope": "appointments  sessions"}, "scope"),
        ({"user_id": "user-1", "scope": "appointments,sessions"}, "scope"),
        ({"user_id": "user-1", "ttl_seconds": 59}, "ttl_seconds"),
        ({"user_id": "user-1", "ttl_seconds": 3601}, "ttl_seconds"),
        ({"user_id": "user-1", "ttl_seconds": "ever"}, "ttl_seconds"),
        ({"user_id": "user-1", "role": "admin"}, "role"),
        ({"user_id": "user-1", "aud": "elsewhere"}, "aud"),
    ],
)
def test_an_invalid_request_is_a_422_naming_the_field(token_client, body, field) -> None:
    response = mint(token_client, body)

    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/validation"
    assert field in problem["errors"]
    assert "access_token" not in response.get_data(as_text=True)


def test_every_other_credential_is_refused_with_a_403_that_says_an_issuer_key_is_needed(
    token_app, token_client, subtests
) -> None:
    for name, headers in (
        ("agent", AGENT),
        ("admin", ADMIN),
        ("user token", bearer(token_app, "user-1")),
    ):
        with subtests.test(credential=name):
            response = mint(token_client, {"user_id": "user-1"}, headers)

            problem = assert_problem(response, 403)
            assert problem["type"] == "/problems/forbidden"
            assert "issuer key" in problem["detail"]


def test_minting_ignores_the_idempotency_key_and_stores_no_token(token_app, token_client) -> None:
    first = mint(token_client, {"user_id": "user-1"}, **{"Idempotency-Key": "mint-1"})
    second = mint(token_client, {"user_id": "user-1"}, **{"Idempotency-Key": "mint-1"})
    # Not even a malformed key is looked at.
    third = mint(token_client, {"user_id": "user-1"}, **{"Idempotency-Key": '"unclosed'})

    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    assert all("Idempotent-Replayed" not in r.headers for r in (first, second, third))
    # A key used to mint is no key at all: the same key on a write afterwards runs afresh.
    create_doctor(token_client)
    add_slots(token_client, "doc-ana", MON_0900)
    booked = token_client.put(
        slot_url("doc-ana", MON_0900, "booking"),
        json={"user_id": "user-1"},
        headers={**AGENT, "Idempotency-Key": "mint-1"},
    )
    assert booked.status_code == 201
    assert "Idempotent-Replayed" not in booked.headers


def test_an_issuer_key_is_refused_everywhere_but_tokens(token_client, subtests) -> None:
    for method, path, body, role in ROUTES:
        if role == "issuer":
            continue
        with subtests.test(route=f"{method} {path}"):
            response = token_client.open(path, method=method, json=body, headers=ISSUER)

            problem = assert_problem(response, 403)
            assert problem["type"] == "/problems/forbidden"
            assert "/api/v1/tokens" in problem["detail"]


def test_a_minted_token_books_and_reads_for_its_user_only_at_once(token_client) -> None:
    create_doctor(token_client)
    add_slots(token_client, "doc-ana", MON_0900)
    access_token = mint(token_client, {"user_id": "user-1"}).get_json()["access_token"]
    user = {"Authorization": f"Bearer {access_token}"}

    booked = token_client.put(
        slot_url("doc-ana", MON_0900, "booking"), json={"motivo": "control"}, headers=user
    )
    own = token_client.get("/api/v1/users/user-1/appointments", headers=user)
    other = token_client.get("/api/v1/users/user-2/appointments", headers=user)

    assert booked.status_code == 201, booked.get_data(as_text=True)
    assert booked.get_json()["user_id"] == "user-1"
    assert [slot["fecha_hora"] for slot in own.get_json()["items"]] == [MON_0900]
    assert own.get_json()["items"][0]["motivo"] == "control"
    problem = assert_problem(other, 403)
    assert problem["type"] == "/problems/other-user"
    assert "user-2" not in other.get_data(as_text=True)


def test_a_token_that_does_not_verify_is_a_401_invalid_token(token_client) -> None:
    access_token = mint(token_client, {"user_id": "user-1"}).get_json()["access_token"]
    head, payload, signature = access_token.split(".")
    forged = ".".join(
        (head, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB"))
    )

    response = token_client.get("/api/v1/doctors", headers={"Authorization": f"Bearer {forged}"})

    problem = assert_problem(response, 401)
    assert problem["type"] == "/problems/invalid-token"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="health-api", error="invalid_token"'
    )
    assert forged not in response.get_data(as_text=True)


def test_an_issuer_key_without_a_signing_key_stops_start_up(make_storage, engine_settings) -> None:
    settings = token_settings(engine_settings(), token_signing_keys=None)

    with pytest.raises(ConfigError, match="HEALTH_API_TOKEN_SIGNING_KEYS"):
        create_app({"settings": settings, "storage": make_storage()})


def test_without_an_issuer_key_no_signing_key_is_needed(make_storage, engine_settings) -> None:
    keys = tuple(key for key in TEST_KEYS if key.role != "issuer")
    settings = token_settings(engine_settings(), token_signing_keys=None, api_keys=keys)

    app = create_app({"settings": settings, "storage": make_storage()})

    assert not kernel_of(app).tokens.signing_keys
    response = mint(app.test_client(), {"user_id": "user-1"}, ADMIN)
    assert assert_problem(response, 403)["type"] == "/problems/forbidden"


def test_an_unknown_query_parameter_is_a_400_and_mints_nothing(token_client) -> None:
    response = token_client.post(f"{TOKENS}?zz_typo=1", json={"user_id": "user-1"}, headers=ISSUER)

    assert assert_problem(response, 400)["errors"] == {"zz_typo": ["unknown query parameter"]}
    assert "access_token" not in response.get_data(as_text=True)
