"""User token vs API key (issue 21). Over HTTP, the load runs have a GET and a booking with a
user token beside the same with the agent key (``endpoints.USER_TOKEN_GET`` and
``USER_TOKEN_BOOKING``; the service gets a signing key from :func:`service_env`). Here,
in-process through Flask's test client (no HTTP noise, so the token's share of a request shows
at its largest), each pair interleaved (key, token, key, token, ...) so that a drift of the
machine falls on both sides:

- ``GET /api/v1/doctors/{id}`` with the agent key and with a user token;
- a booking with each (distinct free slots of the small store, every one a real 201);
- a token's verification alone: uncached (ES256 signature and claims, PyJWT) and cached (its
  SHA-256 and a dictionary lookup, what every request after the first pays).

Medians of ``repeat`` repetitions; the token is this service's own (ES256, a key generated for
the run), sent the same on every request as a client would.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.dataset import DataSet
from health_api import create_app
from health_api.api.kernel import kernel_of
from health_api.kernel import credentials
from health_api.tokens import build_authority

USER = "bench-token-user"
BOOKING_BODY = {"user_id": USER, "motivo": "control anual"}


def _pem() -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _pairs(key: Callable[[], Any], token: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Median milliseconds of ``key()`` and ``token()`` run alternately, and their ratio."""
    key_times, token_times = [], []
    for _ in range(repeat):
        key_times.append(_timed(key))
        token_times.append(_timed(token))
    key_ms = statistics.median(key_times) * 1000
    token_ms = statistics.median(token_times) * 1000
    return {
        "key_ms": round(key_ms, 3),
        "token_ms": round(token_ms, 3),
        "token_over_key": round(token_ms / key_ms, 3),
    }


def _verify_us(work: Callable[[], Any], repeat: int) -> float:
    for _ in range(max(repeat // 10, 3)):
        work()
    return round(statistics.median(_timed(work) for _ in range(repeat)) * 1e6, 1)


def compare(settings: Any, storage: Any, data: DataSet, agent: str, repeat: int) -> dict:
    """The token-vs-key figures on ``storage`` (whose ``data`` has free slots to book)."""
    changed = settings.replace(log_level="WARNING", token_signing_keys=_pem())
    app = create_app({"settings": changed, "storage": storage})
    kernel = kernel_of(app)
    token = kernel.tokens.mint(USER).access_token
    client = app.test_client()
    by_key, by_token = {"Authorization": agent}, {"Authorization": f"Bearer {token}"}

    def get(headers: dict[str, str]) -> Callable[[], None]:
        path = f"/api/v1/doctors/{data.doctor_ids[0]}"

        def run() -> None:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, response.data
            storage.end_request()

        return run

    warm = max(repeat // 10, 3)
    bookings = max(min(repeat, len(data.free_slots(10**6)) // 2 - warm), 1)
    free = iter(data.free_slots(2 * (bookings + warm)))

    def book(headers: dict[str, str]) -> Callable[[], None]:
        def run() -> None:
            doctor, when = next(free)
            path = f"/api/v1/doctors/{doctor}/schedules/{when}/booking"
            response = client.put(path, json=BOOKING_BODY, headers=headers)
            assert response.status_code == 201, response.data
            storage.end_request()

        return run

    for _ in range(warm):
        for work in (get(by_key), get(by_token), book(by_key), book(by_token)):
            work()
    return {
        "repeat": repeat,
        "get": _pairs(get(by_key), get(by_token), repeat),
        "booking": {**_pairs(book(by_key), book(by_token), bookings), "repeat": bookings},
        "verify_us": {
            "uncached": _verify_us(lambda: kernel.tokens.verify(token), repeat),
            "cached": _verify_us(lambda: credentials.verify(kernel, token), repeat),
        },
    }


def line(result: dict[str, Any]) -> str:
    """The figures in one line of the results table."""
    get, booking, verify = result["get"], result["booking"], result["verify_us"]
    return (
        f"\ntoken vs key (in-process, median of {result['repeat']}): "
        f"GET doctor {get['key_ms']:.2f} / {get['token_ms']:.2f} ms "
        f"(x{get['token_over_key']:.2f}); booking {booking['key_ms']:.2f} / "
        f"{booking['token_ms']:.2f} ms (x{booking['token_over_key']:.2f}); ES256 verification "
        f"{verify['uncached']:.0f} us uncached, {verify['cached']:.1f} us cached"
    )


def service_env() -> dict[str, str]:
    """What the benchmarked service needs to accept this service's user tokens for a whole run:
    a signing key generated for the run, and tokens that may last a day."""
    return {"HEALTH_API_TOKEN_SIGNING_KEYS": _pem(), "HEALTH_API_TOKEN_MAX_TTL_SECONDS": "86400"}


def bearer(settings: Any, user: str) -> str:
    """An ``Authorization`` value holding a day-long token for ``user`` (``settings`` hold the
    service's signing key, :func:`service_env`)."""
    minted = build_authority(settings).mint(user, ttl_seconds=86400)
    return f"Bearer {minted.access_token}"
