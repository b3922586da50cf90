"""The table judgement on shapes only a live DynamoDB shows for a moment."""

from __future__ import annotations

from health_api.config import load_settings
from health_api.storage.table_check import TableReport, check_table
from health_api.storage.tables import HORARIOS_DOCTORES, table_specs


def _live_slots_table(index_status: str) -> dict:
    spec = table_specs(load_settings({}))[HORARIOS_DOCTORES]
    request = spec.create_table_request()
    definitions = [a for a in request["AttributeDefinitions"] if a["AttributeName"] != "user_id"]
    index = {**request["GlobalSecondaryIndexes"][0], "IndexStatus": index_status}
    return {
        "TableStatus": "ACTIVE",
        "KeySchema": request["KeySchema"],
        # While a GSI is being deleted, its own key attribute has already left the definitions.
        "AttributeDefinitions": definitions,
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "GlobalSecondaryIndexes": [index],
    }


def test_an_index_being_deleted_is_reported_missing_not_as_a_key_type_puzzle() -> None:
    spec = table_specs(load_settings({}))[HORARIOS_DOCTORES]

    report = check_table(spec, _live_slots_table("DELETING"), None, None)

    assert report.differences == ["GSI user_id-index is missing (being deleted)"]


def test_the_public_report_names_a_key_difference_without_its_attribute_names() -> None:
    report = TableReport(
        "doctores",
        "doctores",
        exists=True,
        status="ACTIVE",
        differences=[
            "key schema: HASH key doc_id has type N, expected S",
            "key schema: RANGE key fecha (S) is missing",
            "GSI user_id-index: has a RANGE key creado, the spec has none",
            "billing mode is PROVISIONED, expected PAY_PER_REQUEST",
        ],
        notes=["key schema: HASH key is named doc_id (spec: doctor_id); mapped"],
        key_names={"doctor_id": "doc_id"},
    )

    public = report.public_dict()

    assert public == {
        "logical": "doctores",
        "name": "doctores",
        "exists": True,
        "status": "ACTIVE",
        "ok": False,
        "differences": [
            "key schema: keys differ from the spec (see /api/v1/admin/tables)",
            "GSI user_id-index: keys differ from the spec (see /api/v1/admin/tables)",
            "billing mode is PROVISIONED, expected PAY_PER_REQUEST",
        ],
    }
