"""Whatever a JWT-shaped bearer holds (any JSON in its header and claims, signed by this
service's key or not), verifying it gives a verified token or an ``InvalidTokenError``, never
another exception (a 500 on REST)."""

from __future__ import annotations

import base64
import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from health_api.tokens import InvalidTokenError, VerifiedToken, looks_like_jwt

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
NOW = int(time.time())
CLAIM_VALUES = {
    "iss": st.sampled_from(["health-api", "https://chatbot.example", "x"]) | JSON,
    "sub": st.sampled_from(["u-ana", "a b", ""]) | JSON,
    "aud": st.sampled_from(["health-api", ["health-api", "x"], []]) | JSON,
    "iat": st.sampled_from([NOW, NOW + 3600, str(NOW), float(NOW)]) | JSON,
    "exp": st.sampled_from([NOW + 600, NOW - 600, str(NOW + 600), 1e300]) | JSON,
    "nbf": JSON,
    "scope": st.sampled_from(["sessions", "appointments admin", ["sessions"]]) | JSON,
}
CLAIMS = st.fixed_dictionaries({}, optional=CLAIM_VALUES)
RELAXED = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check(authority, token: str) -> None:
    outcome: VerifiedToken | InvalidTokenError
    try:
        outcome = authority.verify(token)
    except InvalidTokenError as refused:
        outcome = refused
    if isinstance(outcome, InvalidTokenError):
        assert token not in outcome.reason
    else:
        assert outcome.user == outcome.subject


@RELAXED
@given(claims=CLAIMS, kid=st.sampled_from([None, "own"]) | JSON)
def test_any_claims_signed_by_this_service_verify_or_are_refused(
    authority, signing_key, claims, kid
) -> None:
    header = {"alg": "ES256", "kid": signing_key.kid if kid == "own" else kid}
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), signing_key.private)
    token = f"{signing_input}.{_b64(signature)}"

    _check(authority, token)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value) -> str:
    return _b64(json.dumps(value).encode())


@RELAXED
@given(header=JSON, claims=CLAIMS | JSON, signature=st.binary(max_size=80))
def test_any_unsigned_json_is_refused(authority, header, claims, signature) -> None:
    token = ".".join(
        (
            _segment(header),
            _segment(claims),
            _b64(signature),
        )
    )
    assert looks_like_jwt(token)

    _check(authority, token)
