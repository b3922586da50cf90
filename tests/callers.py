"""Callers for tests that call services directly (every service call receives a ``Caller``)."""

from __future__ import annotations

from health_api.domain.caller import Caller

ADMIN_CALLER = Caller.of_role("admin", "test-admin-id", "test-admin-scope")
AGENT_CALLER = Caller.of_role("agent", "test-agent-id", "test-agent-scope")
