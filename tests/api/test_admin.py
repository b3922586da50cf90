"""/api/v1/admin: the table report and the demo data set."""

from __future__ import annotations

from freezegun import freeze_time

from tests.api.conftest import ADMIN, AGENT
from tests.api.helpers import assert_problem, create_doctor

NOW = "2030-03-01T08:00:00Z"


def test_tables_reports_every_table_matching_its_spec(client) -> None:
    response = client.get("/api/v1/admin/tables", headers=ADMIN)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["ok"] is True
    assert [t["logical"] for t in body["tables"]] == [
        "doctores",
        "horarios_doctores",
        "user_sessions",
        "idempotency_keys",
    ]
    for table in body["tables"]:
        assert table["exists"] is True
        assert table["ok"] is True
        assert table["differences"] == []
        assert table["name"]


def test_seed_loads_twelve_demo_doctors_then_is_idempotent_and_removable(client) -> None:
    # One test for the whole life cycle: loading the demo set on moto takes seconds.
    create_doctor(client, "doc-ana")
    with freeze_time(NOW):
        loaded = client.post("/api/v1/admin/seed", headers=ADMIN)
        availability = client.get(
            "/api/v1/availability", query_string={"especialidad": "cardiologia"}, headers=AGENT
        )
        reloaded = client.post("/api/v1/admin/seed", headers=ADMIN)
        doctors = client.get("/api/v1/doctors?limit=100", headers=AGENT).get_json()["items"]

        removed = client.delete("/api/v1/admin/seed", headers=ADMIN)
        removed_again = client.delete("/api/v1/admin/seed", headers=ADMIN)

    assert loaded.status_code == 200
    assert loaded.get_json()["doctors"] == 12
    assert loaded.get_json()["slots"] > 0
    assert availability.status_code == 200
    assert availability.get_json()["items"]
    assert reloaded.status_code == 200
    assert reloaded.get_json() == {"doctors": 0, "slots": 0}
    assert len(doctors) == 13
    assert len({d["especialidad"] for d in doctors}) >= 4
    assert removed.status_code == 200
    assert removed.get_json() == loaded.get_json()
    assert removed_again.get_json() == {"doctors": 0, "slots": 0}
    remaining = client.get("/api/v1/doctors?limit=100", headers=AGENT).get_json()["items"]
    assert [d["doctor_id"] for d in remaining] == ["doc-ana"]


def test_admin_routes_refuse_an_agent_key(client) -> None:
    response = client.post("/api/v1/admin/seed", headers=AGENT)

    assert_problem(response, 403)
    assert client.get("/api/v1/doctors", headers=AGENT).get_json()["items"] == []


def test_tables_notes_tags_it_cannot_check_instead_of_reporting_a_difference(
    client, backend
) -> None:
    # AWS's DynamoDB Local has no tagging; SQLite has no tags; moto checks them.
    response = client.get("/api/v1/admin/tables", headers=ADMIN)

    body = response.get_json()
    assert body["ok"] is True
    noted = ["tags not checkable on this endpoint" in " ".join(t["notes"]) for t in body["tables"]]
    assert noted == [backend == "dynamodb-local"] * len(body["tables"])
