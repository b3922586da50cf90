"""The Caller an API key gives (domain/caller.py, kernel/bootstrap.py): one value for REST and
MCP alike, carrying the role, what it may do, and the key's two ids (never the key)."""

from __future__ import annotations

import dataclasses

import pytest

from health_api.config import ApiKey, load_settings
from health_api.domain.caller import Caller
from health_api.kernel.bootstrap import build_kernel, caller_of
from health_api.keys import key_id, scope_id

AGENT = ApiKey("agent", "agent-caller-key-0123456789")
ADMIN = ApiKey("admin", "admin-caller-key-0123456789")
SECRET = b"k" * 32


def test_an_agent_key_may_act_as_agent_only_and_is_bound_to_no_user() -> None:
    caller = caller_of(AGENT, SECRET)

    assert (caller.role, caller.user, caller.is_admin) == ("agent", None, False)
    assert caller.may("agent")
    assert not caller.may("admin")


def test_an_admin_key_may_do_what_an_agent_may_and_more() -> None:
    caller = caller_of(ADMIN, SECRET)

    assert caller.scopes == frozenset({"agent", "admin", "appointments", "sessions", "any-user"})
    assert caller.is_admin
    assert caller.scopes > caller_of(AGENT, SECRET).scopes


def test_the_ids_are_the_keys_log_id_and_scope_id_never_the_key() -> None:
    caller = caller_of(AGENT, SECRET)

    assert caller.key_id == key_id(AGENT.key, SECRET)
    assert caller.rate_scope == caller.idempotency_scope == scope_id(AGENT.key)
    assert AGENT.key not in repr(caller)


def test_an_unknown_role_may_do_nothing() -> None:
    assert Caller.of_role("visitor", "id", "scope").scopes == frozenset()


def test_a_caller_is_a_frozen_value() -> None:
    caller = caller_of(AGENT, SECRET)

    with pytest.raises(dataclasses.FrozenInstanceError):
        caller.role = "admin"  # type: ignore[misc]
    assert caller == caller_of(AGENT, SECRET)


def test_the_kernel_gives_every_request_of_a_key_the_same_caller() -> None:
    settings = load_settings({}).replace(
        environment="test", api_keys=(AGENT, ADMIN), key_id_secret=SECRET.decode()
    )
    kernel = build_kernel(settings, None, keys=(settings.api_keys, None))

    first = kernel.caller_for(AGENT)

    assert first is kernel.caller_for(AGENT)
    assert first == caller_of(AGENT, SECRET)
    assert kernel.caller_for(ADMIN).is_admin
