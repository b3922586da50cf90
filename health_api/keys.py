"""API keys, shared by every surface (REST and MCP): where they come from, how a presented
bearer token is matched, what a role may do, and the two ids derived from a key.

Keys come from settings (``HEALTH_API_KEYS``); they are compared in constant time and never
logged. In development with no keys configured, a key pair is generated once and kept beside
the SQLite file (mode 0600), so a newcomer can call the API at once.

A key has two ids, never the key itself:
- ``key_id`` (logs): an HMAC of the key under ``HEALTH_API_KEY_ID_SECRET``, so a leaked log line
  cannot be checked against a guessed key offline. The secret must be the same in every process
  (REST workers, the MCP server) for one key to have one id; in development it is generated once
  beside the keys.
- ``scope_id`` (Idempotency-Key scopes, rate-limit buckets): the v1.1 derivation, an unsalted
  truncated SHA-256, kept because stored Idempotency-Key records are addressed by it. It is
  never logged.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from health_api.config import ApiKey, Settings

ROLE_RANK = {"agent": 1, "admin": 2}  # issuer keys rank nowhere: they only mint tokens
DEV_KEYS_FILE = "dev-keys.json"
# The development keys: an issuer key too, so that a newcomer can try POST /api/v1/tokens.
DEV_ROLES = ("admin", "agent", "issuer")
DEV_KEY_ID_SECRET_FILE = "key-id-secret"  # noqa: S105 (a file name, not a secret)


class MissingKeysError(RuntimeError):
    """Start-up refused: no keys (or no key-id secret) where they are required."""


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
        keys = {role: secrets.token_urlsafe(24) for role in DEV_ROLES}
        publish_once(path, json.dumps(keys, indent=2))
    stored = json.loads(path.read_text())
    if any(role not in stored for role in DEV_ROLES):
        stored = _add_missing_roles(path)
    return tuple(ApiKey(role, stored[role]) for role in DEV_ROLES), path


def _add_missing_roles(path: Path) -> dict[str, str]:
    """A key file written before a role existed (v1.1's admin and agent) gets a key for each
    missing role, its other keys kept. Processes starting together take turns (a lock on the
    directory) and each rereads the file, so all end with the same keys; the new file is
    written whole under a temporary name and renamed over the old one."""
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        stored = json.loads(path.read_text())
        missing = [role for role in DEV_ROLES if role not in stored]
        if missing:
            stored.update({role: secrets.token_urlsafe(24) for role in missing})
            draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(stored, indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(draft, path)
        return stored
    finally:
        os.close(directory)  # releases the lock


def resolve_key_id_secret(settings: Settings) -> bytes:
    """The HMAC key of logged key ids: ``HEALTH_API_KEY_ID_SECRET``, or in development one
    generated once beside the development keys (mode 0600). Outside development the service
    refuses to start without it."""
    if settings.key_id_secret:
        return settings.key_id_secret.encode()
    if not settings.is_development:
        raise MissingKeysError(
            f"HEALTH_API_KEY_ID_SECRET is required when ENVIRONMENT={settings.environment}: "
            "a random value of 32+ characters, the same for every process of the service "
            "(REST and MCP), e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    path = Path(settings.sqlite_path).parent / DEV_KEY_ID_SECRET_FILE
    try:
        if not path.exists():
            publish_once(path, secrets.token_urlsafe(32))
        return path.read_text().strip().encode()
    except OSError as exc:
        raise MissingKeysError(
            f"cannot create the development key-id secret at {path} ({exc.strerror}): "
            "set HEALTH_API_KEY_ID_SECRET or a writable HEALTH_API_SQLITE_PATH directory"
        ) from None


def publish_once(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600) unless it exists, never leaving it half written.

    Several processes may start at once (gunicorn workers; the REST and MCP servers on one
    volume): each writes its own complete file under a unique name, then ``link``s it to
    ``path``, which fails when another got there first. Readers never see an empty file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # Another process published first: everyone uses its file.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


@functools.lru_cache(maxsize=64)
def key_id(key: str, secret: bytes) -> str:
    """The id that names a key in logs: an HMAC of it under the key-id secret."""
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:12]


@functools.lru_cache(maxsize=64)
def scope_id(key: str) -> str:
    """The id that scopes a key's Idempotency-Keys and rate-limit bucket (v1.1's derivation,
    kept so that stored records stay reachable). Never logged: use :func:`key_id`."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


# Why a request's credentials were refused (``Verdict.reason``).
MISSING = "missing"
X_API_KEY = "x-api-key"
NOT_BEARER = "not-bearer"
EMPTY = "empty"
UNKNOWN = "unknown"
EXPECTED_FORM = "Authorization: Bearer <key>"
_REASONS = {
    MISSING: "no credentials were sent",
    X_API_KEY: "the X-API-Key header is not read",
    NOT_BEARER: "the Authorization header does not start with `Bearer `",
    EMPTY: "the Authorization header holds no key after `Bearer `",
    UNKNOWN: "the bearer key is not one of this server's keys",
}


@dataclass(frozen=True)
class Verdict:
    """What a request's credentials are: its key, or why there is none."""

    api_key: ApiKey | None
    reason: str | None = None
    # Counted by the per-address limit of failed authentications (API.md v1.2): only a
    # credential that was actually checked (an unknown key) is a guess worth limiting.
    counts_as_failure: bool = False

    def detail(self, development: bool, keys_file: Path | None) -> str:
        """The refusal in words a client can act on (never the key that was sent): which
        case it is, the expected form and, in development, where the keys are."""
        text = f"{_REASONS[self.reason or MISSING]}: send `{EXPECTED_FORM}`"
        if self.reason == UNKNOWN:
            text += " with an admin or agent key"
        if development:
            where = f"are in {keys_file}" if keys_file else "are those of HEALTH_API_KEYS"
            text += (
                f" (development: the keys {where}; `python -m health_api keys` says where "
                "they are and prints a request to try)"
            )
        return text


def examine(keys: tuple[ApiKey, ...], authorization: str | None, x_api_key: bool) -> Verdict:
    """The verdict on an ``Authorization`` header (``x_api_key``: an ``X-API-Key`` header was
    sent too); the bearer is compared with every key in constant time."""
    header = (authorization or "").strip()
    if not header:
        return Verdict(None, X_API_KEY if x_api_key else MISSING)
    # RFC 9110: the scheme is case-insensitive. Nothing else in a header that is not a bearer
    # is compared with the keys (a key sent without the scheme must not become an oracle).
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return Verdict(None, NOT_BEARER)
    presented = presented.strip()
    if not presented:
        return Verdict(None, EMPTY)
    match = None
    for api_key in keys:
        # Compare against every key (no early exit), so timing says nothing about which matched.
        if hmac.compare_digest(presented.encode(), api_key.key.encode()):
            match = api_key
    if match is None:
        # A bearer shaped as a JWT is then verified as a user token (kernel/credentials.py),
        # which decides whether its refusal counts: a bad signature does, an expired token not.
        return Verdict(None, UNKNOWN, counts_as_failure=True)
    return Verdict(match)


def authenticate(keys: tuple[ApiKey, ...], header: str | None) -> ApiKey | None:
    """The key matching an ``Authorization: Bearer`` header, compared in constant time."""
    return examine(keys, header, x_api_key=False).api_key


def has_role(held: str, needed: str) -> bool:
    """True when a key of role ``held`` may do what needs ``needed`` (admin includes agent)."""
    return ROLE_RANK.get(held, 0) >= ROLE_RANK[needed]
