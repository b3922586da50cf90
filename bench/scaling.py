"""Scaling probes, in-process through the services (no HTTP noise, one request's storage work):

- a one-day slot query and a one-day availability with ~1k vs ~192k slots in the table (two
  stores holding the same specialty, queried for the same day);
- availability over a 1-doctor vs a 10-doctor specialty on the big store (the fan-out should
  cost about one round trip, not ten).

Each probe is timed twice, as the median of many repetitions: through the service, as a view
calls it (then ``storage.end_request()``, as the teardown does): the storage work alone; and as
a whole request through Flask's test client (routing, auth, JSON), what the targets are
checked on.
"""

from __future__ import annotations

import statistics
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from bench.dataset import SOLO_SPECIALTY, SPECIALTIES, DataSet
from health_api import create_app
from health_api.domain.caller import Caller
from health_api.services.availability import find_availability
from health_api.services.schedules import list_slots

# The services' caller in these in-process probes (no key: a bench, not a client).
CALLER = Caller.of_role("agent", "bench", "bench")


def _median_ms(work: Callable[[], Any], storage: Any, repeat: int) -> float:
    for _ in range(max(repeat // 10, 3)):  # warm caches and pools
        work()
        storage.end_request()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        storage.end_request()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


class Probe:
    """The two probes (one-day slots of a doctor, one-day availability of a specialty) on one
    store, timed through the service and as whole requests."""

    def __init__(self, settings: Any, storage: Any, data: DataSet, auth: str) -> None:
        self.storage, self.data = storage, data
        app = create_app({"settings": settings.replace(log_level="WARNING"), "storage": storage})
        self.client, self.auth = app.test_client(), {"Authorization": auth}

    def _get(self, path: str) -> None:
        response = self.client.get(path, headers=self.auth)
        assert response.status_code == 200, response.data
        assert response.json["items"], path

    def day_query(self, repeat: int) -> tuple[float, float]:
        desde, hasta = self.data.probe_day
        doctor = self.data.doctor_ids[0]
        query = urllib.parse.urlencode({"desde": desde, "hasta": hasta})

        def service() -> None:
            page = list_slots(self.storage, doctor, desde, hasta, None, 20, None, caller=CALLER)
            assert len(page.items) == 16, len(page.items)

        path = f"/api/v1/doctors/{doctor}/schedules?{query}"
        return (
            _median_ms(service, self.storage, repeat),
            _median_ms(lambda: self._get(path), self.storage, repeat),
        )

    def availability(self, especialidad: str, repeat: int) -> tuple[float, float]:
        desde, hasta = self.data.probe_day
        query = urllib.parse.urlencode(
            {"especialidad": especialidad, "desde": desde, "hasta": hasta}
        )

        def service() -> None:
            assert find_availability(
                self.storage, especialidad, desde, hasta, 20, caller=CALLER
            ).items

        return (
            _median_ms(service, self.storage, repeat),
            _median_ms(lambda: self._get(f"/api/v1/availability?{query}"), self.storage, repeat),
        )


def _pair(small: tuple[float, float], big: tuple[float, float], names=("small", "big")):
    service = {names[0]: round(small[0], 3), names[1]: round(big[0], 3)}
    request = {names[0]: round(small[1], 3), names[1]: round(big[1], 3)}
    return {
        "service_ms": service,
        "service_ratio": round(big[0] / small[0], 2),
        "request_ms": request,
        "ratio": round(big[1] / small[1], 2),
    }


def measure(big: Probe, small: Probe, repeat: int) -> dict[str, Any]:
    """All probes and their ratios (``ratio``: whole requests; ``service_ratio``: storage work)."""
    specialty = SPECIALTIES[0]
    size = big.data.size
    many = sum(1 for i in range(size.doctors) if i % size.specialties == 0)
    return {
        "repeat": repeat,
        "table_slots": {"small": small.data.size.slots, "big": size.slots},
        "slot_day_query": _pair(small.day_query(repeat), big.day_query(repeat)),
        "availability_table": _pair(
            small.availability(specialty, repeat), big.availability(specialty, repeat)
        ),
        "availability_doctors": {"one": 1, "many": many},
        "availability_fanout": _pair(
            big.availability(SOLO_SPECIALTY, repeat),
            big.availability(specialty, repeat),
            ("one", "many"),
        ),
    }
