"""Every way a bearer that looks like a JWT can be wrong is a 401 invalid_token with a fixed
reason (never a 500, never the token echoed), on the authority itself and through REST; a
missing scope is a 403 insufficient_scope; no bearer at all is the old 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from health_api.tokens import InvalidTokenError
from tests.api.helpers import MON_0900, add_slots, assert_problem, create_doctor, slot_url
from tests.tokens.conftest import HS256_ISSUER, HS256_SECRET

INVALID_TOKEN = 'Bearer realm="health-api", error="invalid_token"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_by_hand(claims: dict, secret: bytes, kid: str | None = None) -> str:
    """An HS256 token made without PyJWT (which refuses a PEM as an HMAC secret)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _now() -> int:
    return int(time.time())


def _claims(**changes) -> dict:
    now = _now()
    return {"iss": "health-api", "sub": "u-ana", "aud": "health-api", "iat": now,
            "exp": now + 600, **changes}  # fmt: skip


def _public_pem(signing_key) -> bytes:
    return signing_key.public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# name -> (token maker(forge, signing_key), reason, counts as a failed authentication)
FAULTS = {
    "expired": (
        lambda f, k: f(iat=_now() - 900, exp=_now() - 120),
        "the token has expired",
        False,
    ),
    "nbf in the future": (
        lambda f, k: f(nbf=_now() + 300),
        "the token is not valid yet",
        False,
    ),
    "iat in the future": (
        lambda f, k: f(iat=_now() + 300, exp=_now() + 900),
        "the token is not valid yet",
        False,
    ),
    "lifetime over the maximum": (
        lambda f, k: f(exp=_now() + 3601),
        "the token's lifetime is over the maximum",
        False,
    ),
    "wrong audience": (
        lambda f, k: f(aud="https://other.example"),
        "the token is for another audience",
        False,
    ),
    "no audience": (lambda f, k: f(aud=None), "the token lacks the 'aud' claim", False),
    "missing sub": (lambda f, k: f(sub=None), "the token lacks the 'sub' claim", False),
    "missing exp": (lambda f, k: f(exp=None), "the token lacks the 'exp' claim", False),
    "missing iat": (lambda f, k: f(iat=None), "the token lacks the 'iat' claim", False),
    "sub not an id": (
        lambda f, k: f(sub="ana pérez"),
        "the token's sub is not a valid user id",
        False,
    ),
    "sub too long": (
        lambda f, k: f(sub="u" * 129),
        "the token's sub is not a valid user id",
        False,
    ),
    "unknown issuer": (
        lambda f, k: f(iss="https://evil.example"),
        "the token's issuer is not trusted",
        True,
    ),
    "no issuer": (lambda f, k: f(iss=None), "the token's issuer is not trusted", True),
    "alg none": (
        lambda f, k: jwt.encode(_claims(), None, algorithm="none"),
        "the token's algorithm is not its issuer's",
        True,
    ),
    "HS256 signed with the ES256 public key (algorithm confusion)": (
        lambda f, k: hs256_by_hand(_claims(), _public_pem(k), k.kid),
        "the token's algorithm is not its issuer's",
        True,
    ),
    "bad signature (another key, same kid)": (
        lambda f, k: f(key=_other_key()),
        "the token's signature is not valid",
        True,
    ),
    "tampered payload": (
        lambda f, k: _tampered(f()),
        "the token's signature is not valid",
        True,
    ),
    "unknown kid": (
        lambda f, k: f(key=_other_key(), headers={"kid": "0123456789abcdef"}),
        "the token's signing key is not known",
        True,
    ),
    "HS256 issuer's claims signed with this service's ES256 key": (
        lambda f, k: f(iss=HS256_ISSUER),
        "the token's algorithm is not its issuer's",
        True,
    ),
    "HS256 issuer's claims with another secret": (
        lambda f, k: hs256_by_hand(_claims(iss=HS256_ISSUER), b"x" * 40),
        "the token's signature is not valid",
        True,
    ),
    "this service's claims signed with the HS256 secret": (
        lambda f, k: hs256_by_hand(_claims(), HS256_SECRET.encode()),
        "the token's algorithm is not its issuer's",
        True,
    ),
    "garbage of the JWT form": (
        lambda f, k: "abcdef.ghijkl.mnopqr",
        "the token is malformed",
        True,
    ),
    "a header that is a JSON list": (
        lambda f, k: f"{_b64(b'[1]')}.{_b64(b'{}')}.c2ln",
        "the token is malformed",
        True,
    ),
    "a payload that is not JSON": (
        lambda f, k: _b64(b'{"alg":"ES256"}') + "." + _b64(b"not json") + ".c2ln",
        "the token is malformed",
        True,
    ),
    "a huge bearer": (
        lambda f, k: f(pad="x" * 9000),
        "the token is too long",
        True,
    ),
}


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join((head, _b64(json.dumps({**claims, "sub": "u-bruno"}).encode()), signature))


