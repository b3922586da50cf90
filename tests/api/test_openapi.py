"""The OpenAPI document served at /openapi.json says what shared/API.md says, and /docs works
offline."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

PROBLEM_JSON = "application/problem+json"
V1 = "/api/v1"

# Every path and method of shared/API.md, with the role each /api/v1 operation needs.
CONTRACT = {
    ("get", "/healthz"): None,
    ("get", "/readyz"): None,
    ("get", "/openapi.json"): None,
    ("get", "/docs"): None,
    ("post", f"{V1}/doctors"): "admin",
    ("get", f"{V1}/doctors"): "agent",
    ("get", f"{V1}/doctors/{{doctor_id}}"): "agent",
    ("patch", f"{V1}/doctors/{{doctor_id}}"): "admin",
    ("delete", f"{V1}/doctors/{{doctor_id}}"): "admin",
    ("post", f"{V1}/doctors/{{doctor_id}}/schedules"): "admin",
    ("get", f"{V1}/doctors/{{doctor_id}}/schedules"): "agent",
    ("delete", f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}"): "admin",
    ("put", f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"): "agent",
    ("delete", f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"): "agent",
    ("post", f"{V1}/holds"): "agent",
    ("get", f"{V1}/holds/{{hold_id}}"): "agent",
    ("delete", f"{V1}/holds/{{hold_id}}"): "agent",
    ("post", f"{V1}/appointments/reschedule"): "agent",
    ("get", f"{V1}/users/{{user_id}}/appointments"): "agent",
    ("get", f"{V1}/availability"): "agent",
    ("put", f"{V1}/sessions/{{user_id}}"): "agent",
    ("get", f"{V1}/sessions/{{user_id}}"): "agent",
    ("patch", f"{V1}/sessions/{{user_id}}"): "agent",
    ("delete", f"{V1}/sessions/{{user_id}}"): "agent",
    ("get", f"{V1}/admin/tables"): "admin",
    ("post", f"{V1}/admin/seed"): "admin",
    ("delete", f"{V1}/admin/seed"): "admin",
    ("post", f"{V1}/tokens"): "issuer",
}
# The operations that reach a user's data (API.md "Patient tokens"), with the token scope each
# needs: the services decide who may act for whom, the document says so (``x-user-scope``).
USER_DATA = {
    ("put", f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"): "appointments",
    ("delete", f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"): "appointments",
    ("post", f"{V1}/holds"): "appointments",
    ("get", f"{V1}/holds/{{hold_id}}"): "appointments",
    ("delete", f"{V1}/holds/{{hold_id}}"): "appointments",
    ("post", f"{V1}/appointments/reschedule"): "appointments",
    ("get", f"{V1}/users/{{user_id}}/appointments"): "appointments",
    ("put", f"{V1}/sessions/{{user_id}}"): "sessions",
    ("get", f"{V1}/sessions/{{user_id}}"): "sessions",
    ("patch", f"{V1}/sessions/{{user_id}}"): "sessions",
    ("delete", f"{V1}/sessions/{{user_id}}"): "sessions",
}
# The JWK Set of this service's token keys (H1's route): in the document whenever it is served.
JWKS = ("get", "/.well-known/jwks.json")
# API.md v1.2: every operation's operationId (the service endpoints named by their path).
OPERATION_IDS = {
    "healthz",
    "readyz",
    "openapi",
    "docs",
    "create_doctor",
    "list_doctors",
    "get_doctor",
    "update_doctor",
    "delete_doctor",
    "add_slots",
    "list_slots",
    "delete_slot",
    "book_slot",
    "cancel_booking",
    "reschedule_appointment",
    "list_user_appointments",
    "list_availability",
    "create_hold",
    "get_hold",
    "release_hold",
    "put_session",
    "get_session",
    "patch_session",
    "delete_session",
    "get_tables",
    "load_seed",
    "remove_seed",
    "issue_token",
}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Answered by gunicorn itself (request line / header fields too large), before the app.
SERVER_ERRORS = ("414", "431")


@pytest.fixture
def backend() -> str:
    """The document does not depend on the backend: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_the_document_lists_exactly_the_operations_of_the_contract(app, document) -> None:
    listed = {(method, path) for method, path, _ in operations(document)}
    if _serves_jwks(app):
        assert JWKS in listed
        listed.discard(JWKS)

    assert sorted(listed - CONTRACT.keys()) == [], "in the document, not in API.md"
    assert sorted(CONTRACT.keys() - listed) == [], "in API.md, not in the document"


