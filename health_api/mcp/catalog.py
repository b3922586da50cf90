"""Building a tool: the SDK's ``Tool`` from a function, with the REST output schema and the
annotations every tool here shares (``openWorldHint: false``: only this clinic's data)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

READ = {"read_only_hint": True, "open_world_hint": False}
# MCP's defaults for a tool that is not read-only are destructive and not idempotent: every
# write here says what it is.
WRITE = {"read_only_hint": False, "destructive_hint": False, "open_world_hint": False}


def make_tool(
    fn: Callable[..., Any],
    *,
    title: str,
    output: dict[str, Any],
    hints: dict[str, bool],
    renamed: dict[str, str] | None = None,
) -> Tool:
    """The tool for ``fn``: named after it, described by its docstring, answering ``output``.

    ``renamed`` maps argument names that cannot be Python parameters (``from``) to the
    parameter that receives them (``from_``, declared with that alias).
    """
    tool = Tool.from_function(
        fn,
        title=title,
        # Without the docstring's indentation: the text is read by a model, not a human editor.
        description=inspect.cleandoc(fn.__doc__ or ""),
        annotations=ToolAnnotations(**hints),
        structured_output=False,
    )
    # An argument the tool does not know is refused by name (an agent that passes ``motivo`` to
    # hold_slot must learn it was not kept), and the schema says so (additionalProperties).
    model = tool.fn_metadata.arg_model
    model.model_config["extra"] = "forbid"
    model.model_rebuild(force=True)
    tool.parameters = model.model_json_schema(by_alias=True)
    # Set before the schema is first read (``Tool.output_schema`` caches it); the results are
    # built by the tools themselves (``results.success``) from the same REST shapes.
    tool.fn_metadata.output_schema = output
    if renamed:
        tool.fn = _renaming(fn, renamed)
    return tool


def _renaming(fn: Callable[..., Any], renamed: dict[str, str]) -> Callable[..., Any]:
    # The SDK calls a tool with its arguments by their schema names (aliases included).
    def call(**kwargs: Any) -> Any:
        for outer, inner in renamed.items():
            if outer in kwargs:
                kwargs[inner] = kwargs.pop(outer)
        return fn(**kwargs)

    return call
