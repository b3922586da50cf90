"""Output schemas: the REST response shapes, converted from the same marshmallow schemas the
OpenAPI document is built from (apispec, in its OpenAPI 3.1 form, which is JSON Schema 2020-12),
so a tool's ``structuredContent`` and the REST body can never drift apart."""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

_COMPONENTS = "#/components/schemas/"

# DELETE /holds/{hold_id} answers 204 without a body; its tool says what it did.
RELEASED = {
    "type": "object",
    "properties": {
        "hold_id": {"type": "string"},
        "released": {
            "type": "boolean",
            "description": "Always true: the hold is gone (also when it already was).",
        },
    },
    "required": ["hold_id", "released"],
    "additionalProperties": False,
}


@functools.cache
def output_schema(schema: type[Schema]) -> dict[str, Any]:
    """The JSON Schema of ``schema``'s documents: self-contained (nested shapes in ``$defs``)."""
    spec = APISpec("health-api", "1", "3.1.0", plugins=[MarshmallowPlugin()])
    name = schema.__name__
    spec.components.schema(name, schema=schema)
    components = _json_schema(spec.to_dict()["components"]["schemas"])
    root = components.pop(name)
    if components:
        root["$defs"] = components
    return root


def _json_schema(node: Any) -> Any:
    """OpenAPI's spellings as JSON Schema: ``$ref``s into ``$defs``, ``example`` as
    ``examples``."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_COMPONENTS):
            converted[key] = "#/$defs/" + value[len(_COMPONENTS) :]
        elif key == "example":
            converted["examples"] = [value]
        else:
            converted[key] = _json_schema(value)
    return converted
