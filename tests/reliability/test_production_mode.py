"""The production switch: DEBUG stays off whatever the environment says, and a fault is a
bare 500 problem that names nothing of the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from health_api import create_app
from health_api.api.kernel import kernel_of
from health_api.services import doctors as doctor_service
from tests.ops import procs
from tests.ops.procs import ADMIN
from tests.reliability.hygiene import API, checked


def test_production_runs_without_debug_and_answers_a_fault_with_a_bare_500(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "ENVIRONMENT": "production",
        "HEALTH_API_KEYS": f"admin={procs.ADMIN_KEY},agent={procs.AGENT_KEY}",
        "HEALTH_API_KEY_ID_SECRET": procs.KEY_ID_SECRET,
        "HEALTH_API_STORAGE": "sqlite",
        "HEALTH_API_SQLITE_PATH": str(tmp_path / "prod.db"),
        "FLASK_DEBUG": "1",  # a stray debug switch in the environment changes nothing
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app()

    assert kernel_of(app).settings.environment == "production"
    assert app.debug is False
    assert app.config["DEBUG"] is False
    assert not app.testing
    assert not app.config.get("PROPAGATE_EXCEPTIONS")

    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"secret-detail in {__file__}")

    monkeypatch.setattr(doctor_service, "create_doctor", explode)
    response = app.test_client().post(
        f"{API}/doctors", json={"nombre": "Dr. X", "especialidad": "Pediatría"}, headers=ADMIN
    )

    text = checked(response).get_data(as_text=True)
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json()) == {"type", "title", "status", "detail"}
    assert "secret-detail" not in text
    assert "RuntimeError" not in text
