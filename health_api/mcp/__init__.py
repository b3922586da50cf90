"""The agent surface: the same services offered to LLM agents as MCP tools.

Built on the official ``mcp`` SDK's high-level server (``MCPServer``), beside ``api/``: tools
call services directly (never HTTP to ourselves), never Flask and never a storage backend by
name. ``python -m health_api mcp`` serves Streamable HTTP at ``/mcp``; ``--stdio`` serves stdio.
"""
