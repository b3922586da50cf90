"""setup_tables.py through ``main(argv)`` on an endpoint without tagging (as AWS's DynamoDB Local
ships: ``ListTagsOfResource`` answers ``UnknownOperationException``): create and ``--validate``
exit 0, with tags as a note. The real process on DynamoDB Local is in
``test_setup_tables_server.py``."""

from __future__ import annotations

import json

import pytest

import setup_tables
from health_api.storage.dynamodb.admin import TAGS_NOT_CHECKABLE
from health_api.storage.tables import LOGICAL_TABLES
from tests.dynamodb.test_tagless_endpoint import NO_TAGGING


@pytest.fixture
def tagless_cli(mock_dynamodb, monkeypatch):
    """setup_tables.main whose client, like DynamoDB Local's, gets no tagging."""
    real_build = setup_tables.build_client

    def build(*args, **kwargs):
        client = real_build(*args, **kwargs)
        client.meta.events.register("before-send.dynamodb.ListTagsOfResource", NO_TAGGING)
        client.meta.events.register("before-send.dynamodb.TagResource", NO_TAGGING)
        return client

    monkeypatch.setattr(setup_tables, "build_client", build)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = setup_tables.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_create_then_validate_exit_zero_with_tags_as_a_note(tagless_cli, capsys) -> None:
    created = run(capsys, "--wait-delay", "1")
    validated = run(capsys, "--validate")

    assert created[0] == 0, created[2]
    assert created[1].count("created") == len(LOGICAL_TABLES)
    code, out, err = validated
    assert code == 0, err
    assert f"{len(LOGICAL_TABLES)} match, 0 differ" in out
    assert "DIFF" not in out
    assert out.count("note   ") == len(LOGICAL_TABLES)
    assert f"doctores: {TAGS_NOT_CHECKABLE}" in out


def test_validate_json_lists_the_note_and_no_difference(tagless_cli, capsys) -> None:
    run(capsys, "--wait-delay", "1")

    code, out, _ = run(capsys, "--validate", "--json")

    report = json.loads(out)
    assert code == 0
    assert report["ok"] is True
    for table in report["tables"]:
        assert table["differences"] == []
        assert table["notes"] == [TAGS_NOT_CHECKABLE]
