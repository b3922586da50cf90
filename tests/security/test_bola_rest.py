"""The BOLA matrix over REST, on SQLite and DynamoDB Local: every operation of the OpenAPI
document that touches user data, called for the token's own user, for another user and for no
user, with a user token (on a service in either agent access mode) and with the agent key in
``all`` and in ``public`` mode (see ``rest_cases`` for the rule and the table).

Every refused cell answers its 403/404 as a bare problem (nothing but the problem members, none
of the other user's id, ``motivo``, session value or hold id) and changes nothing stored; no
answer to a user token or a public-mode key carries the other user's data at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from health_api import create_app
from health_api.api.kernel import kernel_of
from tests.api.conftest import AGENT_KEY
from tests.security.conftest import ENGINES, MODES, Engine, World, opened_engine
from tests.security.mcp_cases import touches_user_data as mcp_touches_user_data
from tests.security.rest_cases import (
    CREDENTIALS,
    OBJECT_CASES,
    OPTIONAL_PUBLIC,
    PUBLIC_CASES,
    RESTRICTED_CASES,
    USER_CASES,
    Expected,
    cells,
    expected,
    touches_user_data,
)

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "errors", "request_id", "instance"}
METHODS = ("get", "put", "post", "patch", "delete")


class Rest:
    """The engine and its two apps (agent access ``all`` and ``public``) over one store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.apps: dict[str, Flask] = {
            mode: create_app({"settings": engine.settings[mode], "storage": engine.storage})
            for mode in MODES
        }
        engine.kernels.update({mode: kernel_of(app) for mode, app in self.apps.items()})

    def client(self, credential: str) -> FlaskClient:
        """A client of the app ``credential`` calls (``*-public``: the public-mode one)."""
        return self.apps["public" if credential.endswith("public") else "all"].test_client()

    def call(self, world: World, credential: str, method: str, url: str, body=None, scopes=None):
        """``method url`` with ``body`` as ``credential`` (``token*``: a token of A, with
        ``scopes`` or both)."""
        token = credential.startswith("token")
        bearer = self.engine.token(world.users["A"], scopes) if token else AGENT_KEY
        headers = {"Authorization": f"Bearer {bearer}"}
        return self.client(credential).open(url, method=method, json=body, headers=headers)


@pytest.fixture(scope="module", params=ENGINES)
def rest(request: pytest.FixtureRequest, signing_pem: str) -> Iterator[Rest]:
    """The REST matrix's services on each engine, shared by the module's cells."""
    with opened_engine(request.param, request, signing_pem) as engine:
        yield Rest(engine)


def operations(rest: Rest) -> dict[str, tuple[str, str, bool, str | None]]:
    """The served document's operations: operationId -> (METHOD, path, touches user data,
    ``x-user-scope``)."""
    doc = rest.apps["all"].test_client().get("/openapi.json").get_json()
    found = {}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                found[operation["operationId"]] = (
                    method.upper(),
                    path,
                    touches_user_data(operation, item, doc),
                    operation.get("x-user-scope"),
                )
    return found


def test_every_operation_that_touches_user_data_has_its_row_in_the_matrix(rest: Rest) -> None:
    found = operations(rest)
    by_rule = {name for name, (_, _, touches, _) in found.items() if touches}
    assert by_rule == set(USER_CASES), (
        "an operation names user_id/hold_id without a row in USER_CASES (or a row's operation "
        f"is gone): missing {sorted(by_rule - set(USER_CASES))}, "
        f"stale {sorted(set(USER_CASES) - by_rule)}"
    )
    for name, case in USER_CASES.items():
        assert found[name][:2] == (case.method, case.path), name
        assert found[name][3] == case.scope, f"{name}: the document's x-user-scope"


