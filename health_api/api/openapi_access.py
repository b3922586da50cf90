"""Who may call what, in the OpenAPI document: the two bearer schemes (API keys and user
tokens), each operation's security, its 403 problems, the ``x-user-scope`` of the operations
that reach a user's data, and the JWK Set of this service's token keys.

It writes down what ``api/auth.py`` (the role check) and the services' rules
(``domain/caller.py``: ``acting_for``, ``require_scope``, ``may_see_hold``) answer, read from
the views' own marks (``require_role``, ``user_data``), so the document cannot drift from them.
"""

from __future__ import annotations

from typing import Any

from health_api.domain.caller import ADMIN, AGENT, ISSUER

API_KEY, USER_TOKEN = "bearer", "userToken"
SECURITY_SCHEMES = {
    # The API key scheme keeps its v1 form (a generated client's name for it stays the same).
    API_KEY: {"type": "http", "scheme": "bearer"},
    USER_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A user token: a JWT that binds the caller to one user (this service's "
        "ES256 tokens from POST /api/v1/tokens, a chatbot backend's HS256 tokens, or an "
        "external OIDC issuer's). ``user_id`` may be left out of every body and query (it is "
        "the token's user); naming another user is a 403 ``/problems/other-user``. Scopes "
        "(claim ``scope``): ``appointments``, ``sessions``; absent: both. A token that does "
        "not verify is a 401 ``/problems/invalid-token``.",
    },
}
SCOPE_CHALLENGE = "Insufficient-Scope-Challenge"
HEADERS = {
    SCOPE_CHALLENGE: {
        "description": 'With ``/problems/insufficient-scope``: ``Bearer realm="health-api", '
        'error="insufficient_scope", scope="<the scope needed>"``.',
        "required": False,
        "schema": {"type": "string"},
    },
}
UNAUTHORIZED = (
    "No usable credential: none sent, a header other than ``Authorization: Bearer <key or "
    "token>``, or an unknown key (``/problems/unauthorized``, ``detail`` says which, never "
    "echoing the key); or a user token that does not verify: expired, not yet valid, another "
    "audience, an unknown issuer, a bad signature or algorithm, a missing claim "
    '(``/problems/invalid-token``, ``WWW-Authenticate: Bearer realm="health-api", '
    'error="invalid_token"``).'
)
ROLE_NOTES = {
    AGENT: "Needs a key with the ``agent`` role (or ``admin``), or a user token.",
    ADMIN: "Needs a key with the ``admin`` role.",
    ISSUER: "Needs a key with the ``issuer`` role.",
}
ROLE_FORBIDDEN = {
    AGENT: "``/problems/forbidden``: an issuer key (it only mints user tokens).",
    ADMIN: "``/problems/forbidden``: an agent key or a user token (doctor and slot management "
    "and /admin need an admin key), or an issuer key.",
    ISSUER: "``/problems/forbidden``: any credential but an issuer key (agent and admin keys, "
    "user tokens).",
}


def security(role: str) -> list[dict[str, list]]:
    """An operation's security: API keys of ``role``, and user tokens where they are let in."""
    if role == AGENT:
        return [{API_KEY: []}, {USER_TOKEN: []}]
    return [{API_KEY: []}]


def forbidden(role: str, scope: str | None) -> str:
    """The 403 description of an operation needing ``role`` (and reaching the user data of
    ``scope``, when not None)."""
    parts = [ROLE_FORBIDDEN[role]]
    if scope is not None:
        parts = [
            "``/problems/other-user``: a user token named another user (in the path, query or "
            "body); the answer says nothing about that user.",
            "``/problems/insufficient-scope``: a user token without the scope "
            f"``{scope}`` (with ``WWW-Authenticate``, error ``insufficient_scope``).",
            "``/problems/forbidden``: an agent key while ``HEALTH_API_AGENT_ACCESS=public`` "
            "(a user's data needs that user's token), or an issuer key.",
        ]
    return " ".join(parts)


def describe(operation: dict[str, Any], role: str, scope: str | None) -> None:
    """Write an operation's security, its role note and its user scope (see the module doc)."""
    operation["security"] = security(role)
    notes = [ROLE_NOTES[role]]
    if scope is not None:
        operation["x-user-scope"] = scope
        notes.append(
            f"Reaches a user's data (scope ``{scope}``): a user token acts for its own user "
            "only; an API key for the user it names."
        )
    operation["description"] = "\n\n".join(
        p for p in (operation.get("description"), " ".join(notes)) if p
    )


def with_challenge(response: dict[str, Any]) -> None:
    """A 403 that may be a missing scope carries its ``WWW-Authenticate`` challenge."""
    response.setdefault("headers", {})["WWW-Authenticate"] = {
        "$ref": f"#/components/headers/{SCOPE_CHALLENGE}"
    }


JWKS_PATH = "/.well-known/jwks.json"
JWK_FIELDS = ("kty", "crv", "x", "y", "kid", "alg", "use")
JWKS = {
    "get": {
        "summary": "This service's public token keys (a JWK Set), for whoever verifies its "
        "user tokens.",
        "description": "The ES256 public keys of ``HEALTH_API_TOKEN_SIGNING_KEYS`` (in "
        "development, the generated one), each with its ``kid``; no key needed. ``keys`` is "
        "empty when this service issues no tokens.",
        "tags": ["service"],
        "operationId": "jwks",
        "responses": {
            "200": {
                "description": "OK",
                "headers": {
                    "Cache-Control": {
                        "description": "``public, max-age=300``: verifiers may keep it 5 minutes.",
                        "schema": {"type": "string"},
                    }
                },
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["keys"],
                            "properties": {
                                "keys": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["kty", "kid"],
                                        "properties": {
                                            name: {"type": "string"}
                                            for name in (
                                                "kty",
                                                "crv",
                                                "x",
                                                "y",
                                                "kid",
                                                "alg",
                                                "use",
                                            )
                                        },
                                    },
                                }
                            },
                        }
                    }
                },
            }
        },
    }
}
