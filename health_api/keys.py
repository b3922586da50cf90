"""API keys, shared by every surface (REST and MCP): where they come from, how a presented
bearer token is matched, and what a role may do.

Keys come from settings (``HEALTH_API_KEYS``); they are compared in constant time and never
logged. In development with no keys configured, a key pair is generated once and kept beside
the SQLite file (mode 0600), so a newcomer can call the API at once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from health_api.config import ApiKey, Settings

ROLE_RANK = {"agent": 1, "admin": 2}
DEV_KEYS_FILE = "dev-keys.json"


class MissingKeysError(RuntimeError):
    """Start-up refused: no keys where keys are required."""


def resolve_keys(settings: Settings) -> tuple[tuple[ApiKey, ...], Path | None]:
    """The keys to accept, and the file they came from when generated for development.

    Outside development the service refuses to start without keys.
    """
    if settings.api_keys:
        return settings.api_keys, None
    if not settings.is_development:
        raise MissingKeysError(
            f"HEALTH_API_KEYS is required when ENVIRONMENT={settings.environment}: "
            "give role=key pairs (roles admin, agent; keys of 16+ characters)"
        )
    path = Path(settings.sqlite_path).parent / DEV_KEYS_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _publish_new_keys(path)
    stored = json.loads(path.read_text())
    return tuple(ApiKey(role, stored[role]) for role in ("admin", "agent")), path


def _publish_new_keys(path: Path) -> None:
    """Write a new key pair to ``path`` unless it exists, never leaving it half written.

    Several processes may start at once (gunicorn workers; the REST and MCP servers on one
    volume): each writes its own complete file under a unique name, then ``link``s it to
    ``path``, which fails when another got there first. Readers never see an empty file.
    """
    keys = {"admin": secrets.token_urlsafe(24), "agent": secrets.token_urlsafe(24)}
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        # Another process published first: everyone uses its keys.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


@functools.lru_cache(maxsize=64)
def key_id(key: str) -> str:
    """A short, non-reversible id of a key, for rate-limit buckets and logs."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def authenticate(keys: tuple[ApiKey, ...], header: str | None) -> ApiKey | None:
    """The key matching an ``Authorization: Bearer`` header, compared in constant time."""
    if not header or not header.startswith("Bearer "):
        return None
    presented = header[len("Bearer ") :].strip().encode()
    match = None
    for api_key in keys:
        # Compare against every key (no early exit), so timing says nothing about which matched.
        if hmac.compare_digest(presented, api_key.key.encode()):
            match = api_key
    return match


def has_role(held: str, needed: str) -> bool:
    """True when a key of role ``held`` may do what needs ``needed`` (admin includes agent)."""
    return ROLE_RANK.get(held, 0) >= ROLE_RANK[needed]