@pytest.mark.parametrize("fault", FAULTS)
def test_the_authority_refuses_each_fault_with_its_reason(fault, authority, forge, signing_key):
    make, reason, counts = FAULTS[fault]
    token = make(forge, signing_key)

    with pytest.raises(InvalidTokenError) as refused:
        authority.verify(token)

    assert refused.value.reason == reason
    assert refused.value.counts_as_failure is counts


@pytest.mark.parametrize("fault", FAULTS)
def test_rest_answers_each_fault_with_a_401_invalid_token(fault, token_app, forge, signing_key):
    token = FAULTS[fault][0](forge, signing_key)

    response = token_app.test_client().get(
        "/api/v1/doctors", headers={"Authorization": f"Bearer {token}"}
    )

    body = assert_problem(response, 401)
    assert body["type"] == "/problems/invalid-token"
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN
    assert body["detail"] == f"the bearer token is not valid: {FAULTS[fault][1]}"
    text = response.get_data(as_text=True)
    for part in token.split("."):
        assert len(part) < 8 or part not in text


def test_a_valid_token_of_each_own_issuer_is_accepted(authority, forge) -> None:
    es256 = authority.verify(forge())
    hs256 = authority.verify(
        jwt.encode(_claims(iss=HS256_ISSUER, scope="sessions"), HS256_SECRET, "HS256")
    )

    assert (es256.user, es256.issuer, es256.scopes) == (
        "u-ana",
        "health-api",
        frozenset({"appointments", "sessions"}),
    )
    assert (hs256.user, hs256.issuer, hs256.scopes) == ("u-ana", HS256_ISSUER, {"sessions"})


def test_a_token_within_the_minute_of_leeway_is_still_accepted(authority, forge) -> None:
    assert authority.verify(forge(iat=_now() - 600, exp=_now() - 30)).user == "u-ana"
    assert authority.verify(forge(nbf=_now() + 30)).user == "u-ana"


def test_a_valid_token_reads_the_api_and_the_key_less_request_gets_the_old_401(token_app, forge):
    client = token_app.test_client()

    ok = client.get("/api/v1/doctors", headers={"Authorization": f"Bearer {forge()}"})
    bare = client.get("/api/v1/doctors")
    not_a_key = client.get("/api/v1/doctors", headers={"Authorization": "Bearer not-a-key-at-all"})

    assert ok.status_code == 200
    for response in (bare, not_a_key):
        body = assert_problem(response, 401)
        assert body["type"] == "/problems/unauthorized"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="health-api"'


def test_a_token_without_the_appointments_scope_may_not_book(token_app, forge) -> None:
    client = token_app.test_client()
    create_doctor(client)
    add_slots(client, "doc-ana", MON_0900)
    token = forge(scope="sessions")

    response = client.put(
        slot_url("doc-ana", MON_0900, "booking"),
        json={"user_id": "u-ana"},
        headers={"Authorization": f"Bearer {token}"},
    )

    body = assert_problem(response, 403)
    assert body["type"] == "/problems/insufficient-scope"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="health-api", error="insufficient_scope", scope="appointments"'
    )


def _limited_app(token_app, **changes):
    from tests.api.helpers import other_app

    return other_app(token_app, "sqlite", None, auth_failure_limit="2/minute", **changes)


@pytest.mark.parametrize(
    ("fault", "counted"),
    [("expired", False), ("iat in the future", False), ("bad signature (another key, same kid)",
     True), ("unknown issuer", True)],
)  # fmt: skip
def test_only_a_token_whose_signature_failed_counts_toward_the_failed_auth_limit(
    fault, counted, token_app, forge, signing_key
) -> None:
    client = _limited_app(token_app).test_client()
    headers = {"Authorization": f"Bearer {FAULTS[fault][0](forge, signing_key)}"}

    statuses = [client.get("/api/v1/doctors", headers=headers).status_code for _ in range(3)]

    assert statuses == ([401, 401, 429] if counted else [401, 401, 401])


def test_an_expired_token_costs_no_signature_check(authority, forge, monkeypatch) -> None:
    checked = []
    monkeypatch.setattr(
        "health_api.tokens.verify._decode", lambda *args: checked.append(args) or {}
    )
    forged = forge(iat=_now() - 900, exp=_now() - 61, key=_other_key())

    with pytest.raises(InvalidTokenError, match="the token has expired") as refused:
        authority.verify(forged)

    assert checked == []  # refused on its exp alone: it could never pass
    assert refused.value.counts_as_failure is False
