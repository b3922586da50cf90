"""User tokens for the MCP tests: a signing key of this service made once per run (settings in
``environment=test`` generate none), and tokens minted with it by the kernel's authority, as
``POST /api/v1/tokens`` mints them."""

from __future__ import annotations

from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from health_api.kernel.bootstrap import Kernel

PUBLIC_URL = "https://mcp.example/mcp"
METADATA_URL = "https://mcp.example/.well-known/oauth-protected-resource/mcp"
APPOINTMENTS_TOOLS = {
    "hold_slot",
    "release_hold",
    "book_appointment",
    "cancel_appointment",
    "reschedule_appointment",
    "list_appointments",
}
SESSIONS_TOOLS = {"get_session", "save_session"}
PUBLIC_TOOLS = {"search_doctors", "find_availability", "list_doctor_slots"}


@cache
def signing_pem() -> str:
    """One P-256 private key (PKCS#8 PEM) for every test of the run."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def token_settings(**changes: object) -> dict[str, object]:
    """Settings changes for a server that accepts this run's tokens at ``PUBLIC_URL``."""
    return {"token_signing_keys": signing_pem(), "mcp_public_url": PUBLIC_URL, **changes}


def mint(
    kernel: Kernel,
    user: str,
    scopes: frozenset[str] | None = None,
    audiences: tuple[str, ...] = (PUBLIC_URL,),
) -> str:
    """A token of ``kernel``'s service for ``user`` (both scopes unless ``scopes``), whose
    ``aud`` holds the MCP public URL unless ``audiences`` says otherwise."""
    assert kernel.tokens is not None
    return kernel.tokens.mint(user, scopes, audiences=audiences).access_token
