"""An endpoint without tagging (AWS's DynamoDB Local answers ``ListTagsOfResource`` and
``TagResource`` with ``UnknownOperationException``, HTTP 400): tags are a note in the table
report, never a difference and never a reason to refuse.

moto implements tagging, so the DynamoDB Local answer is injected with a ``before-send`` hook.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from health_api.config import Settings, load_settings
from health_api.domain.errors import StorageAccessError
from health_api.storage.dynamodb import admin
from health_api.storage.dynamodb.client import build_client
from health_api.storage.tables import table_specs


class _Body(io.BytesIO):
    def stream(self, **_kwargs):
        yield self.getvalue()


def answer(status: int, error_type: str, message: str):
    """A ``before-send`` hook answering every request it sees with this error."""

    def hook(request, **_kwargs):
        body = json.dumps({"__type": error_type, "Message": message}).encode()
        return AWSResponse(request.url, status, {}, _Body(body))

    return hook


# What DynamoDB Local 3.x sends back for any tagging call.
NO_TAGGING = answer(
    400,
    "com.amazonaws.dynamodb.v20120810#UnknownOperationException",
    "Tagging is not currently supported in DynamoDB Local.",
)


@pytest.fixture
def settings() -> Iterator[Settings]:
    with mock_aws():
        yield load_settings({}).replace(storage="dynamodb")


@pytest.fixture
def tagless(settings):
    """A client on moto whose endpoint, like DynamoDB Local, has no tagging."""
    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    client.meta.events.register("before-send.dynamodb.ListTagsOfResource", NO_TAGGING)
    client.meta.events.register("before-send.dynamodb.TagResource", NO_TAGGING)
    yield client
    client.close()


def test_tags_are_a_note_not_a_difference_where_tagging_is_not_implemented(
    tagless, settings
) -> None:
    admin.create_tables(tagless, table_specs(settings).values(), waiting=admin.Waiting(delay=1))

    reports = admin.validate_tables(tagless, table_specs(settings).values())

    assert all(r.ok for r in reports)
    for report in reports:
        assert report.differences == []
        assert admin.TAGS_NOT_CHECKABLE in report.notes


def test_creating_tables_works_where_tagging_is_not_implemented(tagless, settings) -> None:
    results = admin.create_tables(
        tagless, table_specs(settings).values(), waiting=admin.Waiting(delay=1)
    )

    assert [r.action for r in results] == ["created"] * len(table_specs(settings))
    assert not any(r.failed for r in results)
    assert all(admin.TAGS_NOT_CHECKABLE in r.report.notes for r in results)


def test_missing_tags_are_still_a_difference_where_tagging_works(settings) -> None:
    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    for spec in table_specs(settings).values():
        request = spec.create_table_request()
        del request["Tags"]
        client.create_table(**request)

    reports = admin.validate_tables(client, table_specs(settings).values())

    assert reports[0].differences == [
        "tag Application=HealthAssistantAPI is missing",
        "tag Environment=development is missing",
    ]
    assert admin.TAGS_NOT_CHECKABLE not in reports[0].notes


def test_a_denied_tag_read_is_still_a_refusal(settings) -> None:
    client = build_client(settings.aws_region, settings.dynamodb_endpoint_url)
    spec = table_specs(settings)["doctores"]
    client.create_table(**spec.create_table_request())
    client.meta.events.register(
        "before-send.dynamodb.ListTagsOfResource",
        answer(400, "AccessDeniedException", "not authorized to ListTagsOfResource"),
    )

    with pytest.raises(StorageAccessError) as caught:
        admin.inspect_table(client, spec)

    assert caught.value.kind == "access_denied"
