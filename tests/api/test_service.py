"""Service endpoints through the Flask test client."""

from __future__ import annotations

from health_api import create_app


def test_healthz_answers_ok_without_touching_storage(tmp_path) -> None:
    app = create_app({"sqlite_path": tmp_path / "never-created.db"})

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert not (tmp_path / "never-created.db").exists()
