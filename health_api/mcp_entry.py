"""``python -m health_api mcp``: the one place that wires settings, keys, storage and the MCP
server together (it builds the bootstrap object of ``kernel/bootstrap.py``, as ``create_app``
does for REST), then serves Streamable HTTP under uvicorn
or, with ``--stdio``, the stdio transport.

A stdio server acts with one credential for its life: an API key (``HEALTH_API_MCP_KEY``) or a
user token (``HEALTH_API_MCP_TOKEN``: it then acts for the token's user only, as a token holder
does over HTTP). Never both. The token is verified at start (for ``HEALTH_API_TOKEN_AUDIENCE``);
once it expires every tool call answers ``invalid-token`` while the process keeps running (the
host shows that answer; a fresh token and a restart resume).

Exit codes: 0 after a clean stop (Ctrl-C; after SIGTERM uvicorn re-raises the signal, so the
process ends by it, 143 in a shell, the convention for a terminated process); 2 for a
configuration error (a bad setting, no keys where keys are required, a stdio key that is not one
of them or only issues tokens, both a stdio key and a token, a token that does not verify); 3
when the storage cannot be opened.

A server that cannot start writes one line to stderr (what is wrong, how to fix it) before
anything else. On stdio it then answers the client's first request (``initialize``) with that
line as a JSON-RPC error before it exits: hosts show what the server answered ("MCP error
-32603: health_api mcp: configuration error: ..."), seldom its stderr, and would otherwise
report only "Connection closed".
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time
from collections.abc import Sequence

from health_api import logs
from health_api.config import ConfigError, Settings, load_settings
from health_api.domain.errors import StorageUnavailableError
from health_api.keys import MissingKeysError, authenticate

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# How long a stdio server that cannot start waits for the client's first request to answer it.
REFUSAL_WAIT_SECONDS = 10.0
INTERNAL_ERROR = -32603  # JSON-RPC: the server could not do what was asked


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, build the server and serve until stopped; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m health_api mcp",
        description="Serve the MCP tools (Streamable HTTP at /mcp, or stdio).",
    )
    parser.add_argument(
        "--stdio",
        action="store_true",
        help="serve stdio (credential: HEALTH_API_MCP_KEY or HEALTH_API_MCP_TOKEN)",
    )
    parser.add_argument("--host", help="interface to listen on (default HEALTH_API_MCP_HOST)")
    parser.add_argument("--port", type=int, help="TCP port (default HEALTH_API_MCP_PORT, 8001)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        changes = {k: v for k, v in (("mcp_host", args.host), ("mcp_port", args.port)) if v}
        if changes:
            settings = settings.replace(
                labels={"mcp_host": "--host", "mcp_port": "--port"}, **changes
            )
    except ConfigError as exc:
        return refuse(f"configuration error: {exc}", 2, stdio=args.stdio)
    # On stdio, stdout is the protocol: every log line goes to stderr.
    logs.configure(settings.log_level, settings.environment, "stderr" if args.stdio else "stdout")
    try:
        return serve(settings, stdio=args.stdio)
    except (ConfigError, MissingKeysError) as exc:
        return refuse(f"configuration error: {exc}", 2, stdio=args.stdio)
    except StorageUnavailableError as exc:
        return refuse(f"storage unavailable: {exc}", 3, stdio=args.stdio)


def refuse(problem: str, code: int, *, stdio: bool) -> int:
    """Say why the server cannot start (stderr; on stdio, also to the client); ``code``."""
    line = f"health_api mcp: {problem}"
    print(line, file=sys.stderr, flush=True)
    if stdio:
        _answer_first_request(line)
    return code


def _answer_first_request(line: str) -> None:
    """Answer the client's first request with ``line`` as an error, if one comes soon."""
    if sys.stdin is None or sys.stdin.isatty():
        return  # a person at a terminal has read the line already
    try:
        fd = sys.stdin.fileno()
    except (OSError, ValueError):
        return  # stdin is no file (replaced in-process): no client to answer
    received = b""
    deadline = time.monotonic() + REFUSAL_WAIT_SECONDS
    while b"\n" not in received:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            return  # the client went away
        received += chunk
    try:
        request = json.loads(received.split(b"\n", 1)[0])
    except ValueError:
        return
    if not isinstance(request, dict) or "id" not in request:
        return
    error = {"code": INTERNAL_ERROR, "message": line}
    reply = {"jsonrpc": "2.0", "id": request["id"], "error": error}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


