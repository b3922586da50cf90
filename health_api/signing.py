"""Signed cursors, shared by every surface: the storage layer's opaque cursor plus an HMAC, so
an edited one is refused.

Storage already refuses a cursor of another query or of the wrong shape; the signature adds
that nobody can move a cursor's position by hand. The key is ``HEALTH_API_CURSOR_SECRET`` or,
when unset, derived from the API keys, so every worker, restart and surface (REST and MCP)
agrees without extra set-up (rotating keys invalidates outstanding cursors and hold ids, which
clients meet as a 400 / 404 and start over).

A ``hold_id`` is signed with the same key, so the REST and MCP servers accept each other's ids:
URL-safe base64 of the slot key and the hold's nonce, packed small, followed by an HMAC-SHA256
over them. It carries no user id. Reading a hold is then one read of one slot; an edited or
foreign id decodes to nothing and is never looked up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from health_api.config import ApiKey, Settings
from health_api.domain.errors import InvalidCursorError
from health_api.domain.limits import MAX_HOLD_ID_LENGTH
from health_api.domain.models import Hold, SlotKey
from health_api.services.times import from_utc_string, to_utc_string

_VERSION = 1
_NONCE_BYTES = 12
_MAC_BYTES = 16
# fecha_hora as whole seconds since 1900-01-01 (the earliest instant a client may name) in five
# bytes: enough past the year 2999.
_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)
_TIME_BYTES = 5
# doctor_id: UTF-8, or each code point in 21 bits when that is shorter (128 four-byte letters are
# 336 bytes instead of 512), so the longest id still fits in MAX_HOLD_ID_LENGTH characters.
_UTF8, _PACKED = 0, 1
_CODE_POINT_BITS = 21
# Not URL-safe base64, so never the nonce of a hold (new_nonce).
NO_SUCH_NONCE = "!"


def secret_for(settings: Settings, keys: tuple[ApiKey, ...]) -> bytes:
    """The signing key for ``settings`` with ``keys`` (the accepted API keys)."""
    if settings.cursor_secret:
        return settings.cursor_secret.encode()
    material = "\n".join(sorted(f"{k.role}={k.key}" for k in keys))
    return hashlib.sha256(b"health-api cursor signing\n" + material.encode()).digest()


def _mac(secret: bytes, cursor: str) -> str:
    digest = hmac.new(secret, cursor.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def sign_cursor(secret: bytes, cursor: str | None) -> str | None:
    """The cursor a client receives."""
    return None if cursor is None else f"{cursor}.{_mac(secret, cursor)}"


def verify_cursor(secret: bytes, token: str | None) -> str | None:
    """The storage cursor inside a client's token; ``InvalidCursorError`` when edited."""
    if token is None:
        return None
    cursor, dot, mac = token.rpartition(".")
    if not dot or not cursor:
        raise InvalidCursorError("the cursor is not valid")
    if not hmac.compare_digest(mac.encode(), _mac(secret, cursor).encode()):
        raise InvalidCursorError("the cursor is not valid")
    return cursor


def new_nonce() -> str:
    """A fresh hold nonce (16 URL-safe characters)."""
    return _b64(secrets.token_bytes(_NONCE_BYTES))


def hold_id_of(secret: bytes, hold: Hold) -> str:
    """The opaque, signed id a client receives for ``hold``."""
    body = (
        bytes([_VERSION])
        + _unb64(hold.nonce)
        + _pack_time(hold.fecha_hora)
        + _pack_doctor(hold.doctor_id)
    )
    return _b64(body + _hold_mac(secret, body))


def decode_hold_id(secret: bytes, hold_id: str) -> tuple[SlotKey, str] | None:
    """The slot key and nonce inside ``hold_id``; None when edited, foreign or malformed."""
    if not isinstance(hold_id, str) or not 0 < len(hold_id) <= MAX_HOLD_ID_LENGTH:
        return None
    try:
        raw = _unb64(hold_id)
    except ValueError:
        return None
    if _b64(raw) != hold_id:
        return None  # a non-canonical spelling (unused low bits set) is an edited id too
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    head = 1 + _NONCE_BYTES + _TIME_BYTES
    if len(body) <= head + 1 or not hmac.compare_digest(mac, _hold_mac(secret, body)):
        return None
    if body[0] != _VERSION:
        return None
    nonce = _b64(body[1 : 1 + _NONCE_BYTES])
    try:
        fecha_hora = _unpack_time(body[1 + _NONCE_BYTES : head])
        doctor_id = _unpack_doctor(body[head:])
    except ValueError:
        return None
    return SlotKey(doctor_id, fecha_hora), nonce


def _hold_mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, b"health-api hold\n" + body, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text.isascii() or "=" in text:
        raise ValueError("not unpadded URL-safe base64")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not URL-safe base64") from None


def _pack_time(fecha_hora: str) -> bytes:
    seconds = int((from_utc_string(fecha_hora) - _EPOCH).total_seconds())
    return seconds.to_bytes(_TIME_BYTES, "big")


def _unpack_time(raw: bytes) -> str:
    try:
        return to_utc_string(_EPOCH + timedelta(seconds=int.from_bytes(raw, "big")))
    except OverflowError:
        raise ValueError("time out of range") from None


def _pack_doctor(doctor_id: str) -> bytes:
    utf8 = doctor_id.encode()
    number = 0
    for index, char in enumerate(doctor_id):
        number |= ord(char) << (_CODE_POINT_BITS * index)
    packed = number.to_bytes((_CODE_POINT_BITS * len(doctor_id) + 7) // 8, "little")
    if len(packed) < len(utf8):
        return bytes([_PACKED, len(doctor_id)]) + packed
    return bytes([_UTF8]) + utf8


def _unpack_doctor(raw: bytes) -> str:
    if raw[0] == _UTF8:
        return raw[1:].decode()  # UnicodeDecodeError is a ValueError
    if raw[0] != _PACKED or len(raw) < 2:
        raise ValueError("unknown doctor id form")
    count, number = raw[1], int.from_bytes(raw[2:], "little")
    mask = (1 << _CODE_POINT_BITS) - 1
    return "".join(chr((number >> (_CODE_POINT_BITS * i)) & mask) for i in range(count))
