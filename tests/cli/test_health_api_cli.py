"""``python -m health_api seed`` / ``unseed`` through ``main(argv)``: what the lines say."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezegun import freeze_time

from health_api.cli import main
from health_api.services import seed

DEMO_DOCTORS = len(seed.DEMO_DOCTORS)


@pytest.fixture
def sqlite_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's store: a fresh SQLite file in development."""
    path = tmp_path / "health_api.db"
    monkeypatch.setenv("HEALTH_API_STORAGE", "sqlite")
    monkeypatch.setenv("HEALTH_API_SQLITE_PATH", str(path))
    monkeypatch.setenv("ENVIRONMENT", "development")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.strip()


@freeze_time("2030-03-04T08:00:00Z")
def test_seeding_a_fresh_store_says_what_it_loaded(sqlite_store, capsys) -> None:
    line = run(capsys, "seed")

    assert line.startswith(f"demo data loaded: {DEMO_DOCTORS} doctors, ")
    assert line.endswith(" slots (sqlite)")
    assert "already present" not in line


@freeze_time("2030-03-04T08:00:00Z")
def test_seeding_again_says_the_data_is_already_present_with_its_counts(
    sqlite_store, capsys
) -> None:
    first = run(capsys, "seed")
    slots = int(first.split(", ")[1].split()[0])

    again = run(capsys, "seed")

    assert again == f"demo data already present: {DEMO_DOCTORS} doctors, {slots} slots (sqlite)"


def test_seeding_a_day_later_loads_the_new_day_and_counts_what_was_there(
    sqlite_store, capsys
) -> None:
    with freeze_time("2030-03-04T08:00:00Z"):
        run(capsys, "seed")
    with freeze_time("2030-03-05T08:00:00Z"):
        line = run(capsys, "seed")

    assert line.startswith("demo data loaded: 0 doctors, ")
    assert f"(already present: {DEMO_DOCTORS} doctors, " in line


@freeze_time("2030-03-04T08:00:00Z")
def test_unseeding_says_what_it_removed(sqlite_store, capsys) -> None:
    loaded = run(capsys, "seed")

    removed = run(capsys, "unseed")

    assert removed == loaded.replace("loaded", "removed")