def test_the_document_is_version_1_2_0(document) -> None:
    assert document["info"]["version"] == "1.2.0"


def test_every_operation_has_its_contract_operation_id_once(document) -> None:
    ids = [
        operation.get("operationId")
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method in METHODS
    ]

    assert len(ids) == len(set(ids))
    assert set(ids) - {"jwks"} == OPERATION_IDS


def test_the_operation_ids_name_the_contracts_operations(document) -> None:
    paths = document["paths"]

    assert (
        paths[f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"]["put"]["operationId"]
        == "book_slot"
    )
    assert paths[f"{V1}/users/{{user_id}}/appointments"]["get"]["operationId"] == (
        "list_user_appointments"
    )


def test_path_ids_carry_the_id_rule_and_a_bad_path_value_is_a_documented_400(document) -> None:
    for path, operations in document["paths"].items():
        for parameter in operations.get("parameters", []):
            if parameter["name"] in ("doctor_id", "user_id"):
                assert parameter["schema"]["pattern"] == "^[A-Za-z0-9._@:+-]{1,128}$", path
                assert "ASCII" in parameter["description"]
        for method, operation in operations.items():
            if method in METHODS and "{" in path:
                assert "400" in operation["responses"], (method, path)


def test_unknown_doctor_and_not_your_booking_are_documented(document) -> None:
    schedules = document["paths"][f"{V1}/doctors/{{doctor_id}}/schedules"]
    booking = document["paths"][f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"]
    holds = document["paths"][f"{V1}/holds"]

    for operation in (schedules["post"], schedules["get"], booking["put"], booking["delete"]):
        assert "doctor-not-found" in operation["responses"]["404"]["description"]
    assert "doctor-not-found" in holds["post"]["responses"]["404"]["description"]
    assert "not-your-booking" in booking["delete"]["responses"]["409"]["description"]
    for name in ("desde", "hasta"):
        [parameter] = [p for p in schedules["get"]["parameters"] if p["name"] == name]
        assert "%2B" in parameter["description"]
        assert "YYYY-MM-DD" in parameter["description"]


def test_the_document_is_valid_openapi_3(document) -> None:
    assert document["openapi"].startswith("3.")
    validate(document)  # raises on any violation of the OpenAPI 3 schema


def test_every_v1_operation_needs_a_bearer_key_and_documents_401(document) -> None:
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    for method, path, operation in operations(document):
        if path.startswith(f"{V1}/"):
            assert operation.get("security")[0] == {"bearer": []}, (method, path)
            assert "401" in operation["responses"], (method, path)
            assert "/problems/invalid-token" in operation["responses"]["401"]["description"]
        else:
            assert not operation.get("security"), (method, path)


def test_user_tokens_are_a_jwt_bearer_scheme_let_in_where_agent_keys_are(document) -> None:
    scheme = document["components"]["securitySchemes"]["userToken"]

    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    for method, path, operation in operations(document):
        role = CONTRACT.get((method, path))
        if role == "agent":
            assert operation["security"] == [{"bearer": []}, {"userToken": []}], (method, path)
        elif role is not None:
            assert operation["security"] == [{"bearer": []}], (method, path)


def test_every_v1_operation_documents_403_and_the_role_it_needs(document) -> None:
    # An issuer key is refused everywhere but POST /tokens, so every operation may be a 403.
    for method, path, operation in operations(document):
        role = CONTRACT.get((method, path))
        if role is not None:
            assert "403" in operation["responses"], (method, path)
            assert "/problems/forbidden" in operation["responses"]["403"]["description"]
            assert f"``{role}`` role" in operation["description"], (method, path)


def test_user_data_operations_document_their_scope_and_the_token_refusals(document) -> None:
    marked = {
        (method, path): operation["x-user-scope"]
        for method, path, operation in operations(document)
        if "x-user-scope" in operation
    }

    assert marked == USER_DATA
    for (method, path), _scope in USER_DATA.items():
        refused = document["paths"][path][method]["responses"]["403"]
        for kind in ("other-user", "insufficient-scope", "forbidden"):
            assert f"/problems/{kind}" in refused["description"], (method, path, kind)
        assert "WWW-Authenticate" in refused["headers"], (method, path)


def test_every_operation_that_names_a_user_or_a_hold_is_marked_as_user_data(document) -> None:
    # A new endpoint that takes a user_id (path, query or body) or a hold_id cannot be left out
    # of the user-data operations (and of the BOLA matrix generated from them).
    schemas = document["components"]["schemas"]
    for method, path, operation in operations(document):
        names = {p["name"] for p in document["paths"][path].get("parameters", [])}
        names |= {p["name"] for p in operation.get("parameters", [])}
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        ref = body.get("schema", {}).get("$ref", "")
        if ref:
            names |= set(schemas[ref.rsplit("/", 1)[1]].get("properties", {}))
        if (method, path) == ("post", f"{V1}/tokens"):
            continue  # names the user a token is minted for: an issuer key's, no user data
        if names & {"user_id", "hold_id"}:
            assert operation.get("x-user-scope") in ("appointments", "sessions"), (method, path)


def test_user_id_is_optional_in_every_body_and_query_and_says_why(document) -> None:
    schemas = document["components"]["schemas"]
    for name in ("BookingIn", "HoldIn", "RescheduleIn"):
        assert "user_id" not in schemas[name].get("required", []), name
        assert "token's user" in schemas[name]["properties"]["user_id"]["description"], name
        assert "required with an API key" in schemas[name]["properties"]["user_id"]["description"]
    cancel = document["paths"][f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"]
    [parameter] = [p for p in cancel["delete"]["parameters"] if p["name"] == "user_id"]
    assert parameter["required"] is False
    assert "token's user" in parameter["description"]


def test_issuing_a_token_is_documented_with_its_shapes_and_answers(document) -> None:
    operation = document["paths"][f"{V1}/tokens"]["post"]
    schemas = document["components"]["schemas"]

    assert operation["operationId"] == "issue_token"
    assert {"201", "401", "403", "422"} <= operation["responses"].keys()
    assert schemas["TokenIn"]["required"] == ["user_id"]
    assert set(schemas["TokenIn"]["properties"]) == {"user_id", "scope", "ttl_seconds"}
    assert schemas["TokenIn"]["properties"]["ttl_seconds"]["minimum"] == 60
    assert schemas["TokenIn"]["additionalProperties"] is False
    assert set(schemas["TokenOut"]["required"]) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
    }
    # A live token is never stored under an Idempotency-Key: the operation does not take one.
    assert all(p["name"] != "Idempotency-Key" for p in operation.get("parameters", []))
    assert "Idempotency-Key" in operation["summary"]


def test_the_jwks_document_is_described_whenever_it_is_served(app, document) -> None:
    described = document["paths"].get("/.well-known/jwks.json")

    assert (described is not None) == _serves_jwks(app)
    if described is not None:
        get = described["get"]
        assert not get.get("security")
        assert (
            "keys" in get["responses"]["200"]["content"]["application/json"]["schema"]["required"]
        )


def _serves_jwks(app) -> bool:
    return any(rule.rule == JWKS[1] for rule in app.url_map.iter_rules())


def test_every_error_response_is_problem_json(document) -> None:
    problem = {"$ref": "#/components/schemas/Problem"}
    errors = [
        (f"{method} {path} {status}", response)
        for method, path, operation in operations(document)
        for status, response in operation["responses"].items()
        if (not status.isdigit() or int(status) >= 400) and status not in SERVER_ERRORS
    ]
    errors += list(document["components"].get("responses", {}).items())

    assert errors
    for where, response in errors:
        assert "$ref" not in response, where
        assert response["content"] == {PROBLEM_JSON: {"schema": problem}}, where


def test_query_errors_are_400_and_body_errors_are_422(document) -> None:
    for method, path, operation in operations(document):
        statuses = operation["responses"].keys()
        in_query = any(p["in"] == "query" for p in operation.get("parameters", []))
        has_body = "requestBody" in operation
        if in_query or has_body:
            assert "400" in statuses, (method, path)
        # Every write of /api may also be a 422 for an Idempotency-Key reused with another request.
        is_write = method in {"post", "put", "patch", "delete"} and path.startswith("/api/")
        assert ("422" in statuses) == (has_body or is_write), (method, path)
        if has_body:
            assert {"413", "415"} <= statuses, (method, path)


def test_every_operation_documents_the_servers_own_414_and_431_as_html(document) -> None:
    for method, path, operation in operations(document):
        for status in SERVER_ERRORS:
            response = operation["responses"].get(status)
            assert response is not None, (method, path, status)
            assert response["content"] == {"text/html": {"schema": {"type": "string"}}}
            assert "before the application" in response["description"], (method, path, status)


def test_every_v1_operation_documents_400_for_an_unknown_query_parameter(document) -> None:
    for method, path, operation in operations(document):
        if path.startswith(f"{V1}/"):
            assert "unknown query parameter" in operation["responses"]["400"]["description"], (
                method,
                path,
            )


def test_sessions_document_the_ttl_seconds_they_remember(document) -> None:
    session = document["components"]["schemas"]["SessionOut"]

    assert "ttl_seconds" in session["required"]
    assert session["properties"]["ttl_seconds"]["type"] == "integer"


def test_holds_are_documented_with_their_location_problems_and_fields(document) -> None:
    post = document["paths"][f"{V1}/holds"]["post"]
    schemas = document["components"]["schemas"]

    assert "Location" in post["responses"]["201"]["headers"]
    assert {"200", "201", "409", "422"} <= post["responses"].keys()
    conflicts = post["responses"]["409"]["description"]
    for kind in ("slot-taken", "already-booked", "hold-limit"):
        assert f"/problems/{kind}" in conflicts
    booking = document["paths"][f"{V1}/doctors/{{doctor_id}}/schedules/{{fecha_hora}}/booking"]
    assert "/problems/hold-invalid" in booking["put"]["responses"]["409"]["description"]
    assert set(schemas["HoldOut"]["required"]) == {
        "hold_id",
        "doctor_id",
        "fecha_hora",
        "user_id",
        "expires_at",
        "slot",
    }
    assert schemas["HoldIn"]["properties"]["ttl_seconds"]["minimum"] == 30
    assert schemas["HoldIn"]["properties"]["ttl_seconds"]["maximum"] == 1800
    assert "hold_id" in schemas["BookingIn"]["properties"]
    assert "retenido" in schemas["SlotPublic"]["properties"]["estado"]["enum"]
    assert "retenido_hasta" in schemas["SlotPublic"]["properties"]
    assert "retenido_por" in schemas["SlotFull"]["properties"]
    assert "retencion" not in schemas["SlotFull"]["properties"]


def test_throttling_and_unavailable_storage_carry_retry_after(document) -> None:
    for method, path, operation in operations(document):
        for status in ("429", "503"):
            if status in operation["responses"]:
                headers = operation["responses"][status]["headers"]
                assert "Retry-After" in headers, (method, path, status)


def test_the_problem_schema_has_the_rfc_9457_members(document) -> None:
    problem = document["components"]["schemas"]["Problem"]

    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"errors", "alternativas"} <= problem["properties"].keys()
    assert problem["additionalProperties"] is True  # RFC 9457 extension members


def test_docs_page_uses_only_local_assets_and_they_are_served(client) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert not re.search(r"https?://", html), "the page must work with no internet"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.data, asset
    assert '"/openapi.json"' in html


def test_every_write_documents_the_idempotency_key_and_its_answers(document) -> None:
    for method, path, operation in operations(document):
        if method not in {"post", "put", "patch", "delete"} or not path.startswith("/api/"):
            continue
        if (method, path) == ("post", f"{V1}/tokens"):
            continue  # ignores the header: see test_issuing_a_token_is_documented...
        header = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
        assert header, (method, path)
        assert header[0]["in"] == "header", (method, path)
        assert not header[0]["required"], (method, path)
        responses = operation["responses"]
        assert {"400", "409", "422"} <= responses.keys(), (method, path)
        assert "Retry-After" in responses["409"]["headers"], (method, path)
        success = [r for s, r in responses.items() if s.startswith("2")]
        assert all("Idempotent-Replayed" in r.get("headers", {}) for r in success), (method, path)
