"""``Idempotency-Key`` on every write of /api/v1 (API.md "Idempotency-Key").

Applied in one place, the app's before/after hooks (``hooks.py``), to every POST, PUT, PATCH and
DELETE whose path is under /api/v1 and matches a route (except a view marked ``ignores_key``:
``POST /tokens``, whose answer is a live token), after authentication, the JSON-only
rule, the rate limit and the query check (their refusals are never stored: the request did not
run). GET and HEAD ignore the header.

The header is an RFC 8941 sf-string (``"abc"``) or a bare token (``abc``, the same key): 1-255
printable ASCII characters. Empty, longer, non-printable, or two header lines (which reach the
app joined by a comma) are a 400. The rules of claiming, replaying and taking over are in
``services/idempotency.py``, driven by the wrapper every surface shares
(``kernel/idempotent.py``); here is what HTTP adds, as its answer codec: which answers are
stored (2xx, and the 404/409/422 problems of the domain rules) and how a replay looks (the
stored status, body and ``Location``, plus ``Idempotent-Replayed: true``), except that session
``data`` and booking ``motivo`` are never stored: a replay reads them as they are now
(``idempotency_answers.py``).

``HEALTH_API_TEST_PAUSE_BEFORE_ANSWER`` (seconds, read once by ``api/kernel.py``) makes a
request pause after its handler ran and before its answer is stored: for the process tests only
(kill -9, a request slower than its lease); production never sets it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from flask import Response, g, request

from health_api.api.auth import caller
from health_api.api.blueprint import current_handler
from health_api.api.kernel import kernel, state
from health_api.api.problems import problem
from health_api.kernel.catalogue import STORED_STATUSES
from health_api.kernel.idempotent import REPLAY, REUSED, RUN, IdempotentCall
from health_api.services import idempotency as rules
from health_api.services import idempotency_answers as answers
from health_api.storage.base import Storage

HEADER = "Idempotency-Key"
_ENVIRON_KEY = "HTTP_IDEMPOTENCY_KEY"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/api/v1/"
MAX_KEY_LENGTH = 255
# Problems of the rules (a taken slot, an unknown id; the catalogue's stored statuses): stored
# like a 2xx. A 404/422 of another type (no such route, a schema error) comes from before the
# handler ran and is not stored.
STORED_PROBLEM_STATUSES = STORED_STATUSES
NOT_DOMAIN_TYPES = frozenset({"about:blank", "/problems/validation"})
REPLAYED = "Idempotent-Replayed"
IGNORES_KEY = "_ignores_idempotency_key"


class InvalidKeyError(ValueError):
    """The header's value is not a valid Idempotency-Key."""


def parse_key(value: str) -> str:
    """The key in a header value: an RFC 8941 sf-string or a bare token; ``InvalidKeyError``
    (with the reason) otherwise."""
    value = value.strip(" \t")
    if value.startswith('"'):
        key = _sf_string(value)
    else:
        if any(c in '",\\' or not "\x21" <= c <= "\x7e" for c in value):
            raise InvalidKeyError("must be a quoted string or a token of printable ASCII, once")
        key = value
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidKeyError(f"must be 1-{MAX_KEY_LENGTH} characters")
    return key


def _sf_string(value: str) -> str:
    chars: list[str] = []
    index = 1
    while index < len(value):
        char = value[index]
        if char == "\\":
            if index + 1 >= len(value) or value[index + 1] not in '"\\':
                raise InvalidKeyError('a quoted key may escape only " and \\')
            chars.append(value[index + 1])
            index += 2
            continue
        if char == '"':
            if index != len(value) - 1:
                raise InvalidKeyError("must be one quoted string (one header line)")
            return "".join(chars)
        if not "\x20" <= char <= "\x7e":
            raise InvalidKeyError("must be printable ASCII")
        chars.append(char)
        index += 1
    raise InvalidKeyError("the quoted string is not closed")


def ignores_key(view: Callable) -> Callable:
    """View decorator: this write ignores ``Idempotency-Key`` (``POST /tokens``: its answer, a
    live token, must never be stored)."""
    setattr(view, IGNORES_KEY, True)
    return view


