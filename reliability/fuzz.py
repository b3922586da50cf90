"""Fuzz the running service: schemathesis against a real gunicorn over HTTP.

``python -m reliability.fuzz --examples 100`` starts ``gunicorn -c gunicorn.conf.py wsgi:app`` on a
fresh SQLite file (clinic zone Europe/Madrid, so local renderings and DST-aware parsing are
exercised), loads the demo data, reads the OpenAPI document from the server's own
``/openapi.json`` and drives every operation in it with schemathesis: stateless, every built-in
check, positive and negative data, ``--examples`` generated cases per operation, once with the
admin key, once with the agent key (whose admin operations answer 403) and once with a user
token of a patient (an HS256 token of a chatbot issuer the server is configured with), which
must answer every operation with a documented status too: 403 where it names another user or
manages doctors, a 2xx or a rule's 4xx where it acts for itself.

Each operation is a hypothesis test over ``operation.as_strategy(mode)`` for every generation
mode, run with ``case.call_and_validate``. A failing check is recorded, not raised, so every
operation runs its full budget and the figures count every failing example rather than stopping
at the first one. The demo data is loaded again before each operation, so an operation that
deletes doctors or slots does not starve the next one.

Prints one line per (key, operation) and a total; exits 1 on any server error, schema violation,
other check failure or transport error. ``run(...)`` is the same thing as a function (the CI
test calls it with a small bound).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.generation import GenerationMode
from schemathesis.openapi.checks import (
    ContentDeserializationError,
    DiscriminatorMismatch,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    MissingHeaders,
    UndefinedContentType,
    UndefinedStatusCode,
)

from reliability.fuzz_report import OperationResult, Report
from tests.ops import procs

TIMEZONE = "Europe/Madrid"
# The patient whose token is the third credential, and its issuer (a test secret, not a real one).
TOKEN_ISSUER = "fuzz-chatbot"  # noqa: S105 (an issuer name)
TOKEN_SECRET = "fuzz-chatbot-hs256-secret-of-the-test-run-0123456789"  # noqa: S105
TOKEN_USER = "paciente-fuzz"  # noqa: S105 (a user id)
TOKEN_TTL_SECONDS = 86400
# The response does not match the document: its status, media type, headers or body schema.
SCHEMA_VIOLATIONS = (
    JsonSchemaError,
    UndefinedStatusCode,
    UndefinedContentType,
    MissingContentType,
    MalformedMediaType,
    MissingHeaders,
    ContentDeserializationError,
    DiscriminatorMismatch,
)
# gunicorn answers these itself, with a small HTML page, before the app sees the request:
# "URI Too Long" past ``limit_request_line`` (4094 bytes), "Request Header Fields Too Large" past
# ``limit_request_field_size``. Negative data reaches them (a 2048-character cursor of 4-byte
# characters is 24 KiB once percent-encoded); they are counted apart, not as schema violations,
# and a schema-VALID request refused this way is a failure.
HTTP_SERVER_REFUSALS = (414, 431)
# Same configuration as the in-process run (tests/api/test_schemathesis.py), for the same reasons.
CONFIG = {
    "generation": {"deterministic": True, "database": "none"},
    "checks": {
        "enabled": True,
        # A schema-valid request may still break a rule no schema can state: a cursor this
        # server did not issue (400), a slot in the past or a rule with no future slot (422).
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429"]
        },
    },
    # Unknown query parameters are ignored (only unknown body fields are an error, API.md), so
    # an extra one is not negative data; these methods take no body, whose extra fields stay
    # negative data everywhere else.
    "operations": [
        {
            "include-method-regex": "^(GET|DELETE)$",
            "generation": {"allow-extra-parameters": False},
        }
    ],
}


def _refused_by_http_server(response) -> bool:
    """gunicorn's own refusal of a request line or header over its limits (4094 / 8190 bytes):
    the app never saw the request (every app response carries X-Request-ID)."""
    return response.status_code in HTTP_SERVER_REFUSALS and "X-Request-ID" not in response.headers


def _classify(result: OperationResult, group: FailureGroup) -> None:
    kinds = set()
    for failure in group.exceptions:
        if isinstance(failure, ServerError):
            kinds.add("server_errors")
        elif isinstance(failure, SCHEMA_VIOLATIONS):
            kinds.add("schema_violations")
        else:
            kinds.add("other_failures")
    for kind in kinds:  # an example counts once per kind, however many checks it failed
        setattr(result, kind, getattr(result, kind) + 1)
    result.record_failure(str(group))


def fuzz_operation(
    operation, headers: dict[str, str], key: str, examples: int, session: requests.Session
) -> OperationResult:
    """``examples`` generated cases of ``operation`` (every generation mode) with ``headers``."""
    result = OperationResult(key=key, operation=f"{operation.method.upper()} {operation.path}")
    strategy = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])

    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # failures are recorded, never shrunk
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @given(case=strategy)
    def run(case) -> None:
        result.examples += 1
        transport = {"session": session, "headers": headers, "timeout": 30}
        try:
            response = case.call(**transport)
        except requests.RequestException as exc:
            result.transport_errors += 1
            result.record_failure(f"{type(exc).__name__}: {exc}")
            return
        result.statuses[response.status_code] += 1
        if _refused_by_http_server(response):
            if case.meta is not None and case.meta.generation.mode.is_negative:
                result.refused_by_gunicorn += 1
                return
            # A schema-valid request the server cannot take: the document promises too much.
            result.other_failures += 1
            result.record_failure(f"valid request refused with {response.status_code}: {case}")
            return
        try:
            case.validate_response(response, headers=headers, transport_kwargs=transport)
        except FailureGroup as group:
            _classify(result, group)

    started = time.monotonic()
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - a hypothesis error (unsatisfiable...) is a failure
        result.other_failures += 1
        result.record_failure(f"{type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - started
    return result


def fuzz(
    base_url: str,
    keys: dict[str, dict[str, str]],
    examples: int,
    before_each: Callable[[], None] = lambda: None,
    on_result: Callable[[OperationResult], None] = lambda _: None,
) -> Report:
    """Fuzz every operation of ``base_url``'s document once per key in ``keys``."""
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config, timeout=30)
    report = Report(examples_per_operation=examples)
    started = time.monotonic()
    operations = []
    for item in schema.get_all_operations():
        operations.append(item.ok())  # an operation the document cannot describe raises here
    with requests.Session() as session:
        for key, headers in keys.items():
            for operation in operations:
                before_each()
                result = fuzz_operation(operation, headers, key, examples, session)
                report.results.append(result)
                on_result(result)
    report.seconds = time.monotonic() - started
    return report


