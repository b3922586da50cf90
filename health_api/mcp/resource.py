"""The MCP server as an OAuth protected resource (RFC 9728), when ``HEALTH_API_MCP_PUBLIC_URL``
names it: the metadata document an MCP client reads to learn where users sign in, and the
``resource_metadata`` parameter every 401's ``WWW-Authenticate`` carries to point at it.

The metadata URL is the SDK's (``build_resource_metadata_url``: the public URL's origin, then
``/.well-known/oauth-protected-resource``, then the public URL's path), and the document is
validated by the SDK's ``ProtectedResourceMetadata`` model when it names an authorization
server (the model requires one; RFC 9728 does not, and without trusted external issuers this
service has none to name: users get tokens from the deployment's backend, ``POST /tokens``).
The SDK's handler is not used: its answer is cacheable for an hour, and a change of trusted
issuers must show at the next restart, not an hour later.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from mcp.server.auth.routes import build_resource_metadata_url
from mcp.shared.auth import ProtectedResourceMetadata

from health_api.domain.caller import USER_SCOPES
from health_api.kernel.bootstrap import Kernel

METADATA_ROOT = "/.well-known/oauth-protected-resource"
# The path API.md names (the metadata of a server whose public URL ends in /mcp).
METADATA_PATH = METADATA_ROOT + "/mcp"


def metadata_url(public_url: str) -> str:
    """Where the metadata of the resource ``public_url`` is published (RFC 9728 §3.1)."""
    return str(build_resource_metadata_url(public_url))  # type: ignore[arg-type]


def metadata_paths(public_url: str) -> tuple[str, ...]:
    """The paths this server answers the metadata at: the one ``metadata_url`` names (a proxy
    may publish the server under another path) and API.md's."""
    named = urlparse(metadata_url(public_url)).path
    return tuple(dict.fromkeys((named, METADATA_PATH)))


def metadata_document(kernel: Kernel) -> dict[str, Any]:
    """The protected-resource metadata of ``kernel``'s MCP server (its public URL set)."""
    public_url = kernel.settings.mcp_public_url or ""
    servers = list(kernel.tokens.external_issuers) if kernel.tokens is not None else []
    document: dict[str, Any] = {
        "resource": public_url,
        "authorization_servers": servers,
        "scopes_supported": list(USER_SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "Health Assistant API (MCP)",
    }
    if servers:
        ProtectedResourceMetadata.model_validate(document)
    return document


def with_metadata(challenge: str, kernel: Kernel) -> str:
    """``challenge`` (a ``WWW-Authenticate`` value) with ``resource_metadata`` when the public
    URL is set: the MCP authorization spec's way to send a client to the metadata."""
    public_url = kernel.settings.mcp_public_url
    if not public_url:
        return challenge
    return f'{challenge}, resource_metadata="{metadata_url(public_url)}"'
