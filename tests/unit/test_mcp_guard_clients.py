"""The MCP HTTP guard, driven as ASGI, answering as REST does (API.md v1.2): 401s that say
which case it is, CORS preflights without a key, and the limit of failed authentications per
client address (the same address rule as REST)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from freezegun import freeze_time

from health_api.config import ApiKey, ConfigError, load_settings
from health_api.kernel.bootstrap import Kernel, build_kernel
from health_api.mcp.http import Guard

AGENT_KEY = "agent-guard-key-0123456789"
WRONG_KEY = "wrong-guard-key-0123456789"
ALLOWED = "https://chat.example.org"
WINDOW_START = "2026-12-03T10:00:00Z"
CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "access-control-expose-headers",
)


def runtime(keys_file: Path | None = None, **changes) -> Kernel:
    settings = load_settings({}).replace(
        **{
            "environment": "test",
            "api_keys": (ApiKey("agent", AGENT_KEY),),
            "key_id_secret": "k" * 32,
            **changes,
        }
    )
    return build_kernel(settings, None, keys=(settings.api_keys, keys_file))


def served(reached: list):
    async def app(scope, receive, send):
        reached.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def call(
    guard: Guard,
    *headers: tuple[str, str],
    method: str = "POST",
    peer: str | None = "203.0.113.9",
) -> tuple[int, dict[str, str], dict]:
    """One request to /mcp from ``peer``: (status, headers, JSON body) of the answer."""
    scope = {
        "type": "http",
        "method": method,
        "path": "/mcp",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": (peer, 50000) if peer else None,
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    anyio.run(guard, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    answer = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, json.loads(body or b"{}")


def bearer(key: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {key}")


# --- 401: which case, the expected form -------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ((), "no credentials were sent"),
        ((bearer(WRONG_KEY),), "the bearer key is not one of this server's keys"),
        ((("Authorization", WRONG_KEY),), "the Authorization header does not start with `Bearer `"),
        ((("X-API-Key", WRONG_KEY),), "the X-API-Key header is not read"),
    ],
    ids=["no-header", "wrong-key", "no-bearer-prefix", "x-api-key"],
)
def test_a_401_says_which_case_it_is_and_the_expected_form(headers, says) -> None:
    reached: list = []
    status, answer, body = call(Guard(served(reached), runtime()), *headers)

    assert status == 401
    assert body["detail"].startswith(f"{says}: send `Authorization: Bearer <key>`")
    assert answer["www-authenticate"] == 'Bearer realm="health-api"'
    assert WRONG_KEY not in json.dumps(body)
    assert reached == []


def test_in_development_a_401_says_where_the_keys_are(tmp_path) -> None:
    keys_file = tmp_path / "dev-keys.json"
    guard = Guard(served([]), runtime(keys_file, environment="development"))

    _, _, body = call(guard, bearer(WRONG_KEY))

    assert f"are in {keys_file}" in body["detail"]
    assert "python -m health_api keys" in body["detail"]


# --- CORS -------------------------------------------------------------------------------------


def preflight(guard: Guard, origin: str) -> tuple[int, dict[str, str], dict]:
    return call(
        guard,
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "authorization, content-type, mcp-protocol-version"),
        method="OPTIONS",
    )


def test_a_preflight_from_an_allowed_origin_is_a_204_without_a_key() -> None:
    reached: list = []
    guard = Guard(served(reached), runtime(cors_origins=(ALLOWED,)))

    status, answer, _ = preflight(guard, ALLOWED)

    assert status == 204
    assert answer["access-control-allow-origin"] == ALLOWED
    assert answer["vary"] == "Origin"
    assert answer["access-control-allow-methods"] == "GET, POST, PUT, PATCH, DELETE"
    assert answer["access-control-allow-headers"] == (
        "Authorization, Content-Type, Idempotency-Key, "
        "Mcp-Protocol-Version, Mcp-Session-Id, Last-Event-ID"
    )
    assert answer["access-control-max-age"] == "600"
    assert reached == []


def test_a_preflight_from_another_origin_is_a_204_that_allows_nothing() -> None:
    guard = Guard(served([]), runtime(cors_origins=(ALLOWED,)))

    status, answer, _ = preflight(guard, "https://evil.example")

    assert status == 204
    assert not [name for name in CORS_HEADERS if name in answer]


@pytest.mark.parametrize("key", [AGENT_KEY, WRONG_KEY], ids=["served", "refused"])
def test_responses_to_an_allowed_origin_expose_the_headers_clients_read(key) -> None:
    guard = Guard(served([]), runtime(cors_origins=(ALLOWED,)))

    _, answer, _ = call(guard, bearer(key), ("Origin", ALLOWED))

    assert answer["access-control-allow-origin"] == ALLOWED
    exposed = {h.strip() for h in answer["access-control-expose-headers"].split(",")}
    assert exposed >= {
        "RateLimit-Policy",
        "RateLimit",
        "WWW-Authenticate",
        "Idempotent-Replayed",
        "Location",
    }


def test_a_wildcard_origin_is_refused_by_the_settings_the_server_starts_from() -> None:
    with pytest.raises(ConfigError, match=r"HEALTH_API_CORS_ORIGINS: '\*' is not accepted"):
        load_settings({"HEALTH_API_CORS_ORIGINS": "*"})


# --- failed authentications per client address ------------------------------------------------


def limited(**changes) -> Guard:
    return Guard(served([]), runtime(auth_failure_limit="3/minute", **changes))


def test_past_the_limit_every_request_from_the_address_is_a_429_until_the_window_ends() -> None:
    guard = limited()
    with freeze_time(WINDOW_START, real_asyncio=True) as frozen:
        failed = [call(guard, bearer(WRONG_KEY))[0] for _ in range(3)]
        frozen.tick(20)
        refused = call(guard, bearer(AGENT_KEY))
        other = call(guard, bearer(AGENT_KEY), peer="203.0.113.10")
        frozen.tick(40)
        later = call(guard, bearer(AGENT_KEY))

    assert failed == [401, 401, 401]
    status, answer, body = refused
    assert (status, body["type"]) == (429, "/problems/rate-limited")
    assert answer["retry-after"] == "40"
    assert other[0] == 200
    assert later[0] == 200


def test_a_missing_key_does_not_count_as_a_failure() -> None:
    guard = limited()
    with freeze_time(WINDOW_START, real_asyncio=True):
        statuses = {call(guard)[0] for _ in range(6)}
        after = call(guard, bearer(AGENT_KEY))[0]

    assert (statuses, after) == ({401}, 200)


def test_behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_forwarded_entry() -> None:
    guard = limited(forwarded_allow_ips=("10.0.0.0/8",))
    proxy = "10.0.0.2"
    with freeze_time(WINDOW_START, real_asyncio=True):
        for _ in range(3):
            call(guard, bearer(WRONG_KEY), ("X-Forwarded-For", "198.51.100.7"), peer=proxy)
        spoofed = call(
            guard,
            bearer(AGENT_KEY),
            ("X-Forwarded-For", "192.0.2.1"),
            ("X-Forwarded-For", "198.51.100.7"),
            peer=proxy,
        )
        other = call(guard, bearer(AGENT_KEY), ("X-Forwarded-For", "198.51.100.8"), peer=proxy)
        untrusted = call(
            guard, bearer(AGENT_KEY), ("X-Forwarded-For", "198.51.100.7"), peer="192.0.2.50"
        )

    assert spoofed[0] == 429
    assert other[0] == 200
    assert untrusted[0] == 200  # another peer, not a proxy: its X-Forwarded-For is not read
