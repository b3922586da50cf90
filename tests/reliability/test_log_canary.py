"""Log hygiene on real gunicorn (SQLite and DynamoDB Local): a canary value sent through every
operation of the document, in ids, names, reasons, session data, queries and unknown fields,
never reaches the server's captured output, which stays one JSON record per line; nor does a
user token minted and used on the way (not even a slice of it)."""

from __future__ import annotations

import contextlib
import json
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ops import procs
from tests.ops.procs import ADMIN, AGENT
from tests.reliability.hygiene import API, call, future

CANARY = f"CANARY{uuid.uuid4().hex[:8]}"
CANARY_USER = f"{CANARY}-user"
CANARY_USER_2 = f"{CANARY}-user2"
CANARY_DOCTOR = f"{CANARY}-doctor"
CANARY_NAME = f"Dra. {CANARY} Nombre"
CANARY_MOTIVO = f"{CANARY} motivo: dolor toracico"
CANARY_SESSION = f"{CANARY} session: alergia penicilina"
CANARY_QUERY = f"{CANARY}query"
CANARY_FIELD = f"{CANARY}field"


ISSUER_KEY = "ops-issuer-key-0123456789abcdef"
ISSUER = {"Authorization": f"Bearer {ISSUER_KEY}"}


def token_env(tmp_path: Path) -> dict[str, str]:
    """An issuer key beside the admin and agent keys, and a signing key (a file) to mint with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_file = tmp_path / "token-signing-key.pem"
    key_file.write_bytes(pem)
    return {
        "HEALTH_API_KEYS": f"admin={procs.ADMIN_KEY},agent={procs.AGENT_KEY},issuer={ISSUER_KEY}",
        "HEALTH_API_TOKEN_SIGNING_KEYS": str(key_file),
    }


@pytest.fixture(params=["sqlite", "dynamodb-local"])
def canary_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        return procs.server_env(procs.sqlite_env(tmp_path / "data" / "h.db"), **token_env(tmp_path))
    endpoint = request.getfixturevalue("dynamodb_local")
    env = procs.server_env(
        procs.dynamodb_env(endpoint, f"abuse{uuid.uuid4().hex[:8]}-"), **token_env(tmp_path)
    )
    procs.create_tables(env)
    return env


def test_a_canary_through_every_endpoint_never_reaches_the_logs(
    canary_env: dict[str, str], tmp_path: Path
) -> None:
    def hit(method: str, path: str, status: int | tuple[int, ...], **kwargs: Any) -> Any:
        response = call(server.port, method, path, **kwargs)
        expected = status if isinstance(status, tuple) else (status,)
        assert response.status in expected, (method, path, response.status, response.body)
        return response.body

    slot_1, slot_2 = future(40, 9), future(40, 10)
    doctor = f"{API}/doctors/{CANARY_DOCTOR}"
    with running_server(canary_env, tmp_path) as server:
        hit("GET", "/healthz", 200)
        hit("GET", "/readyz", 200)
        hit("GET", "/openapi.json", 200)
        hit("GET", "/docs", 200)
        hit(
            "POST",
            f"{API}/doctors",
            201,
            body={"doctor_id": CANARY_DOCTOR, "nombre": CANARY_NAME, "especialidad": "Neumología"},
            headers=ADMIN,
        )
        hit(
            "POST",
            f"{API}/doctors",
            409,
            body={"doctor_id": CANARY_DOCTOR, "nombre": CANARY_NAME, "especialidad": "Neumología"},
            headers=ADMIN,
        )
        hit("GET", f"{API}/doctors?especialidad={CANARY_QUERY}&limit=5", 200, headers=AGENT)
        assert hit("GET", doctor, 200, headers=AGENT)["nombre"] == CANARY_NAME
        hit("PATCH", doctor, 200, body={"nombre": f"{CANARY_NAME} II"}, headers=ADMIN)
        hit("PATCH", doctor, 422, body={CANARY_FIELD: CANARY_NAME}, headers=ADMIN)
        hit(
            "POST",
            f"{doctor}/schedules",
            201,
            body={"slots": [{"fecha_hora": slot_1}, {"fecha_hora": slot_2}]},
            headers=ADMIN,
        )
        hit("GET", f"{doctor}/schedules?desde={future(39)}&hasta={future(41)}", 200, headers=AGENT)
        booking_1 = f"{doctor}/schedules/{slot_1}/booking"
        booking_2 = f"{doctor}/schedules/{slot_2}/booking"
        booked = hit(
            "PUT",
            booking_1,
            201,
            body={"user_id": CANARY_USER, "motivo": CANARY_MOTIVO},
            headers=AGENT,
        )
        assert booked["motivo"] == CANARY_MOTIVO
        hit(
            "PUT",
            booking_1,
            409,
            body={"user_id": CANARY_USER_2, "motivo": CANARY_MOTIVO},
            headers=AGENT,
        )
        hit(
            "PUT",
            booking_1,
            422,
            body={"user_id": CANARY_USER, CANARY_FIELD: CANARY_MOTIVO},
            headers=AGENT,
        )
        hit(
            "PUT",
            booking_1,
            400,
            raw=f'{{"user_id": "{CANARY_USER}", "motivo": "{CANARY_MOTIVO}"'.encode(),
            headers=AGENT,
        )
        hit(
            "POST",
            f"{API}/appointments/reschedule",
            200,
            body={
                "user_id": CANARY_USER,
                "from": {"doctor_id": CANARY_DOCTOR, "fecha_hora": slot_1},
                "to": {"doctor_id": CANARY_DOCTOR, "fecha_hora": slot_2},
            },
            headers=AGENT,
        )
        mine = hit(
            "GET", f"{API}/users/{CANARY_USER}/appointments?desde={future(1)}", 200, headers=AGENT
        )
        assert [item["motivo"] for item in mine["items"]] == [CANARY_MOTIVO]
        hit("GET", f"{API}/availability?especialidad=neumologia&limit=5", 200, headers=AGENT)
        hit("DELETE", f"{booking_2}?user_id={CANARY_USER_2}", 409, headers=AGENT)
        hit("DELETE", f"{booking_2}?user_id={CANARY_USER}", 204, headers=AGENT)
        # A hold by the canary user (with a canary Idempotency-Key), read, then released.
        held = hit(
            "POST",
            f"{API}/holds",
            201,
            body={"doctor_id": CANARY_DOCTOR, "fecha_hora": slot_1, "user_id": CANARY_USER},
            headers={**AGENT, "Idempotency-Key": f"{CANARY}-key"},
        )
        hit("GET", f"{API}/holds/{held['hold_id']}", 200, headers=AGENT)
        hit("DELETE", f"{API}/holds/{held['hold_id']}", 204, headers=AGENT)
        hit("DELETE", f"{doctor}/schedules/{slot_1}", 204, headers=ADMIN)
        session = f"{API}/sessions/{CANARY_USER}"
        hit("PUT", session, (200, 201), body={"data": {"nota": CANARY_SESSION}}, headers=AGENT)
        assert hit("GET", session, 200, headers=AGENT)["data"] == {"nota": CANARY_SESSION}
        hit("PATCH", session, 200, body={"data": {"extra": CANARY_SESSION}}, headers=AGENT)
        hit("PUT", session, 422, body={"data": {}, CANARY_FIELD: CANARY_SESSION}, headers=AGENT)
        hit("DELETE", session, 204, headers=AGENT)
        hit("GET", session, 404, headers=AGENT)
        hit("GET", f"{API}/users/{CANARY_USER}/appointments", 401)
        # A user token for the canary user: minted, used for its own data and refused another's.
        hit("GET", "/.well-known/jwks.json", 200)
        minted = hit("POST", f"{API}/tokens", 201, body={"user_id": CANARY_USER}, headers=ISSUER)
        token = minted["access_token"]
        user = {"Authorization": f"Bearer {token}"}
        hit("GET", f"{API}/users/{CANARY_USER}/appointments", 200, headers=user)
        hit("GET", f"{API}/users/{CANARY_USER_2}/appointments", 403, headers=user)
        hit("GET", f"{API}/doctors/{CANARY_DOCTOR}", 200, headers=user)
        hit("GET", f"{API}/admin/tables", 403, headers=user)
        tampered = {"Authorization": f"Bearer {token[:-4]}AAAA"}
        hit("GET", f"{API}/users/{CANARY_USER}/appointments", 401, headers=tampered)
        hit("GET", f"{API}/admin/tables", 403, headers=AGENT)
        hit("GET", f"{API}/admin/tables", 200, headers=ADMIN)
        hit("DELETE", doctor, 204, headers=ADMIN)
        if canary_env["HEALTH_API_STORAGE"] == "sqlite":  # the demo set is slow to load on moto
            hit("POST", f"{API}/admin/seed", 200, headers=ADMIN)
            hit("DELETE", f"{API}/admin/seed", 200, headers=ADMIN)
        else:
            hit("DELETE", f"{API}/admin/seed", 200, headers=ADMIN)
        hit("GET", f"/no-such-page/{CANARY_USER}?q={CANARY_QUERY}", 404)

        document = hit("GET", "/openapi.json", 200)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        output = server.stdout() + server.stderr()

    # Every operation of the document was called (its access line names the route template).
    operations = {
        (method.upper(), path.replace("{", "<").replace("}", ">"))
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    if canary_env["HEALTH_API_STORAGE"] != "sqlite":
        operations.discard(("POST", f"{API}/admin/seed"))  # the demo set is slow on moto
    logged = {(r["method"], r["route"]) for r in server.access_lines()}
    assert operations <= logged, sorted(operations - logged)
    assert output.strip(), "nothing was captured: the check below would prove nothing"
    assert "health_api.access" in output
    # No slice of the token (any 20 characters of it) reached the output either.
    leaked = [token[i : i + 20] for i in range(len(token) - 19) if token[i : i + 20] in output]
    assert not leaked, "a slice of the user token leaked into the server's output"
    for canary in (
        CANARY,
        CANARY_USER,
        CANARY_DOCTOR,
        CANARY_MOTIVO,
        CANARY_SESSION,
        CANARY_QUERY,
        CANARY_FIELD,
    ):
        assert canary not in output, f"{canary} leaked into the server's output"
    for line in output.splitlines():
        if line.strip():
            json.loads(line)


@contextlib.contextmanager
def running_server(env: dict[str, str], tmp_path: Path) -> Iterator[procs.Gunicorn]:
    with procs.running(env, tmp_path / "logs") as server:
        yield server
