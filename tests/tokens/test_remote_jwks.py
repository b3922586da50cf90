"""External OIDC issuers against a real HTTP issuer on 127.0.0.1: discovery, RS256 and ES256,
key rotation, made-up kids, retired keys, an issuer that goes down, hangs or answers garbage.
The JWKS clock is injected (no sleeping): ``clock.now`` is moved by the tests."""

from __future__ import annotations

import logging
import socket
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from health_api import create_app
from health_api.config import load_settings
from health_api.tokens import InvalidTokenError, build_authority
from health_api.tokens.jwks import FETCH_TIMEOUT_SECONDS, MAX_DOCUMENT_BYTES, RemoteJwks
from tests.api.conftest import with_test_keys
from tests.tokens.issuer_server import IssuerKey, start_issuer
from tests.tokens.test_verify_faults import hs256_by_hand

UNKNOWN_KEY = "the token's signing key is not known"


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer():
    """A running issuer publishing one RS256 key (``rsa-1``)."""
    running = start_issuer()
    running.keys.append(IssuerKey.new("rsa-1", "RS256"))
    yield running
    running.stop()


@pytest.fixture
def clock() -> Clock:
    """The JWKS cache's clock."""
    return Clock()


@pytest.fixture
def settings(tmp_path, issuer, pems):
    """Development settings trusting the issuer under the prefix ``clinic``."""
    base = load_settings({}).replace(sqlite_path=tmp_path / "health.db")
    # Development: the issuer on 127.0.0.1 is plain http (refused elsewhere).
    return with_test_keys(base, token_signing_keys=pems[0]).replace(
        environment="development", token_trusted_issuers=(("clinic", issuer.url),)
    )


@pytest.fixture
def authority(settings, issuer, clock):
    """The authority of ``settings``, its JWKS cache on ``clock``."""
    built = build_authority(settings)
    built.issuers[issuer.url].remote = RemoteJwks(issuer.url, allow_http=True, clock=clock)
    return built


def _fetches(issuer) -> int:
    return issuer.hits.count("/jwks")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_token_of_the_issuer_binds_the_prefixed_subject(alg, issuer, authority) -> None:
    key = IssuerKey.new(f"{alg}-key", alg)
    issuer.keys[:] = [key]

    verified = authority.verify(key.sign(issuer.url, scope="sessions"))

    assert (verified.user, verified.subject, verified.issuer) == (
        "clinic:u-ana",
        "u-ana",
        issuer.url,
    )
    assert verified.scopes == {"sessions"}
    assert issuer.hits == ["/.well-known/openid-configuration", "/jwks"]


def test_the_built_authority_uses_http_only_in_development(settings, issuer) -> None:
    token = issuer.keys[0].sign(issuer.url)

    assert build_authority(settings).verify(token).user == "clinic:u-ana"
    production = RemoteJwks(issuer.url)  # https only
    with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
        production.key_for("rsa-1")
    assert _fetches(issuer) == 1  # the https-only one asked nothing


def test_an_external_token_is_not_capped_by_the_maximum_lifetime(issuer, authority) -> None:
    token = issuer.keys[0].sign(issuer.url, exp=int(time.time()) + 2 * 86400)

    assert authority.verify(token).user == "clinic:u-ana"


def test_a_subject_that_makes_the_prefixed_id_invalid_is_refused(issuer, authority) -> None:
    with pytest.raises(InvalidTokenError, match="sub is not a valid user id") as refused:
        authority.verify(issuer.keys[0].sign(issuer.url, sub="u" * 125))  # "clinic:" + 125 > 128

    assert refused.value.counts_as_failure is False
    assert authority.verify(issuer.keys[0].sign(issuer.url, sub="u" * 121)).user.startswith(
        "clinic:"
    )


def test_a_token_whose_alg_is_not_its_keys_is_refused(issuer, authority) -> None:
    rsa_key, ec_key = issuer.keys[0], IssuerKey.new("rsa-1", "ES256")  # same kid, EC signature

    with pytest.raises(InvalidTokenError, match="algorithm is not its key's"):
        authority.verify(ec_key.sign(issuer.url))
    assert authority.verify(rsa_key.sign(issuer.url)).user == "clinic:u-ana"


def test_a_rotated_in_key_is_fetched_at_most_once_a_minute(issuer, authority, clock) -> None:
    old, new = issuer.keys[0], IssuerKey.new("ec-2", "ES256")
    authority.verify(old.sign(issuer.url))
    issuer.keys.append(new)

    clock.now += 10  # a minute has not passed since the first fetch: the new kid is refused
    with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
        authority.verify(new.sign(issuer.url))
    assert _fetches(issuer) == 1

    clock.now += 51
    assert authority.verify(new.sign(issuer.url)).user == "clinic:u-ana"
    assert authority.verify(old.sign(issuer.url)).user == "clinic:u-ana"
    assert _fetches(issuer) == 2


def test_made_up_kids_refetch_once_a_minute_at_most(issuer, authority, clock) -> None:
    authority.verify(issuer.keys[0].sign(issuer.url))
    clock.now += 60
    for n in range(20):
        clock.now += 1
        forged = IssuerKey.new(f"made-up-{n}", "ES256").sign(issuer.url)
        with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY) as refused:
            authority.verify(forged)
        assert refused.value.counts_as_failure is True

    assert _fetches(issuer) == 2  # the first fetch and one refetch in the following minute


