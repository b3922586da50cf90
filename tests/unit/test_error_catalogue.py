"""The error catalogue (kernel/catalogue.py): every domain error has its entry, and REST's
problem document and MCP's failure are both rendered from that one entry."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest
from flask import Flask

from health_api.api import kernel as app_kernel
from health_api.api.problems import domain_problem
from health_api.config import ApiKey, load_settings
from health_api.domain import errors
from health_api.domain.models import Slot
from health_api.kernel import catalogue
from health_api.kernel.bootstrap import build_kernel
from health_api.mcp.results import PROBLEM_META, domain_failure

# Errors that answer as their parent (no entry of their own, on purpose).
AS_PARENT = {errors.StorageAccessError: errors.StorageUnavailableError}
DOMAIN_ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.HealthApiError)
]


def example(cls: type[errors.HealthApiError]) -> errors.HealthApiError:
    """An instance of ``cls`` with the arguments its constructor needs."""
    if cls is errors.RescheduleError:
        return cls("to_taken", "the new slot is taken")
    if cls is errors.DoctorDeletionStoppedError:
        return cls("a future slot is booked", slots_eliminados=2)
    if cls is errors.StorageRequestError:
        return cls("PutItem", "ValidationException")
    if cls is errors.StorageAccessError:
        return cls("throttled", "throttled")
    if cls is errors.SlotTakenError:
        taken = cls()
        taken.alternativas = [Slot("doc-ana", "2030-03-04T09:30:00Z")]
        return taken
    return cls("something is wrong")


@pytest.fixture(scope="module")
def app() -> Flask:
    settings = load_settings({}).replace(
        environment="test", api_keys=(ApiKey("agent", "a" * 24),), key_id_secret="k" * 32
    )
    flask_app = Flask(__name__)
    app_kernel.install(flask_app, build_kernel(settings, None, keys=(settings.api_keys, None)))
    return flask_app


def rest(app: Flask, exc: errors.HealthApiError) -> tuple[dict, dict]:
    with app.test_request_context():
        response = domain_problem(exc)
        return json.loads(response.get_data()), dict(response.headers)


def mcp(app: Flask, exc: errors.HealthApiError) -> tuple[dict, str]:
    result = domain_failure(exc, app_kernel.kernel_of(app).zone)
    return result.meta[PROBLEM_META], result.content[0].text


def test_every_domain_error_class_has_an_entry_of_its_own_or_answers_as_its_parent() -> None:
    assert len(DOMAIN_ERRORS) >= 16
    for cls in DOMAIN_ERRORS:
        owner = AS_PARENT.get(cls, cls)
        assert owner in catalogue.CATALOGUE, cls.__name__
        assert catalogue.entry_for(cls) is catalogue.CATALOGUE[owner]


def test_an_error_outside_the_domain_is_internal() -> None:
    assert catalogue.entry_for(RuntimeError("boom")) is catalogue.INTERNAL


def test_the_stored_statuses_are_those_of_the_rules_problems() -> None:
    assert frozenset({404, 409, 422}) == catalogue.STORED_STATUSES


@pytest.mark.parametrize("cls", DOMAIN_ERRORS, ids=lambda cls: cls.__name__)
def test_rest_and_mcp_render_the_same_entry(app, cls) -> None:
    exc = example(cls)
    entry = catalogue.entry_for(exc)

    body, headers = rest(app, exc)
    problem, text = mcp(app, exc)

    if entry.internal:
        assert (body["status"], body["type"]) == (500, "about:blank")
        assert (problem["status"], problem["type"]) == (500, "/problems/internal")
        return
    assert body["status"] == problem["status"] == entry.status
    assert body["type"] == problem["type"] == entry.type
    assert body["title"] == entry.title
    assert body["detail"] == entry.detail(exc)
    fields = entry.fields(exc, app_kernel.kernel_of(app).zone)
    assert {k: body[k] for k in fields} == {k: problem[k] for k in fields} == fields
    assert text.startswith(entry.text(exc))
    assert entry.advice(exc, fields).splitlines()[0] in text
    if entry.retry_after is not None:
        assert headers["Retry-After"] == str(problem["retry_after"]) == str(exc.retry_after)


def test_changing_an_entry_changes_both_surfaces(app, monkeypatch) -> None:
    changed = dataclasses.replace(
        catalogue.CATALOGUE[errors.HoldLimitError], status=429, kind="too-many-holds"
    )
    monkeypatch.setitem(catalogue.CATALOGUE, errors.HoldLimitError, changed)
    exc = errors.HoldLimitError()

    body, _ = rest(app, exc)
    problem, _ = mcp(app, exc)

    assert (body["status"], body["type"]) == (429, "/problems/too-many-holds")
    assert (problem["status"], problem["type"]) == (429, "/problems/too-many-holds")
