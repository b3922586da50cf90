"""A key's two ids (API.md v1.2 "key_id in logs"): logs name a key by an HMAC under
``HEALTH_API_KEY_ID_SECRET``, never a plain hash of it; Idempotency-Key records and rate-limit
buckets keep the v1.1 derivation, so records stored before the upgrade stay reachable."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import stat

import pytest

from health_api import clock, create_app
from health_api.api.kernel import kernel_of
from health_api.config import load_settings
from health_api.kernel.bootstrap import build_kernel
from health_api.keys import DEV_KEY_ID_SECRET_FILE, MissingKeysError, resolve_key_id_secret
from health_api.services import idempotency as rules
from tests.api.conftest import ADMIN, ADMIN_KEY, AGENT, AGENT_KEY, KEY_ID_SECRET, with_test_keys
from tests.races import race

DOCTOR = {"doctor_id": "doc-v11", "nombre": "Dra. Previa", "especialidad": "Pediatría"}


def v11_id(key: str) -> str:
    """What v1.1 called the key's id (and logged): the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def test_the_access_log_names_the_key_by_an_hmac_under_the_secret(client, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="health_api.access"):
        client.get("/api/v1/doctors", headers=AGENT)

    (record,) = [r for r in caplog.records if r.name == "health_api.access"]
    expected = hmac.new(KEY_ID_SECRET.encode(), AGENT_KEY.encode(), hashlib.sha256).hexdigest()
    assert record.key_id == expected[:12]
    assert record.key_id != v11_id(AGENT_KEY)
    assert AGENT_KEY not in caplog.text
    assert v11_id(AGENT_KEY) not in caplog.text


def test_an_idempotency_record_stored_by_v1_1_is_still_replayed(app, client) -> None:
    # A POST answered by v1.1 under the key's old id, before the upgrade.
    repository = kernel_of(app).storage.idempotency
    huella = rules.fingerprint("POST", "/api/v1/doctors", [], json.dumps(DOCTOR).encode())
    stored = rules.begin(
        repository,
        rules.record_key(v11_id(ADMIN_KEY), "alta-antes"),
        huella,
        ttl_seconds=3600,
        lease_seconds=30,
    )
    answer = rules.Answer(201, json.dumps({**DOCTOR, "v": "1.1"}), "application/json")
    rules.finish(repository, stored, answer, 3600)

    response = client.post(
        "/api/v1/doctors", json=DOCTOR, headers={**ADMIN, "Idempotency-Key": "alta-antes"}
    )

    assert response.status_code == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.get_json()["v"] == "1.1"
    assert client.get("/api/v1/doctors/doc-v11", headers=ADMIN).status_code == 404  # not re-run


def test_a_new_record_is_stored_under_the_v1_1_id(app, client) -> None:
    client.post("/api/v1/doctors", json=DOCTOR, headers={**ADMIN, "Idempotency-Key": "alta-1"})

    record = kernel_of(app).storage.idempotency.get(
        rules.record_key(v11_id(ADMIN_KEY), "alta-1"), clock.epoch_seconds()
    )
    assert record is not None


def test_outside_development_start_up_needs_the_key_id_secret(tmp_path) -> None:
    settings = with_test_keys(load_settings({}).replace(sqlite_path=tmp_path / "h.db"))
    settings = settings.replace(key_id_secret=None, environment="staging")

    with pytest.raises(MissingKeysError, match="HEALTH_API_KEY_ID_SECRET is required"):
        create_app({"settings": settings})


def test_a_short_key_id_secret_is_refused_without_echoing_it() -> None:
    from health_api.config import ConfigError

    with pytest.raises(ConfigError, match="HEALTH_API_KEY_ID_SECRET: must be at least 32") as exc:
        load_settings({"HEALTH_API_KEY_ID_SECRET": "short-secret-value"})
    assert "short-secret-value" not in str(exc.value)


def test_in_development_one_secret_is_generated_for_every_process(tmp_path) -> None:
    settings = load_settings({}).replace(sqlite_path=tmp_path / "h.db")

    results, errors = race(16, lambda _n: resolve_key_id_secret(settings))
    app = create_app({"settings": settings})
    mcp_kernel = build_kernel(settings, kernel_of(app).storage)

    assert errors == []
    assert len(set(results)) == 1
    assert kernel_of(app).key_id_secret == results[0]
    assert mcp_kernel.key_id_secret == results[0]  # the MCP server names keys alike
    path = tmp_path / DEV_KEY_ID_SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no draft left behind