def serve(settings: Settings, *, stdio: bool) -> int:
    """Open the storage and serve until stopped."""
    import anyio

    from health_api.kernel.bootstrap import build_kernel
    from health_api.mcp.server import build_server
    from health_api.storage.factory import build_storage

    # A stdio server's key or token is checked before the storage is opened: a wrong one is a
    # configuration error (2) whatever state the store is in.
    stdio_caller, expires_at = _stdio_credential(settings) if stdio else (None, None)
    storage = build_storage(settings)
    try:
        kernel = build_kernel(settings, storage, stdio_caller=stdio_caller)
        if stdio:
            anyio.run(build_server(kernel, stdio_expires_at=expires_at).run_stdio_async)
        else:
            _serve_http(kernel, build_server(kernel))
    finally:
        storage.close()
    return 0


def _stdio_credential(settings: Settings):
    """The stdio server's caller, and when it stops being valid (a token's ``exp``; None for a
    key)."""
    if settings.mcp_key and settings.mcp_token:
        raise ConfigError(
            "HEALTH_API_MCP_KEY and HEALTH_API_MCP_TOKEN are both set: a stdio server acts with "
            "one credential, so unset one (the token, to act for its user only)"
        )
    if settings.mcp_token:
        return _token_caller(settings)
    return _stdio_caller(settings), None


def _token_caller(settings: Settings):
    from health_api.kernel.bootstrap import caller_of_token
    from health_api.keys import resolve_key_id_secret
    from health_api.tokens import InvalidTokenError, build_authority

    try:
        verified = build_authority(settings).verify(settings.mcp_token or "")
    except InvalidTokenError as exc:
        # The reason is a fixed phrase; the token itself is never repeated.
        raise ConfigError(
            f"HEALTH_API_MCP_TOKEN is not a valid user token ({exc.reason}): ask the backend "
            "that issues tokens for a fresh one"
        ) from None
    return caller_of_token(verified, resolve_key_id_secret(settings)), verified.expires_at


def _stdio_caller(settings: Settings):
    from health_api.domain.caller import AGENT
    from health_api.kernel.bootstrap import caller_of
    from health_api.keys import resolve_key_id_secret, resolve_keys

    keys, _path = resolve_keys(settings)
    key_id_secret = resolve_key_id_secret(settings)
    api_key = authenticate(keys, f"Bearer {settings.mcp_key or ''}")
    if api_key is None:
        where = (
            "`python -m health_api keys` prints the development keys"
            if settings.is_development
            else "the keys are those of HEALTH_API_KEYS"
        )
        state = "is not set" if not settings.mcp_key else "is not one of this server's API keys"
        raise ConfigError(
            f"HEALTH_API_MCP_KEY {state}: set it to the agent (or admin) key in the server's "
            f"environment (in a host's MCP server config: env); {where}"
        )
    caller = caller_of(api_key, key_id_secret, settings.agent_access)
    if not caller.may(AGENT):
        raise ConfigError(
            "HEALTH_API_MCP_KEY is an issuer key: it only issues user tokens; set the agent (or "
            "admin) key, or a user token in HEALTH_API_MCP_TOKEN"
        )
    return caller


def _serve_http(kernel, server) -> None:
    import logging

    import uvicorn

    from health_api.mcp.http import build_http_app

    settings = kernel.settings
    if settings.mcp_host not in LOOPBACK:
        logging.getLogger("health_api.mcp").info(
            "MCP server listening beyond loopback", extra={"host": settings.mcp_host}
        )
    uvicorn.run(
        build_http_app(kernel, server),
        host=settings.mcp_host,
        port=settings.mcp_port,
        log_config=None,
        access_log=False,
        server_header=False,
        # The client address is found by health_api.clients (the rule REST uses), from the
        # real peer: uvicorn's own X-Forwarded-For handling would rewrite it first.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
