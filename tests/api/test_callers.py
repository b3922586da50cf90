"""Every service call of a REST request receives the request's one Caller (``g.caller``), the
value the MCP server resolves from the same key."""

from __future__ import annotations

from health_api.api.kernel import kernel_of
from health_api.config import ApiKey
from health_api.kernel.bootstrap import caller_of
from health_api.services import doctors, sessions
from tests.api.conftest import ADMIN, ADMIN_KEY, AGENT, AGENT_KEY, KEY_ID_SECRET


def recording(monkeypatch, module, name: str) -> list:
    """Record the ``caller`` each call of ``module.name`` receives (the call still runs)."""
    seen: list = []
    real = getattr(module, name)

    def spy(*args, caller, **kwargs):
        seen.append(caller)
        return real(*args, caller=caller, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def test_a_services_caller_is_the_authenticated_key_as_mcp_sees_it(
    app, client, monkeypatch
) -> None:
    seen = recording(monkeypatch, sessions, "put_session")

    response = client.put("/api/v1/sessions/user-1", json={"data": {}}, headers=AGENT)

    assert response.status_code == 200
    assert seen == [caller_of(ApiKey("agent", AGENT_KEY), KEY_ID_SECRET.encode())]
    assert seen[0] is kernel_of(app).caller_for(ApiKey("agent", AGENT_KEY))
    assert (seen[0].role, seen[0].user) == ("agent", None)


def test_an_admin_requests_caller_carries_the_admin_scopes(client, monkeypatch) -> None:
    seen = recording(monkeypatch, doctors, "create_doctor")

    response = client.post(
        "/api/v1/doctors", json={"nombre": "Dr. X", "especialidad": "Y"}, headers=ADMIN
    )

    assert response.status_code == 201
    assert [c.role for c in seen] == ["admin"]
    assert seen[0].may("admin")
    assert seen[0].key_id == caller_of(ApiKey("admin", ADMIN_KEY), KEY_ID_SECRET.encode()).key_id
