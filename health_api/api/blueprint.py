"""The project's flask-smorest Blueprint: strict JSON bodies, and responses sent as built.

webargs parses bodies with ``json.loads``, which accepts a lone UTF-16 surrogate (``"\\ud800"``)
that no store can encode; refusing it here makes such a body a 400 at parse time instead of a
failure deep in storage.

A view returns the dictionary of its response, built by ``api/views.py`` in exactly the shape
of the response schema. flask-smorest would dump it through that schema once more on every
request (a copy of every field: ~0.3 ms for a page of 20 slots, as much as the rest of the
request); here the schema documents the response and the dictionary is sent as it is. With
``verify_shapes`` on (the test suite turns it on for every API test), each response is also
dumped through its schema and must come out unchanged, so a view that drifts from its
documented shape fails the tests.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import flask
import flask_smorest
from flask_smorest.utils import (
    resolve_schema_instance,
    set_status_and_headers_in_response,
    unpack_tuple_response,
)
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug import Response

verify_shapes = False


def _lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class StrictJsonParser(FlaskParser):
    """A FlaskParser that refuses JSON strings which are not valid Unicode text."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        data = core.parse_json(req.get_data(cache=True))
        if _lone_surrogate(data):
            # A non-empty doc: webargs reads an empty one as "no body at all".
            raise json.JSONDecodeError("a string holds a lone UTF-16 surrogate", "<body>", 0)
        return data


class ShapeError(AssertionError):
    """A response differs from its documented schema (raised only with ``verify_shapes``)."""


QUERY_PARAMETERS = "_query_parameters"


def query_parameters(view: Callable) -> frozenset[str]:
    """The query parameter names ``view`` takes (none unless it declares a query schema)."""
    return getattr(view, QUERY_PARAMETERS, frozenset())


def current_handler() -> Callable | None:
    """The view method the running request is routed to (a ``MethodView``'s method; HEAD is
    served by GET), or None: no such route or method, or a route that is no ``MethodView``."""
    view = flask.current_app.view_functions.get(flask.request.endpoint)
    return _handler_of(view, flask.request.method) if view is not None else None


@functools.lru_cache(maxsize=512)
def _handler_of(view: Callable, method: str) -> Callable | None:
    # Three request hooks ask on every request (role check, query parameters, idempotency);
    # the answer depends only on the route's view and the method, so it is looked up once.
    view_class = getattr(view, "view_class", None)
    method = method.lower()
    handler = getattr(view_class, method, None)
    if handler is None and method == "head":
        handler = getattr(view_class, "get", None)
    return handler


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict JSON parser and responses sent as built."""

    ARGUMENTS_PARSER = StrictJsonParser()

    def arguments(self, schema: Any, **kwargs: Any) -> Callable:
        """flask-smorest's ``arguments`` with one schema instance per view: given a class,
        webargs would build (and deep-copy the fields of) a new instance on every request.

        A query schema's field names are recorded on the view (``query_parameters``), so that
        one request hook can refuse every parameter an operation does not take."""
        instance = resolve_schema_instance(schema)
        decorator = super().arguments(instance, **kwargs)
        if kwargs.get("location") != "query":
            return decorator
        names = frozenset(
            field.data_key or name for name, field in instance.fields.items() if not field.dump_only
        )

        def record(view: Callable) -> Callable:
            wrapped = decorator(view)
            setattr(wrapped, QUERY_PARAMETERS, query_parameters(view) | names)
            return wrapped

        return record

    def response(self, status_code: int, schema: Any = None, **kwargs: Any) -> Callable:
        """flask-smorest's ``response`` for the documentation; at run time the view's
        dictionary is sent without a second pass through ``schema`` (see the module doc)."""
        documented = super().response(status_code, schema, **kwargs)
        if schema is None:
            return documented
        instance = resolve_schema_instance(schema)

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(*args: Any, **kw: Any) -> Any:
                body, status, headers = unpack_tuple_response(view(*args, **kw))
                if isinstance(body, Response):
                    set_status_and_headers_in_response(body, status, headers)
                    return body
                if verify_shapes:
                    _check_shape(instance, body, view)
                response = flask.jsonify(body)
                set_status_and_headers_in_response(response, status, headers)
                if status is None:
                    response.status_code = status_code
                return response

            wrapper._apidoc = documented(view)._apidoc
            return wrapper

        return decorator


def _check_shape(schema: Any, body: Any, view: Callable) -> None:
    dumped = schema.dump(body)
    if dumped != body:
        raise ShapeError(
            f"{view.__qualname__} answered a body that its schema {type(schema).__name__} "
            f"would change: {body!r} -> {dumped!r}"
        )
