"""Readiness as the public probes (REST and MCP ``/readyz``) report it.

Every served table is checked (the storage probes each one on every call and re-describes them
at most ``DESCRIBE_CACHE_SECONDS`` apart on DynamoDB), and the answer names each table and what
is wrong with it, never its key attribute names: ``/readyz`` needs no key, and the full report
is ``/api/v1/admin/tables``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from health_api.domain.errors import StorageUnavailableError
from health_api.storage.base import Storage


@dataclass(frozen=True)
class Readiness:
    """``ok`` when every table serves; ``tables``: each table's public report, None when the
    storage did not answer."""

    ok: bool
    tables: list[dict[str, Any]] | None

    @property
    def detail(self) -> str:
        """The one-line reason of a 503, naming the tables that are wrong."""
        if self.tables is None:
            return "storage unreachable"
        wrong = [t["name"] for t in self.tables if not t["ok"]]
        return f"tables differ from their specs: {', '.join(wrong)}"


def check_readiness(storage: Storage) -> Readiness:
    """Ask the storage whether it can serve (one cheap check; see ``Storage.check_ready``)."""
    try:
        reports = storage.check_ready()
    except StorageUnavailableError:
        return Readiness(False, None)
    return Readiness(all(r.ok for r in reports), [r.public_dict() for r in reports])
