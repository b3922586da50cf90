"""The fuzzing run against real gunicorn (``reliability/fuzz.py`` with a CI-sized bound):
schemathesis finds no server error and no schema violation, with either key or a user token, on
every operation of the document, and nothing unexpected is logged."""

from __future__ import annotations

from pathlib import Path

from reliability import fuzz


def test_fuzzing_the_live_server_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path,
) -> None:
    report, server = fuzz.run(examples=5, workdir=tmp_path)

    failing = [result.line() + "\n" + "\n".join(result.samples) for result in report.results]
    failing = [line for line, r in zip(failing, report.results, strict=True) if r.failures]
    assert report.total("server_errors") == 0, failing
    assert report.total("schema_violations") == 0, failing
    assert report.ok, failing
    # Both keys and a user token, every operation of the document (the API.md list plus the
    # service paths, POST /tokens and the JWK Set).
    assert len({r.operation for r in report.results}) == 29
    assert {r.key for r in report.results} == {"admin", "agent", "user"}
    assert report.total("examples") >= 72 * 3
    # No unexpected exception was logged either (the app logs one with its traceback).
    assert "Traceback" not in server.stdout() + server.stderr()
