"""Development keys: generated once, published whole, the same for every process."""

from __future__ import annotations

import json
import os
import stat

from health_api.config import load_settings
from health_api.keys import DEV_KEYS_FILE, resolve_keys
from tests.races import race


def test_processes_starting_together_all_read_one_complete_key_pair(tmp_path) -> None:
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")

    results, errors = race(16, lambda _n: resolve_keys(settings)[0])

    assert errors == []
    assert len({tuple(k.key for k in keys) for keys in results}) == 1
    assert os.listdir(tmp_path) == [DEV_KEYS_FILE]  # no draft left behind
    assert stat.S_IMODE((tmp_path / DEV_KEYS_FILE).stat().st_mode) == 0o600


def test_an_existing_key_file_is_kept(tmp_path) -> None:
    (tmp_path / DEV_KEYS_FILE).write_text(
        json.dumps({"admin": "a" * 20, "agent": "b" * 20, "issuer": "c" * 20})
    )
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")

    keys, path = resolve_keys(settings)

    assert path == tmp_path / DEV_KEYS_FILE
    assert {k.role: k.key for k in keys} == {
        "admin": "a" * 20,
        "agent": "b" * 20,
        "issuer": "c" * 20,
    }


def test_the_generated_keys_include_an_issuer_key(tmp_path) -> None:
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")

    keys, _path = resolve_keys(settings)

    assert [k.role for k in keys] == ["admin", "agent", "issuer"]
    assert len({k.key for k in keys}) == 3
    assert all(len(k.key) >= 16 for k in keys)


def test_a_key_file_without_an_issuer_key_gets_one_and_keeps_the_others(tmp_path) -> None:
    old = {"admin": "a" * 20, "agent": "b" * 20}
    (tmp_path / DEV_KEYS_FILE).write_text(json.dumps(old))
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")

    results, errors = race(8, lambda _n: resolve_keys(settings)[0])

    assert errors == []
    assert len({tuple(k.key for k in keys) for keys in results}) == 1  # one issuer key for all
    stored = json.loads((tmp_path / DEV_KEYS_FILE).read_text())
    assert {role: stored[role] for role in old} == old
    assert len(stored["issuer"]) >= 16
    assert {k.role: k.key for k in results[0]} == stored
    assert os.listdir(tmp_path) == [DEV_KEYS_FILE]  # no draft left behind
    assert stat.S_IMODE((tmp_path / DEV_KEYS_FILE).stat().st_mode) == 0o600
