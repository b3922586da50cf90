"""``GET /.well-known/jwks.json``: this service's signing keys, public halves only, no key
needed; during a rotation both keys are published and tokens of either verify."""

from __future__ import annotations

import time

import jwt
import pytest

from health_api import create_app
from health_api.api.kernel import kernel_of
from health_api.config import load_settings
from health_api.tokens import InvalidTokenError, build_authority
from health_api.tokens.signing_keys import parse_pems
from tests.api.conftest import with_test_keys


def _claims(**changes) -> dict:
    now = int(time.time())
    return {"iss": "health-api", "sub": "u-ana", "aud": "health-api", "iat": now,
            "exp": now + 600, **changes}  # fmt: skip


@pytest.fixture
def rotating(tmp_path, pems):
    """Production settings whose HEALTH_API_TOKEN_SIGNING_KEYS holds two PEM blocks."""
    base = load_settings({}).replace(sqlite_path=tmp_path / "health.db")
    return with_test_keys(base, token_signing_keys=pems[0] + "\n" + pems[1]).replace(
        environment="production"
    )


def test_the_jwks_is_public_and_holds_no_private_member(token_app, signing_key) -> None:
    response = token_app.test_client().get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    (key,) = response.get_json()["keys"]
    assert key == {**signing_key.jwk()}
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert "d" not in key
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")


def test_a_published_key_verifies_a_token_of_this_service(token_app) -> None:
    document = token_app.test_client().get("/.well-known/jwks.json").get_json()
    minted = kernel_of(token_app).tokens.mint("u-ana")

    kid = jwt.get_unverified_header(minted.access_token)["kid"]
    (key,) = [jwt.PyJWK(k) for k in document["keys"] if k["kid"] == kid]
    claims = jwt.decode(minted.access_token, key.key, ["ES256"], audience="health-api")
    assert claims["sub"] == "u-ana"


def test_both_keys_of_a_rotation_are_published_and_the_first_signs(rotating) -> None:
    app = create_app({"settings": rotating})
    first, second = parse_pems(rotating.token_signing_keys)

    document = app.test_client().get("/.well-known/jwks.json").get_json()
    minted = kernel_of(app).tokens.mint("u-ana")

    assert [k["kid"] for k in document["keys"]] == [first.kid, second.kid]
    assert all("d" not in k for k in document["keys"])
    assert jwt.get_unverified_header(minted.access_token)["kid"] == first.kid


def test_a_token_signed_by_the_second_key_still_verifies(rotating) -> None:
    authority = build_authority(rotating)
    _first, second = parse_pems(rotating.token_signing_keys)
    by_second = jwt.encode(_claims(), second.private, "ES256", {"kid": second.kid})
    no_kid = jwt.encode(_claims(), second.private, "ES256")

    assert authority.verify(by_second).user == "u-ana"
    with pytest.raises(InvalidTokenError, match="signing key is not known"):
        authority.verify(no_kid)  # two keys: a token must name its kid


def test_a_service_without_signing_keys_publishes_an_empty_set(tmp_path) -> None:
    base = load_settings({}).replace(sqlite_path=tmp_path / "health.db")
    app = create_app({"settings": with_test_keys(base).replace(environment="production")})

    response = app.test_client().get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.get_json() == {"keys": []}
