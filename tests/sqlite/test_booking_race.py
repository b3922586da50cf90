"""Many threads, and several processes, booking one slot at once: exactly one wins each round."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

from health_api.config import load_settings
from health_api.domain.errors import SlotTakenError
from health_api.domain.models import RESERVADO, Slot, SlotKey
from health_api.domain.requests import BookingRequest
from health_api.storage.sqlite.storage import SqliteStorage

NOW = "2026-11-30T08:00:00Z"
THREADS = 32
ROUNDS = 30
PROCESSES = 4
THREADS_PER_PROCESS = 4
PROCESS_ROUNDS = 20


def round_key(n: int) -> SlotKey:
    return SlotKey("doc-race", f"2026-12-01T{n // 4:02d}:{15 * (n % 4):02d}:00Z")


def free_slot(n: int) -> Slot:
    return Slot(round_key(n).doctor_id, round_key(n).fecha_hora)


def contend(store: SqliteStorage, barrier, user_id: str, rounds: int) -> list[tuple]:
    """Book each round's slot as ``user_id`` once the barrier opens; the outcome per round."""
    outcomes = []
    try:
        for n in range(rounds):
            barrier.wait()
            try:
                result = store.slots.book(BookingRequest(round_key(n), user_id), NOW)
                outcomes.append((n, user_id, "won" if result.created else "again"))
            except SlotTakenError:
                outcomes.append((n, user_id, "taken"))
            except Exception as exc:  # noqa: BLE001 - every other outcome is a failure to show
                outcomes.append((n, user_id, f"error: {exc!r}"))
    finally:
        store.release()
    return outcomes


def check_rounds(store: SqliteStorage, outcomes: list[tuple], rounds: int, players: int) -> None:
    """Exactly one winner per round, everyone else refused, and the slot held by the winner."""
    assert len(outcomes) == rounds * players
    for n in range(rounds):
        of_round = [o for o in outcomes if o[0] == n]
        counts = Counter(outcome for _, _, outcome in of_round)
        assert counts == {"won": 1, "taken": players - 1}, (n, counts)
        (winner,) = [user for _, user, outcome in of_round if outcome == "won"]
        slot = store.slots.get(round_key(n))
        assert (slot.estado, slot.user_id) == (RESERVADO, winner)


def test_32_threads_booking_one_slot_yield_exactly_one_booking_per_round(settings) -> None:
    store = SqliteStorage.open(settings)
    store.slots.add_many([free_slot(n) for n in range(ROUNDS)])
    barrier = threading.Barrier(THREADS)
    outcomes: list[tuple] = []
    lock = threading.Lock()

    def player(i: int) -> None:
        mine = contend(store, barrier, f"user-{i}", ROUNDS)
        with lock:
            outcomes.extend(mine)

    threads = [threading.Thread(target=player, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    try:
        check_rounds(store, outcomes, ROUNDS, THREADS)
    finally:
        store.close()


def process_player(path: str, prefix: str, process: int, barrier, results) -> None:
    """One worker process: its own store on the shared file, several threads contending."""
    settings = load_settings({}).replace(sqlite_path=Path(path), table_prefix=prefix)
    store = SqliteStorage.open(settings)
    outcomes: list[tuple] = []
    lock = threading.Lock()

    def player(i: int) -> None:
        mine = contend(store, barrier, f"user-{process}-{i}", PROCESS_ROUNDS)
        with lock:
            outcomes.extend(mine)

    threads = [threading.Thread(target=player, args=(i,)) for i in range(THREADS_PER_PROCESS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    results.put(outcomes)


def test_4_processes_booking_one_slot_yield_exactly_one_booking_per_round(settings) -> None:
    store = SqliteStorage.open(settings)
    store.slots.add_many([free_slot(n) for n in range(PROCESS_ROUNDS)])
    context = multiprocessing.get_context("spawn")
    players = PROCESSES * THREADS_PER_PROCESS
    # One barrier across every thread of every process: all start each round together.
    barrier = context.Barrier(players, timeout=60)
    results = context.Queue()
    processes = [
        context.Process(
            target=process_player,
            args=(str(settings.sqlite_path), settings.table_prefix, p, barrier, results),
        )
        for p in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [o for _ in processes for o in results.get(timeout=120)]
    for process in processes:
        process.join(timeout=30)

    try:
        assert [p.exitcode for p in processes] == [0] * PROCESSES
        check_rounds(store, outcomes, PROCESS_ROUNDS, players)
    finally:
        store.close()
