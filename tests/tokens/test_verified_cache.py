"""The verified-token cache (``tokens/cache.py``, used by ``kernel.credentials.verify``): a token
sent again is not verified again until it expires; the cache is per audience and bounded."""

from __future__ import annotations

import time

import pytest
from freezegun import freeze_time

from health_api.api.kernel import kernel_of
from health_api.kernel import credentials
from health_api.tokens import InvalidTokenError, VerifiedToken
from health_api.tokens.cache import CACHE_SIZE, VerifiedTokens


@pytest.fixture
def counted(token_app, monkeypatch) -> list[str]:
    """The tokens the app's authority verified (signature checks), in order."""
    authority = kernel_of(token_app).tokens
    calls: list[str] = []
    verify = authority.verify

    def counting(token, audience=None):
        calls.append(token)
        return verify(token, audience)

    monkeypatch.setattr(authority, "verify", counting)
    return calls


def test_a_token_sent_again_skips_the_signature_check(token_app, forge, counted) -> None:
    client = token_app.test_client()
    first, second = forge(), forge(sub="u-bruno")

    statuses = [
        client.get("/api/v1/doctors", headers={"Authorization": f"Bearer {token}"}).status_code
        for token in (first, first, first, second, second)
    ]

    assert statuses == [200] * 5
    assert counted == [first, second]


def test_an_invalid_token_is_checked_every_time(token_app, forge, counted) -> None:
    client = token_app.test_client()
    bad = forge(aud="https://other.example")

    for _ in range(2):
        client.get("/api/v1/doctors", headers={"Authorization": f"Bearer {bad}"})

    assert counted == [bad, bad]  # refusals are not cached: nothing to serve from them


def test_an_expired_cached_token_is_refused(token_app, forge, counted) -> None:
    kernel = kernel_of(token_app)
    with freeze_time("2030-01-01 10:00:00") as frozen:
        token = forge()  # valid for 10 minutes from 10:00
        assert credentials.verify(kernel, token).user == "u-ana"
        frozen.tick(599)
        assert credentials.verify(kernel, token).user == "u-ana"
        assert len(counted) == 1

        frozen.tick(2)  # past exp: the cached entry is dropped, the token verified anew
        assert credentials.verify(kernel, token).user == "u-ana"  # (within the minute of leeway)
        frozen.tick(60)
        with pytest.raises(InvalidTokenError, match="expired"):
            credentials.verify(kernel, token)

    assert len(counted) == 3


def test_a_token_cached_for_one_audience_is_checked_for_another(token_app, forge, counted):
    kernel = kernel_of(token_app)
    token = forge()
    credentials.verify(kernel, token)

    with pytest.raises(InvalidTokenError, match="another audience"):
        credentials.verify(kernel, token, "https://mcp.example/mcp")
    assert len(counted) == 2


def _verified(user: str, expires_at: int) -> VerifiedToken:
    return VerifiedToken(user, "health-api", user, frozenset({"sessions"}), expires_at)


def test_the_cache_is_bounded_and_keeps_the_most_recently_used() -> None:
    cache = VerifiedTokens(size=3)
    later = int(time.time()) + 600
    for n in range(3):
        cache.put(f"d{n}", "aud", _verified(f"u{n}", later))
    cache.get("d0", "aud", time.time())  # used: the least recent is now d1

    cache.put("d3", "aud", _verified("u3", later))

    assert [cache.get(f"d{n}", "aud", time.time()) is not None for n in range(4)] == [
        True,
        False,
        True,
        True,
    ]
    assert len(cache._items) == 3
    assert VerifiedTokens().size == CACHE_SIZE == 4096


def test_the_cache_keys_tokens_by_digest_not_by_the_token(token_app, forge) -> None:
    kernel = kernel_of(token_app)
    token = forge()
    credentials.verify(kernel, token)

    (key,) = kernel.verified_tokens._items
    assert token not in key
    assert len(key[0]) == 64  # a SHA-256, hex
