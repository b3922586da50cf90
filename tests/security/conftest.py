"""Fixtures of the BOLA matrix: one store per engine (SQLite on a real file, DynamoDB Local)
served twice, by a service in ``HEALTH_API_AGENT_ACCESS=all`` and one in ``public`` mode, with
the same keys and the same token signing key (so both accept the same user tokens and hold ids);
and small worlds of two users seeded through the services: a fresh one for each cell whose call
may change data, one shared by the cells that must change nothing (while they change nothing).

Users A and B each have a booking (with a distinctive ``motivo``), a live hold and a session
(with a distinctive value), so a body that carries any of B's data is found by a plain search of
its serialized text, and a snapshot of each user's slots and session shows what a call changed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from health_api.config import Settings
from health_api.domain.errors import NotFoundError
from health_api.domain.models import Doctor, SlotKey
from health_api.kernel.bootstrap import Kernel
from health_api.services import booking, holds, schedules, sessions
from health_api.services.times import to_utc_string
from health_api.storage.base import Storage
from tests.callers import ADMIN_CALLER
from tests.mcp.conftest import FAKE_AWS, engine_settings_for, opened_storage

ENGINES = ("sqlite", "dynamodb-local")
MODES = ("all", "public")
# Each world's doctor has six free future slots (the day after tomorrow, real clock: the
# servers under test read it too); A and B each book one, hold one and keep one free.
SLOT_TIMES = ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30")


@pytest.fixture(scope="session")
def signing_pem() -> str:
    """One ES256 signing key (PEM) for every service of the run: tokens minted by one kernel
    verify on the other mode's."""
    private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class Engine:
    """One engine's store, its settings per agent access mode, and (set by the surface's
    fixture) the kernel serving each mode."""

    backend: str
    storage: Storage
    settings: dict[str, Settings]
    kernels: dict[str, Kernel] = field(default_factory=dict)
    # A world shared by the cells that must change nothing (refusals, reads), while they do.
    kept: World | None = None

    def token(self, user_id: str, scopes: frozenset[str] | None = None) -> str:
        """A user token of this service for ``user_id`` (``scopes``: None for both)."""
        tokens = self.kernels["all"].tokens
        assert tokens is not None
        return tokens.mint(user_id, scopes).access_token

    def world(self, *, reuse: bool = False) -> World:
        """A world of two users on this engine: a fresh one, or with ``reuse`` the one shared
        by the cells that change nothing (seeding one costs some 20 writes on DynamoDB)."""
        if reuse and self.kept is not None:
            return self.kept
        kernel = self.kernels["all"]
        world = seed_world(self.storage, kernel.secret, kernel.settings)
        world.stored = snapshot(self.storage, world)
        if reuse:
            self.kept = world
        return world

    def changed(self, world: World, who: str | None = None) -> bool:
        """Whether anything stored about ``world`` (``who``: about that user only) changed
        since it was seeded (a changed world is shared no more)."""
        now = snapshot(self.storage, world)
        if now == world.stored:
            return False
        if self.kept is world:
            self.kept = None
        return who is None or now[who] != world.stored[who]


@contextlib.contextmanager
def opened_engine(
    backend: str, request: pytest.FixtureRequest, signing_pem: str
) -> Iterator[Engine]:
    """A store on ``backend`` and its two kernels (fake AWS credentials held meanwhile)."""
    tmp_path = request.getfixturevalue("tmp_path_factory").mktemp("bola")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS.items():
            patch.setenv(name, value)
        patch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-config"))
        url = request.getfixturevalue("dynamodb_local") if backend != "sqlite" else None
        base = engine_settings_for(backend, tmp_path, url, token_signing_keys=signing_pem)
        with opened_storage(base) as store:
            yield Engine(backend, store, {mode: base.replace(agent_access=mode) for mode in MODES})


@dataclass
class World:
    """A doctor of its own specialty and two users, A (the token's user) and B (the other).

    ``booked``, ``held`` and ``free`` map ``"A"``/``"B"`` to a slot time; ``hold_ids`` to the
    live hold's id; ``motivos`` and ``secrets`` to the values only that user's data carries.
    """

    tag: str
    especialidad: str
    doctor: str
    day: str
    times: tuple[str, ...]
    users: dict[str, str]
    motivos: dict[str, str]
    secrets: dict[str, str]
    booked: dict[str, str] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    free: dict[str, str] = field(default_factory=dict)
    hold_ids: dict[str, str] = field(default_factory=dict)
    stored: dict[str, tuple] = field(default_factory=dict)  # its snapshot once seeded

    def marks(self, who: str) -> tuple[str, ...]:
        """Strings that only ``who``'s data contains (its id, motivo, session value, hold id)."""
        return (self.users[who], self.motivos[who], self.secrets[who], self.hold_ids[who])

    def leaked(self, text: str, who: str = "B") -> list[str]:
        """Which of ``who``'s marks ``text`` contains."""
        return [mark for mark in self.marks(who) if mark in text]


def seed_world(storage: Storage, secret: bytes, settings: Settings) -> World:
    """A fresh world on ``storage``: A and B each with a booking, a live hold and a session."""
    tag = uuid.uuid4().hex[:8]
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    times = tuple(
        to_utc_string(datetime.fromisoformat(f"{day}T{hhmm}:00+00:00")) for hhmm in SLOT_TIMES
    )
    world = World(
        tag=tag,
        especialidad=f"Bolología {tag}",
        doctor=f"bola-doc-{tag}",
        day=day.isoformat(),
        times=times,
        users={"A": f"bola-ana-{tag}", "B": f"bola-beto-{tag}"},
        motivos={"A": f"motivo-ana-{tag}", "B": f"motivo-beto-{tag}"},
        secrets={"A": f"secreto-ana-{tag}", "B": f"secreto-beto-{tag}"},
    )
    try:
        storage.doctors.create(Doctor(world.doctor, "Dra. Matriz", world.especialidad, "Centro"))
        schedules.add_slots(storage, world.doctor, [(t, 30) for t in times], caller=ADMIN_CALLER)
        for n, who in enumerate(("B", "A")):
            user = world.users[who]
            world.booked[who], world.held[who], world.free[who] = times[n * 3 : n * 3 + 3]
            booking.book_slot(
                storage,
                SlotKey(world.doctor, world.booked[who]),
                user,
                world.motivos[who],
                caller=ADMIN_CALLER,
            )
            issued = holds.hold_slot(
                storage,
                secret,
                SlotKey(world.doctor, world.held[who]),
                user,
                None,
                settings,
                caller=ADMIN_CALLER,
            )
            world.hold_ids[who] = issued.hold_id
            sessions.put_session(
                storage, user, {"nota": world.secrets[who]}, None, 1800, caller=ADMIN_CALLER
            )
    finally:
        storage.end_request()
    return world


def snapshot(storage: Storage, world: World) -> dict[str, tuple]:
    """Everything stored about each of ``world``'s users: its three slots (booked, held, free)
    and its session data (to prove that a call changed nothing of a user's)."""
    from health_api import clock

    found: dict[str, tuple] = {}
    try:
        for who in ("A", "B"):
            times = (world.booked[who], world.held[who], world.free[who])
            slots = tuple(storage.slots.get(SlotKey(world.doctor, t)) for t in times)
            try:
                data = storage.sessions.get(world.users[who], clock.epoch_seconds()).data
            except NotFoundError:
                data = None
            found[who] = (slots, data)
        return found
    finally:
        storage.end_request()
