"""``GET /.well-known/jwks.json``: this service's token signing keys, public halves only, so
that anyone holding one of its user tokens (an MCP client, another service) can verify it.

No key is needed (the path is outside ``/api/``); the set holds no patient data, so shared
caches may keep it for 5 minutes (``/api/`` answers are ``no-store``). During a rotation
(``HEALTH_API_TOKEN_SIGNING_KEYS`` holding two PEM blocks) both keys are published: tokens
signed by the old one verify until they expire. Not in the OpenAPI document: it is RFC 7517's
format, not this API's.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

from health_api.api.kernel import kernel

JWKS_PATH = "/.well-known/jwks.json"
JWKS_MAX_AGE_SECONDS = 300


def jwks() -> Response:
    """The JWK Set of this service's signing keys (empty when it issues no tokens)."""
    authority = kernel().tokens
    document = authority.jwks() if authority is not None else {"keys": []}
    response = jsonify(document)
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return response


def register(app: Flask) -> None:
    """Serve :func:`jwks` at ``/.well-known/jwks.json``."""
    app.add_url_rule(JWKS_PATH, "jwks", jwks, methods=["GET"])
