"""The id rule (doctor_id, user_id): one pattern for schemas, MCP input schemas and the user
ids a token binds.

ASCII only, and the whole value: with ``\\w`` a look-alike letter (a Cyrillic a) made another
id, and ``$`` also matches before a final newline ("u2\\n" was a second patient). The pattern
keeps its anchors for JSON Schema (OpenAPI, MCP input schemas), where they mean the same.
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[A-Za-z0-9._@:+-]{1,128}$")
ID_MESSAGE = (
    "1-128 ASCII letters, digits or . _ - : @ + and nothing else (no spaces, slashes, accents "
    "or line breaks)"
)


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an id by the rule (a string matching ``ID_PATTERN`` whole)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
