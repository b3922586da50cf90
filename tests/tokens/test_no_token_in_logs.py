"""No token in any log line: a realistic REST sequence with user tokens (valid, expired, badly
signed, another user's), every record formatted as the JSON line it becomes, then searched for
each token, any 20-character slice of one, and the full user ids. A token caller's access line
says role "user" and a key_id that is a 12-hex HMAC of its issuer and subject."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from health_api import logs
from tests.api.conftest import ADMIN, KEY_ID_SECRET
from tests.api.helpers import MON_0900, MON_0930, add_slots, create_doctor, slot_url

ANA = "u-ana-7f3c9e21-patient"
BRUNO = "u-bruno-41d8a0c2-patient"


def _slices(text: str, width: int = 20) -> set[str]:
    return {text[i : i + width] for i in range(len(text) - width + 1)}


@pytest.fixture
def lines(token_app, forge, caplog, capfd) -> tuple[list[str], list[dict], dict]:
    """The lines the sequence logged (as written to stdout/stderr, and every record any
    logger produced, formatted as JSON), its access lines parsed, and the tokens it sent."""
    client = token_app.test_client()
    now = int(time.time())
    tokens = {
        "ana": forge(sub=ANA),
        "ana-again": forge(sub=ANA, iat=now - 5),  # another token of the same user
        "bruno": forge(sub=BRUNO),
        "expired": forge(sub=ANA, iat=now - 900, exp=now - 120),
        "bad-signature": forge(sub=ANA, key=ec.generate_private_key(ec.SECP256R1())),
    }

    def bearer(name: str) -> dict:
        return {"Authorization": f"Bearer {tokens[name]}"}

    capfd.readouterr()
    with caplog.at_level(logging.DEBUG):
        create_doctor(client)
        add_slots(client, "doc-ana", MON_0900, MON_0930)
        client.get("/api/v1/doctors", headers=bearer("ana"))
        client.put(
            slot_url("doc-ana", MON_0900, "booking"),
            json={"user_id": ANA, "motivo": "dolor torácico"},
            headers=bearer("ana"),
        )
        client.get(f"/api/v1/users/{ANA}/appointments", headers=bearer("ana-again"))
        client.put(f"/api/v1/sessions/{ANA}", json={"data": {"paso": 2}}, headers=bearer("ana"))
        client.get(f"/api/v1/sessions/{ANA}", headers=bearer("bruno"))  # another user's: 403
        client.put(
            slot_url("doc-ana", MON_0930, "booking"),
            json={"user_id": ANA},
            headers=bearer("bruno"),
        )
        client.get("/api/v1/doctors", headers=bearer("expired"))
        client.get(f"/api/v1/sessions/{ANA}", headers=bearer("bad-signature"))
        client.get("/api/v1/doctors", headers=ADMIN)
    written = capfd.readouterr()
    emitted = [line for line in (written.out + written.err).splitlines() if line.strip()]
    formatter = logs.Formatter("test")
    formatted = [formatter.format(r) for r in caplog.records]
    # The access lines as written, or (when an earlier test left the handler writing to a
    # stream capfd does not see) as caplog formatted them: one per request, in order.
    parsed = [json.loads(line) for line in emitted + formatted if line.startswith("{")]
    access, seen = [], set()
    for line in parsed:
        if line.get("logger") == logs.ACCESS_LOGGER and line["request_id"] not in seen:
            seen.add(line["request_id"])
            access.append(line)
    return emitted + formatted, access, tokens


def test_no_line_holds_a_token_a_slice_of_one_or_a_full_user_id(lines) -> None:
    text, _access, tokens = lines
    secrets = {ANA, BRUNO, "dolor torácico", "paso"}
    for token in tokens.values():
        secrets |= {token} | _slices(token)

    leaked = [(s, line) for line in text for s in secrets if s in line]

    assert leaked == []
    assert len(text) >= 11  # every request logged its line


def _hmac_of(subject: str) -> str:
    message = f"health-api\n{subject}".encode()
    return hmac.new(KEY_ID_SECRET.encode(), message, hashlib.sha256).hexdigest()[:12]


def test_a_token_callers_lines_say_role_user_and_the_hmac_of_its_subject(lines) -> None:
    _text, access, _tokens = lines
    statuses = [(line["status"], line["role"], line["key_id"]) for line in access]

    ana, bruno = _hmac_of(ANA), _hmac_of(BRUNO)
    assert statuses[2:] == [
        (200, "user", ana),  # GET doctors
        (201, "user", ana),  # own booking
        (200, "user", ana),  # another token of the same user: the same key_id
        (200, "user", ana),  # own session
        (403, "user", bruno),  # another user's session
        (403, "user", bruno),  # a booking for another user
        (401, None, None),  # expired
        (401, None, None),  # bad signature
        (200, "admin", statuses[-1][2]),
    ]
    assert ana != bruno
    assert all(re.fullmatch(r"[0-9a-f]{12}", k) for k in (ana, bruno))
