"""The MCP HTTP guard with user tokens, driven as ASGI (no server): the caller of a token is
in the request's scope, and every token of one user shares that user's rate limit."""

from __future__ import annotations

from freezegun import freeze_time

from health_api.config import ApiKey, load_settings
from health_api.kernel.bootstrap import Kernel, build_kernel
from health_api.mcp.calls import SCOPE_KEY
from health_api.mcp.http import Guard
from tests.mcp.tokens import PUBLIC_URL, mint, signing_pem
from tests.unit.test_mcp_guard import call, inner

AGENT_KEY = "agent-guard-key-0123456789"


def runtime(**changes) -> Kernel:
    settings = load_settings({}).replace(
        environment="test",
        api_keys=(ApiKey("agent", AGENT_KEY),),
        key_id_secret="k" * 32,
        token_signing_keys=signing_pem(),
        mcp_public_url=PUBLIC_URL,
        **changes,
    )
    return build_kernel(settings, None, keys=(settings.api_keys, None))


def test_a_token_reaches_the_server_with_its_users_caller_in_the_scope() -> None:
    reached: list[dict] = []
    kernel = runtime()

    status, _, _ = call(
        Guard(inner(reached), kernel), authorization=f"Bearer {mint(kernel, 'paciente-1')}"
    )

    assert status == 200
    caller = reached[0]["state"][SCOPE_KEY]
    assert (caller.role, caller.user) == ("user", "paciente-1")


def test_two_tokens_of_one_user_share_its_rate_limit_and_another_user_has_their_own() -> None:
    reached: list[dict] = []
    kernel = runtime(rate_limit="1/minute")
    guard = Guard(inner(reached), kernel)

    with freeze_time("2030-01-07T10:00:00Z"):
        first = mint(kernel, "paciente-1")
        second = mint(kernel, "paciente-1", frozenset({"sessions"}))
        statuses = [
            call(guard, authorization=f"Bearer {token}")[0]
            for token in (first, second, mint(kernel, "paciente-2"))
        ]

    assert statuses == [200, 429, 200]
