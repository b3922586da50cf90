"""/api/v1/tokens: an ``issuer`` key (a chatbot backend, a patient app's server) mints a
short-lived user token that binds its holder to one user (API.md "Patient tokens").

The token is this service's ES256 JWT (:meth:`~health_api.tokens.TokenAuthority.mint`), for the
token audience and, when set, the MCP server's public URL, so that one token serves REST and
MCP. Minting ignores ``Idempotency-Key``: a live token must never sit in the idempotency store
(a retry simply mints another). A process with an issuer key and no signing key does not start
(:func:`check_issuing`).
"""

from __future__ import annotations

from flask.views import MethodView

from health_api.api.auth import require_role
from health_api.api.blueprint import Blueprint
from health_api.api.context import ParameterError, settings
from health_api.api.idempotency import ignores_key
from health_api.api.kernel import kernel
from health_api.config import ConfigError
from health_api.domain.caller import ISSUER
from health_api.kernel.bootstrap import Kernel
from health_api.schemas.tokens import TokenIn, TokenOut
from health_api.tokens.verify import DEFAULT_TTL_SECONDS

blp = Blueprint(
    "tokens",
    __name__,
    url_prefix="/api/v1/tokens",
    description="User tokens: minted by issuer keys for one user.",
)


@blp.route("")
class Tokens(MethodView):
    """User tokens."""

    @require_role(ISSUER)
    @ignores_key
    @blp.arguments(TokenIn)
    @blp.response(201, TokenOut, description="The token (shown once; never stored).")
    def post(self, body):
        """Mint a user token for ``user_id`` (issuer keys only). It acts for that user alone:
        ``user_id`` may be left out of every body and query, and naming another user is a 403.
        ``Idempotency-Key`` is ignored: a retry mints a new token."""
        maximum = settings().token_max_ttl_seconds
        ttl = body.get("ttl_seconds")
        if ttl is None:
            ttl = min(DEFAULT_TTL_SECONDS, maximum)
        elif ttl > maximum:
            raise ParameterError(
                "ttl_seconds", f"at most {maximum} (HEALTH_API_TOKEN_MAX_TTL_SECONDS)", 422
            )
        scope = body.get("scope")
        public_url = settings().mcp_public_url
        minted = kernel().tokens.mint(
            body["user_id"],
            frozenset(scope.split(" ")) if scope is not None else None,
            ttl,
            audiences=(public_url,) if public_url else (),
        )
        return {
            "access_token": minted.access_token,
            "token_type": "Bearer",
            "expires_in": minted.expires_in,
            "scope": minted.scope,
        }, 201


def check_issuing(running: Kernel) -> None:
    """Refuse to start a REST server with an ``issuer`` key but no signing key: every
    ``POST /tokens`` would fail, and that is a configuration fault, not a client's."""
    if not any(key.role == ISSUER for key in running.keys):
        return
    if running.tokens is None or not running.tokens.signing_keys:
        raise ConfigError(
            "HEALTH_API_KEYS has an issuer key but HEALTH_API_TOKEN_SIGNING_KEYS is not set: "
            "give it one or more EC P-256 private keys (PEM, or the path of a PEM file)"
        )
