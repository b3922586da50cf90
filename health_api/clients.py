"""Who the client is, and how many failed authentications it may make: shared by REST and MCP
(no web framework here; each surface passes in the peer address and the headers).

The client address (API.md v1.2) is the peer's, unless the peer is a trusted proxy
(``FORWARDED_ALLOW_IPS``, gunicorn's setting: addresses or networks, ``*`` for every peer).
Then it is the right-most ``X-Forwarded-For`` entry that is not a trusted proxy: each proxy
appends the address it saw, so entries to the left of the last untrusted one are whatever the
client chose to send. Neither server rewrites the peer itself (gunicorn leaves ``REMOTE_ADDR``
alone, no ProxyFix is installed, and uvicorn runs with ``proxy_headers`` off), so this is the
only place the rule lives.

Failed authentications (unknown keys; see ``keys.Verdict.counts_as_failure``) are counted per
client address in fixed windows (``HEALTH_API_AUTH_FAILURE_LIMIT``, e.g. ``30/minute``, counted
in each process like the request rate limit). Once an address has spent its failures, every
request from it is refused (429, ``Retry-After``) until its window ends, whatever key it sends:
a guesser who finds a key in the meantime cannot use it at once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from health_api.ratelimit import FixedWindowLimiter

UNKNOWN_PEER = "unknown"
# An address is short; a longer entry is cut so a hostile proxy chain cannot grow the table's keys.
MAX_ADDRESS_LENGTH = 64


class TrustedProxies:
    """The peers whose ``X-Forwarded-For`` is believed (``FORWARDED_ALLOW_IPS`` entries)."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = tuple(entries)
        self.everyone = "*" in entries
        self.networks = tuple(ipaddress.ip_network(e) for e in entries if e != "*")

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(_bare(host))
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def _bare(entry: str) -> str:
    """``entry`` without a port (``1.2.3.4:80``, ``[::1]:80``) or IPv6 brackets."""
    entry = entry.strip()
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str:
    """The client's address from the ``peer`` of the connection and every ``X-Forwarded-For``
    header line, in order."""
    if not peer:
        return UNKNOWN_PEER
    if peer not in trusted:
        return peer
    chain = [_bare(e) for line in forwarded_for for e in line.split(",") if e.strip()]
    for entry in reversed(chain):
        if entry not in trusted:
            return entry[:MAX_ADDRESS_LENGTH]
    # Every hop is trusted (or none was named): the left-most one is as far as we can see.
    return chain[0][:MAX_ADDRESS_LENGTH] if chain else peer


class AuthFailureLimit:
    """Failed authentications per client address, in fixed windows."""

    def __init__(self, rate: str) -> None:
        self.counter = FixedWindowLimiter(rate)
        self.rate = rate

    def refusing(self, address: str, now: float) -> float | None:
        """Seconds until ``address`` is served again when it has spent its failures, else
        None. Asked before anything else of every request."""
        return self.counter.waiting(address, now)

    def failed(self, address: str, now: float) -> None:
        """Count one failed authentication of ``address``."""
        self.counter.hit(address, now)
