"""Who is calling: one value that every surface resolves its authentication to, and that every
service call receives, so that "who may act for whom" is decided once, in the services.

Today an API key gives it: its role (``agent`` or ``admin``), what that role may do, and two ids
derived from the key (never the key). A caller is bound to no user yet (``user`` is None): an
agent acts for any user it names.
"""

from __future__ import annotations

from dataclasses import dataclass

AGENT, ADMIN = "agent", "admin"
# What each role may do: admin everything an agent may, and more (ranks of keys.ROLE_RANK).
ROLE_SCOPES = {AGENT: frozenset({AGENT}), ADMIN: frozenset({AGENT, ADMIN})}


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request or tool call.

    ``key_id`` names it in logs; ``rate_scope`` is its rate-limit bucket and
    ``idempotency_scope`` the scope of its idempotency keys (both the key's ``scope_id``, never
    logged); ``scopes`` what its role may do; ``user`` the user it is bound to, or None.
    """

    role: str
    key_id: str
    rate_scope: str
    idempotency_scope: str
    scopes: frozenset[str] = frozenset()
    user: str | None = None

    @classmethod
    def of_role(cls, role: str, key_id: str, scope: str) -> Caller:
        """An API key's caller: ``role`` with its scopes, ``scope`` for both buckets."""
        return cls(role, key_id, scope, scope, ROLE_SCOPES.get(role, frozenset()))

    def may(self, scope: str) -> bool:
        """Whether this caller's role may do what ``scope`` names (``agent``, ``admin``)."""
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        """Admin keys see who holds a slot and every booking in a schedule."""
        return self.role == ADMIN