def test_a_retired_key_is_refused_from_the_next_fetch_on(issuer, authority, clock) -> None:
    old, new = issuer.keys[0], IssuerKey.new("ec-2", "ES256")
    token = old.sign(issuer.url)
    authority.verify(token)
    issuer.keys[:] = [new]

    clock.now += 299  # still fresh: the cached key serves
    assert authority.verify(token).user == "clinic:u-ana"
    assert _fetches(issuer) == 1

    clock.now += 1
    with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
        authority.verify(token)
    assert _fetches(issuer) == 2
    assert authority.verify(new.sign(issuer.url)).user == "clinic:u-ana"


def test_an_issuer_that_goes_down_keeps_its_cached_keys(issuer, authority, clock, caplog) -> None:
    key = issuer.keys[0]
    authority.verify(key.sign(issuer.url))
    issuer.stop()
    clock.now += 3600  # stale: a refetch is tried, and fails

    with caplog.at_level(logging.WARNING, logger="health_api.tokens"):
        assert authority.verify(key.sign(issuer.url)).user == "clinic:u-ana"
        with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
            authority.verify(IssuerKey.new("ec-9", "ES256").sign(issuer.url))

    (warning,) = [r for r in caplog.records if r.name == "health_api.tokens"]
    assert warning.issuer == issuer.url


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not json</html>",
        b'["a", "list"]',
        b'{"keys": "not a list"}',
        b'{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "rsa-1"}]}',
        b'{"keys": [42]}',
        b'{"keys": []}',
        b'{"pad": "' + b"x" * MAX_DOCUMENT_BYTES + b'"}',
    ],
    ids=["html", "list", "keys-not-list", "symmetric", "not-an-object", "empty", "too-big"],
)
def test_a_bad_jwks_document_is_an_unreachable_issuer(body, issuer, authority) -> None:
    issuer.jwks_body = body

    with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
        authority.verify(issuer.keys[0].sign(issuer.url))


def test_a_hanging_issuer_times_out(issuer) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections (the kernel's backlog) and never answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        jwks = RemoteJwks(url, allow_http=True, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
            jwks.key_for("rsa-1")
        assert time.monotonic() - started < 3
    finally:
        silent.close()
    assert RemoteJwks(url).timeout == FETCH_TIMEOUT_SECONDS == 5.0


def test_an_external_token_reads_the_api(settings, issuer) -> None:
    client = create_app({"settings": settings}).test_client()
    token = issuer.keys[0].sign(issuer.url)

    ok = client.get("/api/v1/doctors", headers={"Authorization": f"Bearer {token}"})
    other = client.get(
        "/api/v1/doctors",
        headers={"Authorization": f"Bearer {issuer.keys[0].sign(issuer.url, aud='x')}"},
    )

    assert ok.status_code == 200
    assert other.status_code == 401
    assert other.get_json()["type"] == "/problems/invalid-token"


def test_hs256_signed_with_the_rsa_issuers_public_key_is_refused(issuer, authority) -> None:
    rsa_key = issuer.keys[0]
    pem = rsa_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": issuer.url, "sub": "u-ana", "aud": "health-api", "iat": now, "exp": now + 60}

    with pytest.raises(InvalidTokenError, match="algorithm is not its issuer's") as refused:
        authority.verify(hs256_by_hand(claims, pem, rsa_key.kid))
    assert refused.value.counts_as_failure is True


def test_a_key_of_another_issuer_is_refused_both_ways(issuer, authority, signing_key) -> None:
    external = issuer.keys[0]
    now = int(time.time())
    ours = {"sub": "u-ana", "aud": "health-api", "iat": now, "exp": now + 60}

    # This service's claims signed by the external issuer's key (its kid): not one of ours.
    with pytest.raises(InvalidTokenError, match="algorithm is not its issuer's"):
        authority.verify(external.sign("health-api"))  # RS256: not this service's algorithm
    ec_external = IssuerKey.new("ec-ext", "ES256")
    issuer.keys.append(ec_external)
    with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
        authority.verify(ec_external.sign("health-api"))
    # The external issuer's claims signed by this service's key (its kid): not one of theirs.
    forged = jwt.encode(
        {**ours, "iss": issuer.url}, signing_key.private, "ES256", {"kid": signing_key.kid}
    )
    with pytest.raises(InvalidTokenError, match=UNKNOWN_KEY):
        authority.verify(forged)


def test_discovery_is_read_once_until_the_jwks_fails(issuer, authority, clock) -> None:
    key = issuer.keys[0]
    authority.verify(key.sign(issuer.url))
    clock.now += 300
    authority.verify(key.sign(issuer.url))  # stale: the JWKS again, not the discovery
    issuer.jwks_body = b"oops"
    clock.now += 300
    authority.verify(key.sign(issuer.url))  # fails: the cached key still serves
    issuer.jwks_body = None
    clock.now += 60
    authority.verify(key.sign(issuer.url))

    discovery = "/.well-known/openid-configuration"
    assert issuer.hits == [discovery, "/jwks", "/jwks", "/jwks", discovery, "/jwks"]


def test_an_expired_external_token_fetches_no_keys(issuer, authority) -> None:
    now = int(time.time())
    expired = IssuerKey.new("never-seen", "ES256").sign(issuer.url, iat=now - 900, exp=now - 120)

    with pytest.raises(InvalidTokenError, match="expired"):
        authority.verify(expired)

    assert issuer.hits == []
