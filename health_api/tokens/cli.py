"""``python -m health_api token``: mint one user token of this service (ES256), for trying the
API as a patient or for a script, without an issuer key or a running server.

Usage: ``python -m health_api token --user ID [--ttl S] [--scope "appointments sessions"]
[--audience URL] [--json]``. The token's ``aud`` holds ``HEALTH_API_TOKEN_AUDIENCE``,
``HEALTH_API_MCP_PUBLIC_URL`` when set (as ``POST /api/v1/tokens``) and ``--audience``. Prints
the token alone (or ``--json``: ``access_token``, ``token_type``, ``expires_in``, ``scope``).
A user id outside the id rule, a ttl outside
60..``HEALTH_API_TOKEN_MAX_TTL_SECONDS``, an unknown scope or a service with no signing keys is
refused with one line on stderr and exit code 2. The token is never logged.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from health_api.config import ConfigError, load_settings
from health_api.domain.caller import USER_SCOPES
from health_api.domain.ids import ID_MESSAGE, is_valid_id
from health_api.tokens.verify import MIN_TTL_SECONDS, build_authority

PROG = "python -m health_api token"


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (exit 2), like every other refusal here."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Print one user token of this service.")
    parser.add_argument("--user", required=True, help="the user id the token binds")
    parser.add_argument("--ttl", type=int, help="lifetime in seconds (default 900)")
    parser.add_argument(
        "--scope",
        help=f"space-separated user scopes among {', '.join(USER_SCOPES)} (default both)",
    )
    parser.add_argument("--audience", help="an extra audience (e.g. the MCP server's URL)")
    parser.add_argument("--json", action="store_true", help="print an OAuth token response")
    return parser


def _refuse(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str]) -> int:
    """Run ``token`` with ``argv`` (the arguments after ``token``); the exit code."""
    args = _parser().parse_args(list(argv))
    if not is_valid_id(args.user):
        return _refuse(f"--user: not a valid user id ({ID_MESSAGE})")
    scopes = None
    if args.scope is not None:
        names = args.scope.split()
        unknown = [n for n in names if n not in USER_SCOPES]
        if unknown or not names:
            return _refuse(
                f"--scope: unknown scope {(unknown or [''])[0][:40]!r}; "
                f"scopes are {', '.join(USER_SCOPES)}"
            )
        scopes = frozenset(names)
    if args.audience is not None and not args.audience.startswith(("https://", "http://")):
        return _refuse("--audience: must be an http:// or https:// URL")
    try:
        settings = load_settings()
        authority = build_authority(settings)
    except ConfigError as exc:
        return _refuse(f"configuration error: {exc}")
    if not authority.signing_keys:
        return _refuse(
            "this service has no signing keys: set HEALTH_API_TOKEN_SIGNING_KEYS "
            f"(ENVIRONMENT={settings.environment})"
        )
    ttl = args.ttl
    if ttl is not None and not MIN_TTL_SECONDS <= ttl <= authority.max_ttl:
        return _refuse(
            f"--ttl: must be between {MIN_TTL_SECONDS} and {authority.max_ttl} seconds "
            "(HEALTH_API_TOKEN_MAX_TTL_SECONDS)"
        )
    # As POST /api/v1/tokens: the MCP server's public URL too when it is set.
    audiences = tuple(a for a in (settings.mcp_public_url, args.audience) if a)
    minted = authority.mint(args.user, scopes, ttl, audiences)
    if args.json:
        print(
            json.dumps(
                {
                    "access_token": minted.access_token,
                    "token_type": "Bearer",
                    "expires_in": minted.expires_in,
                    "scope": minted.scope,
                }
            )
        )
    else:
        print(minted.access_token)
    return 0
