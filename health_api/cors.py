"""CORS for browser clients, shared by REST (``/api/v1``) and the MCP server (``/mcp``) so both
answer alike (API.md v1.2 "CORS").

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) needs no key: it
is answered 204 before authentication, with the allowing headers when the origin is listed in
``HEALTH_API_CORS_ORIGINS`` and without them otherwise (the browser then refuses the call).
Other responses to a listed origin name it and expose the headers a client reads. The allowed
headers are a fixed list, not an echo of what the browser asked for. ``*`` is refused at
start-up (config.py): every origin is named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

METHODS = "GET, POST, PUT, PATCH, DELETE"
API_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
MCP_HEADERS = (*API_HEADERS, "Mcp-Protocol-Version", "Mcp-Session-Id", "Last-Event-ID")
EXPOSED = (
    "RateLimit-Policy",
    "RateLimit",
    "WWW-Authenticate",
    "Idempotent-Replayed",
    "Location",
    "Retry-After",
    "X-Request-ID",
)
MAX_AGE_SECONDS = 600


class CorsPolicy:
    """The CORS answers for one surface: its allowed origins and request headers."""

    def __init__(self, origins: Iterable[str], allow_headers: Iterable[str]) -> None:
        self.origins = frozenset(origins)
        self.allow_headers = ", ".join(allow_headers)

    def allows(self, origin: str | None) -> bool:
        """True when ``origin`` is one of the configured origins."""
        return origin is not None and origin in self.origins

    @staticmethod
    def is_preflight(method: str, header: Callable[[str], str | None]) -> bool:
        """True for a CORS preflight (``header`` reads a request header by name)."""
        return (
            method == "OPTIONS"
            and header("Origin") is not None
            and header("Access-Control-Request-Method") is not None
        )

    def preflight_headers(self, origin: str | None) -> dict[str, str]:
        """The headers of the 204 answering a preflight from ``origin`` (none when refused)."""
        if not self.allows(origin):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": self.allow_headers,
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        }

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """The headers added to any other response to ``origin`` (none when not allowed)."""
        if not self.allows(origin):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Expose-Headers": ", ".join(EXPOSED),
        }