def run(
    examples: int,
    workdir: Path,
    on_result: Callable[[OperationResult], None] = lambda _: None,
    extra_env: dict[str, str] | None = None,
) -> tuple[Report, procs.Gunicorn]:
    """Start gunicorn on a fresh SQLite file in ``workdir``, seed it, fuzz it with both keys.

    Returns the report and the (stopped) server, whose captured output the caller may read.
    """
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    env = procs.server_env(
        procs.sqlite_env(workdir / "data" / "fuzz.db"),
        HEALTH_API_TIMEZONE=TIMEZONE,
        HEALTH_API_TOKEN_HS256_SECRET=TOKEN_SECRET,
        HEALTH_API_TOKEN_HS256_ISSUER=TOKEN_ISSUER,
        HEALTH_API_TOKEN_MAX_TTL_SECONDS=str(TOKEN_TTL_SECONDS),
        **(extra_env or {}),
    )
    with procs.running(env, workdir / "logs") as server:
        base_url = f"http://127.0.0.1:{server.port}"
        report = fuzz(
            base_url,
            {"admin": procs.ADMIN, "agent": procs.AGENT, "user": user_token_headers()},
            examples,
            before_each=lambda: procs.seed(server.port),
            on_result=on_result,
        )
        alive = procs.call(server.port, "GET", "/healthz")
        assert alive.status == 200, "the server stopped answering after the run"
    return report, server


def user_token_headers() -> dict[str, str]:
    """The bearer header of a patient's token (HS256, the chatbot issuer of the run), valid for
    the longest lifetime the run allows."""
    import jwt

    now = int(time.time())
    claims = {"iss": TOKEN_ISSUER, "sub": TOKEN_USER, "aud": "health-api", "iat": now}
    token = jwt.encode(
        claims | {"exp": now + TOKEN_TTL_SECONDS}, TOKEN_SECRET.encode(), algorithm="HS256"
    )
    return {"Authorization": f"Bearer {token}"}


def _print_result(result: OperationResult) -> None:
    print(result.line(), flush=True)
    for sample in result.samples:
        print("    " + sample.strip().replace("\n", "\n    "), flush=True)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reliability.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--examples", type=int, default=100, help="generated cases per operation and key"
    )
    parser.add_argument("--workdir", type=Path, help="keep the database and logs here")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    with tempfile.TemporaryDirectory(prefix="health-fuzz-") as scratch:
        workdir = args.workdir or Path(scratch)
        print(
            f"schemathesis {schemathesis.__version__}, hypothesis {hypothesis.__version__}: "
            f"{args.examples} examples per operation and key, gunicorn on SQLite ({TIMEZONE})",
            flush=True,
        )
        report, _ = run(args.examples, workdir, on_result=_print_result)
    print(report.summary(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
