"""The only way code reads the time, so that tests can move it with freezegun."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """The current instant as an aware UTC datetime, truncated to whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def epoch_seconds() -> int:
    """The current instant as whole seconds since the Unix epoch (DynamoDB TTL's unit)."""
    return int(now_utc().timestamp())
