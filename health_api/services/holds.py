"""Holds: a slot kept for one user for a few minutes while a conversation finishes.

The atomicity (one free seat of the user's ``HOLD_MAX_PER_USER``, one slot) lives in storage;
the rules that need the clock live here: the hold's lifetime, never past the slot's start, and
the opaque ``hold_id``.

A ``hold_id`` is URL-safe base64 of the slot key and the hold's nonce, packed small, followed by
an HMAC-SHA256 over them with the cursors' secret (so the REST and MCP servers, which share that
secret, accept each other's ids). It carries no user id. Reading a hold is then one read of one
slot; an edited or foreign id decodes to nothing and is never looked up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from health_api import clock
from health_api.config import HOLD_TTL_RANGE, Settings
from health_api.domain.errors import InvalidRequestError, NotFoundError, SlotTakenError
from health_api.domain.models import BookingResult, Hold, SlotKey
from health_api.services import booking
from health_api.services.schedules import require_doctor
from health_api.services.times import from_utc_string, to_utc_string
from health_api.storage.base import Storage

MAX_HOLD_ID_LENGTH = 512
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


@dataclass(frozen=True)
class IssuedHold:
    """A hold as the service hands it out: its signed id, the hold, and whether it is new."""

    hold_id: str
    hold: Hold
    created: bool


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
    return _b64(body + _mac(secret, body))


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
    if len(body) <= head + 1 or not hmac.compare_digest(mac, _mac(secret, body)):
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


def hold_slot(
    storage: Storage,
    secret: bytes,
    key: SlotKey,
    user_id: str,
    ttl_seconds: int | None,
    settings: Settings,
) -> IssuedHold:
    """Hold ``key`` for ``user_id`` for ``ttl_seconds`` (default ``HOLD_TTL_SECONDS``), never
    past the slot's start. A past slot, or a ``ttl_seconds`` outside 30-1800, is an
    ``InvalidRequestError``; a slot booked or held live by someone else raises
    ``SlotTakenError`` with up to three ``alternativas``. This user's live hold comes back
    unchanged (``created=False``); the result carries the ``hold_id`` signed with ``secret``.
    No such slot: ``DoctorNotFoundError`` when the doctor does not exist, else
    ``NotFoundError``."""
    ttl = settings.hold_ttl_seconds if ttl_seconds is None else ttl_seconds
    low, high = HOLD_TTL_RANGE
    if not low <= ttl <= high:
        raise InvalidRequestError(f"ttl_seconds must be between {low} and {high}, got {ttl}")
    now = clock.now_utc()
    now_text = to_utc_string(now)
    if key.fecha_hora <= now_text:
        raise InvalidRequestError(f"the slot at {key.fecha_hora} is in the past")
    expires_at = min(to_utc_string(now + timedelta(seconds=ttl)), key.fecha_hora)
    try:
        result = storage.slots.hold(
            key, user_id, new_nonce(), expires_at, now_text, settings.hold_max_per_user
        )
    except SlotTakenError as exc:
        exc.alternativas = booking.next_free_slots(storage, key.doctor_id, after=key.fecha_hora)
        raise
    except NotFoundError:
        require_doctor(storage, key.doctor_id)
        raise
    return IssuedHold(hold_id_of(secret, result.hold), result.hold, result.created)


def get_hold(storage: Storage, secret: bytes, hold_id: str) -> Hold:
    """The live hold named by ``hold_id``; ``NotFoundError`` once it expired, was released or
    consumed, and for an edited or foreign id."""
    decoded = decode_hold_id(secret, hold_id)
    if decoded is None:
        raise NotFoundError("no such hold")
    key, nonce = decoded
    return storage.slots.get_hold(key, nonce, to_utc_string(clock.now_utc()))


def release_hold(storage: Storage, secret: bytes, hold_id: str) -> None:
    """Release the hold named by ``hold_id`` (the slot is free again if it still held it);
    already gone is fine. An edited or foreign id is ``NotFoundError``."""
    decoded = decode_hold_id(secret, hold_id)
    if decoded is None:
        raise NotFoundError("no such hold")
    key, nonce = decoded
    storage.slots.release_hold(key, nonce, to_utc_string(clock.now_utc()))


def book_with_hold(
    storage: Storage,
    secret: bytes,
    key: SlotKey,
    user_id: str,
    motivo: str | None,
    hold_id: str | None,
) -> BookingResult:
    """Book ``key`` as ``booking.book_slot`` does, naming the hold ``hold_id`` (optional): an
    expired, edited or foreign id, or one of another slot or user, is ``HoldInvalidError`` —
    unless this user booked ``key`` already, which answers that booking (a safe retry)."""
    nonce = None
    if hold_id is not None:
        decoded = decode_hold_id(secret, hold_id)
        # An id that names no hold on ``key`` can match none: storage is given a nonce no hold
        # has, so it answers as for any stale hold (this user's booking, else HoldInvalidError).
        nonce = decoded[1] if decoded is not None and decoded[0] == key else NO_SUCH_NONCE
    return booking.book_slot(storage, key, user_id, motivo, hold_nonce=nonce)


def _mac(secret: bytes, body: bytes) -> bytes:
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
