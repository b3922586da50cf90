"""setup_tables.py with table names DynamoDB would refuse: a one-line configuration error naming
the variable, exit 2, before any AWS call (never a botocore trace)."""

from __future__ import annotations

import pytest

import setup_tables


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEALTH_API_TABLE_DOCTORES", "dr"),
        ("HEALTH_API_TABLE_USER_SESSIONS", "x" * 256),
        ("HEALTH_API_TABLE_HORARIOS_DOCTORES", "horarios doctores"),
        ("HEALTH_API_TABLE_PREFIX", "p" * 239),
        ("HEALTH_API_TABLE_PREFIX", "prod:"),
    ],
)
@pytest.mark.parametrize("mode", [[], ["--validate"], ["--print-iam-policy"]])
def test_a_table_name_dynamodb_refuses_exits_two_naming_the_variable(
    monkeypatch, capsys, variable, value, mode
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setattr(
        setup_tables,
        "build_client",
        lambda *a, **k: pytest.fail("no AWS client may be built for a bad table name"),
    )

    code = setup_tables.main([*mode, "--endpoint-url", "http://127.0.0.1:9"])
    captured = capsys.readouterr()

    assert code == setup_tables.EXIT_USAGE == 2
    assert captured.out == ""
    assert captured.err.startswith(f"setup_tables.py: configuration error: {variable}: ")
    assert "DynamoDB table name" in captured.err or "may only hold" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err