def test_every_other_operation_is_listed_as_public_or_restricted(rest: Rest) -> None:
    found = operations(rest)
    others = {name for name, (_, _, touches, _) in found.items() if not touches}
    listed = set(PUBLIC_CASES) | set(RESTRICTED_CASES)
    assert others - listed == set(), "operations missing from PUBLIC_CASES/RESTRICTED_CASES"
    assert listed - others - OPTIONAL_PUBLIC == set(), "listed operations the document lacks"
    for name in others:
        method, path, _ = {**PUBLIC_CASES, **RESTRICTED_CASES}[name]
        assert found[name][:2] == (method, path), name


def assert_bare_problem(response, want: Expected, world: World) -> None:
    """A refusal: the expected status and problem type, only problem members, no B data (in
    the body or any header)."""
    text = response.get_data(as_text=True) + str(response.headers)
    assert response.status_code in want.statuses, text
    assert response.mimetype == "application/problem+json", text
    body = response.get_json()
    assert body["type"] == want.problem, body
    assert set(body) <= PROBLEM_MEMBERS, body
    if want.errors is not None:
        assert set(body["errors"]) == {want.errors}, body
    if want.problem == "/problems/insufficient-scope":
        challenge = response.headers.get("WWW-Authenticate", "")
        assert 'error="insufficient_scope"' in challenge, challenge
    assert world.leaked(text) == [], text


@pytest.mark.parametrize(("operation", "credential", "target"), cells())
def test_each_cell_answers_as_the_contract_says_and_a_refusal_reveals_and_changes_nothing(
    rest: Rest, operation: str, credential: str, target: str
) -> None:
    case = USER_CASES[operation]
    want = expected(case, credential, target)
    world = rest.engine.world(reuse=want.refused or case.method == "GET")
    who = "B" if target == "other" else "A"
    url, body = case.build(world, who, target != "none")

    scopes = case.narrow if credential == "token-narrow" else None
    response = rest.call(world, credential, case.method, url, body, scopes)

    text = response.get_data(as_text=True)
    if want.refused:
        changed = rest.engine.changed(world)  # first: a changed world is shared no more
        assert_bare_problem(response, want, world)
        assert not changed, "a refused call changed stored data"
        return
    assert response.status_code in want.statuses, text
    bystander = "A" if who == "B" else "B"
    assert not rest.engine.changed(world, bystander), f"the call changed {bystander}'s data"
    if case.method != "GET":  # a write acted on the user it was for (none: the token's own)
        assert rest.engine.changed(world, who), f"the call changed nothing of {who}'s"
    if credential != "agent-all":  # a token's answers never carry B's data
        assert world.leaked(text + str(response.headers)) == [], text
    if case.method == "GET":  # a read that is allowed shows that user's data
        assert world.users[who] in text, text
    answer = json.loads(text) if text else None
    if isinstance(answer, dict):  # whose data it is, where the answer says
        assert answer.get("user_id") in (None, world.users[who]), text


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("operation", sorted(PUBLIC_CASES))
def test_public_operation_answers_every_credential_without_other_users_data(
    rest: Rest, operation: str, credential: str
) -> None:
    method, _, build = PUBLIC_CASES[operation]
    world = rest.engine.world(reuse=True)

    response = rest.call(world, credential, method, build(world))

    text = response.get_data(as_text=True)
    if operation in OPTIONAL_PUBLIC and response.status_code == 404:
        pytest.skip(f"{operation} is not served by this build")
    assert response.status_code == 200, text
    assert world.leaked(text, "B") == [], text
    if credential == "agent-public":  # schedules without booking details
        assert world.leaked(text, "A") == [], text
    if operation == "list_slots":
        states = {s["fecha_hora"]: s["estado"] for s in json.loads(text)["items"]}
        assert states[world.booked["B"]] == "reservado"
        assert states[world.held["B"]] == "retenido"


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("operation", sorted(RESTRICTED_CASES))
def test_restricted_operation_refuses_every_credential_and_changes_nothing(
    rest: Rest, operation: str, credential: str
) -> None:
    method, _, build = RESTRICTED_CASES[operation]
    world = rest.engine.world(reuse=True)
    url, body = build(world)

    response = rest.call(world, credential, method, url, body)

    changed = rest.engine.changed(world)
    text = response.get_data(as_text=True) + str(response.headers)
    assert response.status_code == 403, text
    assert set(response.get_json()) <= PROBLEM_MEMBERS, text
    assert world.leaked(text) == [], text
    assert not changed, "a refused call changed stored data"


