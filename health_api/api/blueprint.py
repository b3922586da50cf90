"""The project's flask-smorest Blueprint: strict JSON bodies.

webargs parses bodies with ``json.loads``, which accepts a lone UTF-16 surrogate (``"\\ud800"``)
that no store can encode; refusing it here makes such a body a 400 at parse time instead of a
failure deep in storage.
"""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


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


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict JSON parser."""

    ARGUMENTS_PARSER = StrictJsonParser()