def ignored(view: Callable | None) -> bool:
    """Whether ``view`` ignores ``Idempotency-Key`` (read by the OpenAPI document too)."""
    return getattr(view, IGNORES_KEY, False)


def applies() -> bool:
    """True for a write to a route under /api/v1 that does not ignore the header."""
    return (
        request.method in WRITE_METHODS
        and request.path.startswith(PREFIX)
        and request.url_rule is not None
        and not ignored(current_handler())
    )


class ResponseCodec:
    """REST's answer codec: a response is stored as status, body, content type and Location
    (without session data and booking reasons) and replayed with ``Idempotent-Replayed``."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def encode(self, response: Response) -> rules.Answer | None:
        """The stored form of a 2xx or of a rule's problem; None for any other answer."""
        if not _storable(response):
            return None
        answer = rules.Answer(
            status=response.status_code,
            body=response.get_data(as_text=True),
            content_type=response.headers.get("Content-Type"),
            location=response.headers.get("Location"),
        )
        # Stored without session data and booking reasons (idempotency_answers.py).
        return answers.forget_answer(answer)

    def failed(self, response: Response) -> bool:
        """A 5xx: a write may have committed, so the retry takes the claim over."""
        return response.status_code >= 500

    def decode(self, answer: rules.Answer) -> Response:
        """The replay: the stored answer with session data and reasons as they are now."""
        return _replay(answers.recall_answer(self.storage, answer))


def before() -> Response | None:
    """Claim the request's key, or answer for it: a replay, a 409 in flight, a 422 reuse, or
    a 400 for a bad header. Nothing when there is no header or the request is not a write."""
    raw = request.environ.get(_ENVIRON_KEY)
    if raw is None or not applies():
        return None
    try:
        key = parse_key(raw)
    except InvalidKeyError as exc:
        return problem(
            400, f"invalid {HEADER} header", kind="validation", errors={HEADER: [str(exc)]}
        )
    running = kernel()
    call = IdempotentCall.of(
        running.storage.idempotency,
        running.settings,
        ResponseCodec(running.storage),
        scope=caller().idempotency_scope,
        key=key,
        fingerprint=rules.fingerprint(
            request.method,
            request.path,
            request.args.items(multi=True),
            request.get_data(cache=True),
        ),
        log_extra={"request_id": g.get("request_id")},
    )
    outcome = call.begin()
    if outcome == RUN:
        g.idempotency = call
        return None
    if outcome == REPLAY:
        return call.replayed()
    if outcome == REUSED:
        return problem(
            422,
            f"this {HEADER} was used for another request; a new intent needs a new key",
            kind="idempotency-key-reused",
        )
    return problem(
        409,
        f"a request with this {HEADER} is still running; retry shortly",
        kind="idempotency-key-in-flight",
        headers={"Retry-After": "1"},
    )


def after(response: Response) -> Response:
    """Store the answer of a request that claimed its key, or release the claim."""
    call: IdempotentCall | None = g.pop("idempotency", None)
    if call is None:
        return response
    pause = state().test_pause
    if pause:
        time.sleep(pause)  # the kill -9 test's window; never set in production
    call.end(response)
    return response


def _storable(response: Response) -> bool:
    status = response.status_code
    if 200 <= status < 300:
        return True
    if status not in STORED_PROBLEM_STATUSES or not response.is_json:
        return False
    try:
        kind = json.loads(response.get_data()).get("type", "about:blank")
    except (ValueError, AttributeError):
        return False
    return kind not in NOT_DOMAIN_TYPES


def _replay(answer: rules.Answer) -> Response:
    response = Response(answer.body, status=answer.status, content_type=answer.content_type)
    if answer.location:
        response.headers["Location"] = answer.location
    response.headers[REPLAYED] = "true"
    return response


def id_seed() -> str | None:
    """The seed for ids the running request generates (see ``services/idempotency.py``), or
    None without a claimed key."""
    call: IdempotentCall | None = g.get("idempotency")
    return None if call is None else call.id_seed()
