"""Who is calling, and what they may do for whom: one value that every surface resolves its
authentication to (an API key or a user token), and the object-level rules every service applies
to it, once.

A caller has a role and a set of scopes:
- ``agent`` keys: ``agent`` (doctors, schedules, availability) and, in
  ``HEALTH_API_AGENT_ACCESS=all`` (the default), ``appointments``, ``sessions`` and ``any-user``
  (they act for any user they name); in ``public`` mode only ``agent``;
- ``admin`` keys: all of the above plus ``admin``, whatever the agent access mode;
- ``issuer`` keys: ``issuer`` only (they mint user tokens, nothing else);
- user tokens (role ``user``): ``agent`` plus the token's own ``appointments`` and/or
  ``sessions``, and a bound ``user``: they act for that user only.

The rules (:func:`acting_for`, :func:`may_see_hold`, :func:`slot_view`) answer for every
surface: REST and MCP only render their answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from health_api.domain.errors import (
    InsufficientScopeError,
    MissingUserError,
    OtherUserError,
    PublicAccessError,
)

AGENT, ADMIN, ISSUER, USER = "agent", "admin", "issuer", "user"
# Scopes of user data (a token's ``scope`` claim names them; keys get them from their role).
APPOINTMENTS, SESSIONS = "appointments", "sessions"
USER_SCOPES = (APPOINTMENTS, SESSIONS)
# An API key that acts for whichever user it names (agent keys in ``all`` mode, admin keys).
ANY_USER = "any-user"
AGENT_ACCESS_MODES = ("all", "public")

_AGENT_ALL = frozenset({AGENT, APPOINTMENTS, SESSIONS, ANY_USER})
# What each key role may do (user tokens get theirs from the token: ``for_user``).
ROLE_SCOPES = {
    AGENT: _AGENT_ALL,
    ADMIN: _AGENT_ALL | {ADMIN},
    ISSUER: frozenset({ISSUER}),
}
PUBLIC_AGENT_SCOPES = frozenset({AGENT})

# How much of a slot a caller sees (``slot_view``): the public fields only, the booking too
# (``user_id``, ``motivo``, ``reservado_en``), or that and the holder (``retenido_por``).
PUBLIC, BOOKING, FULL = "public", "booking", "full"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request or tool call.

    ``key_id`` names it in logs (an HMAC of the key, or of a token's issuer and subject);
    ``rate_scope`` is its rate-limit bucket and ``idempotency_scope`` the scope of its
    idempotency keys (never logged; for a user token both are the bound user's, so every token
    of one user shares them); ``scopes`` what it may do; ``user`` the user a token binds, else
    None; ``issuer`` and ``subject`` the token's ``iss`` and ``sub`` (audit), else None.
    """

    role: str
    key_id: str
    rate_scope: str
    idempotency_scope: str
    scopes: frozenset[str] = frozenset()
    user: str | None = None
    issuer: str | None = None
    subject: str | None = None

    @classmethod
    def of_role(cls, role: str, key_id: str, scope: str, agent_access: str = "all") -> Caller:
        """An API key's caller: ``role`` with its scopes (an agent key in ``public`` agent
        access mode reaches public data only), ``scope`` for both buckets."""
        scopes = ROLE_SCOPES.get(role, frozenset())
        if role == AGENT and agent_access == "public":
            scopes = PUBLIC_AGENT_SCOPES
        return cls(role, key_id, scope, scope, scopes)

    @classmethod
    def for_user(
        cls,
        user: str,
        scopes: frozenset[str],
        *,
        key_id: str,
        scope: str,
        issuer: str,
        subject: str,
    ) -> Caller:
        """A user token's caller, bound to ``user`` with the token's user ``scopes``."""
        granted = frozenset(s for s in scopes if s in USER_SCOPES) | {AGENT}
        return cls(USER, key_id, scope, scope, granted, user, issuer, subject)

    def may(self, scope: str) -> bool:
        """Whether this caller may do what ``scope`` names (``agent``, ``admin``, ``issuer``,
        ``appointments``, ``sessions``)."""
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        """Admin keys see who holds a slot and every booking in a schedule."""
        return ADMIN in self.scopes

    @property
    def is_user(self) -> bool:
        """A user token: bound to one user."""
        return self.user is not None


def acting_for(caller: Caller, named: str | None, scope: str) -> str:
    """The user ``caller`` acts for when a request names ``named`` (None: named no one) in an
    operation of ``scope`` (``appointments`` or ``sessions``).

    A user token acts for its bound user: naming no one or that user is fine, naming any other
    is ``OtherUserError`` (which says nothing about the other user); a token without ``scope``
    is ``InsufficientScopeError``. An API key acts for the user it names (none named is the
    ``MissingUserError`` a missing required field always was), if its role may act for users
    at all (an agent key in ``public`` mode may not: ``PublicAccessError``).
    """
    if caller.user is not None:
        if scope not in caller.scopes:
            raise InsufficientScopeError(scope)
        if named is not None and named != caller.user:
            raise OtherUserError()
        return caller.user
    if scope not in caller.scopes or ANY_USER not in caller.scopes:
        raise PublicAccessError()
    if named is None:
        raise MissingUserError()
    return named


def require_scope(caller: Caller, scope: str) -> None:
    """Refuse ``caller`` an operation of ``scope`` on data found by an id rather than by user
    (a hold): a token without the scope, or a key that may not act for users."""
    if caller.user is not None:
        if scope not in caller.scopes:
            raise InsufficientScopeError(scope)
    elif scope not in caller.scopes or ANY_USER not in caller.scopes:
        raise PublicAccessError()


def may_see_hold(caller: Caller, holder: str) -> bool:
    """Whether ``caller`` may see (or release) a hold of ``holder``: a user token its own only
    (another user's ``hold_id`` is a 404); a key that acts for any user, any."""
    if caller.user is not None:
        return holder == caller.user
    return ANY_USER in caller.scopes


def slot_view(caller: Caller, booker: str | None) -> str:
    """How much of a slot booked by ``booker`` (None: booked by no one) ``caller`` sees:
    ``FULL`` for admin keys; ``BOOKING`` for a key that acts for any user, and for a user
    token's own booking; else ``PUBLIC`` (another user's booking is just ``reservado``)."""
    if ADMIN in caller.scopes:
        return FULL
    if caller.user is not None:
        return BOOKING if booker is not None and booker == caller.user else PUBLIC
    return BOOKING if ANY_USER in caller.scopes else PUBLIC