@pytest.mark.parametrize("credential", ["token", "token-public"])
@pytest.mark.parametrize("reach", sorted(OBJECT_CASES))
def test_a_token_reaching_another_users_object_without_naming_a_user_changes_nothing(
    rest: Rest, reach: str, credential: str
) -> None:
    operation, build = OBJECT_CASES[reach]
    world = rest.engine.world(reuse=True)
    url, body = build(world)

    response = rest.call(world, credential, USER_CASES[operation].method, url, body)

    changed = rest.engine.changed(world)
    text = response.get_data(as_text=True) + str(response.headers)
    assert response.status_code in (403, 404, 409), text
    assert response.mimetype == "application/problem+json", text
    assert world.leaked(text) == [], text
    assert not changed, "a refused call changed stored data"


def test_an_idempotency_key_never_replays_another_credentials_answer(rest: Rest) -> None:
    world = rest.engine.world()
    key = {"Idempotency-Key": f"bola-{world.tag}"}
    path = f"/api/v1/sessions/{world.users['B']}"
    body = {"data": {"nota": world.secrets["B"]}}
    agent = rest.client("agent-all").put(
        path, json=body, headers={"Authorization": f"Bearer {AGENT_KEY}", **key}
    )
    assert agent.status_code == 200, agent.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {rest.engine.token(world.users['A'])}", **key}

    other = rest.client("token").put(path, json=body, headers=bearer)
    own = rest.client("token").put(
        f"/api/v1/sessions/{world.users['A']}", json={"data": {"x": 1}}, headers=bearer
    )

    assert other.status_code == 403, other.get_data(as_text=True)
    assert "Idempotent-Replayed" not in other.headers
    assert world.leaked(other.get_data(as_text=True) + str(other.headers)) == []
    assert own.status_code == 200, own.get_data(as_text=True)
    assert "Idempotent-Replayed" not in own.headers
    assert own.get_json()["user_id"] == world.users["A"]
    assert world.leaked(own.get_data(as_text=True)) == []


def test_the_rule_finds_a_user_in_a_parameter_or_anywhere_in_a_body_and_nowhere_else() -> None:
    doc = {
        "components": {
            "schemas": {
                "Inner": {"type": "object", "properties": {"hold_id": {"type": "string"}}},
                "Outer": {
                    "type": "object",
                    "properties": {"slot": {"$ref": "#/components/schemas/Inner"}},
                },
                "Plain": {"type": "object", "properties": {"nombre": {"type": "string"}}},
            }
        }
    }

    def body(ref: str) -> dict:
        schema = {"$ref": f"#/components/schemas/{ref}"}
        return {"requestBody": {"content": {"application/json": {"schema": schema}}}}

    query = {"parameters": [{"in": "query", "name": "user_id"}]}
    header = {"parameters": [{"in": "header", "name": "user_id"}]}
    path_item = {"parameters": [{"in": "path", "name": "user_id"}]}

    assert touches_user_data(query, {}, doc)
    assert touches_user_data({}, path_item, doc)
    assert touches_user_data(body("Outer"), {}, doc)
    assert not touches_user_data(body("Plain"), {}, doc)
    assert not touches_user_data(header, {}, doc)


def test_the_mcp_rule_finds_a_user_at_any_depth_of_an_input_schema() -> None:
    nested = {"properties": {"to": {"properties": {"hold_id": {"type": "string"}}}}}

    assert mcp_touches_user_data({"properties": {"user_id": {"type": "string"}}})
    assert mcp_touches_user_data(nested)
    assert not mcp_touches_user_data({"properties": {"especialidad": {"type": "string"}}})
