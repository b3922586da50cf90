"""Limits shared by the layers that check them: the HTTP schemas, the MCP arguments and the
services (stdlib only, so that ``schemas/`` need not import ``services/`` to know them)."""

from __future__ import annotations

# A hold_id's longest spelling (health_api.signing packs any doctor id to fit it).
MAX_HOLD_ID_LENGTH = 512
