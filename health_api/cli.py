"""``python -m health_api``: small operator commands (demo data, development keys).

``mcp`` serves the MCP tools (see :mod:`health_api.mcp_entry`); ``seed`` / ``unseed`` load
or remove the demo data set on the configured store; ``keys`` prints
where the development keys are (creating them on first use) and a curl line to try; ``token``
prints a user token of this service (see :mod:`health_api.tokens.cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from health_api.config import ConfigError, load_settings
from health_api.domain.errors import StorageUnavailableError

if TYPE_CHECKING:
    from health_api.services.seed import SeedResult


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["mcp"]:
        from health_api.mcp_entry import main as mcp_main

        return mcp_main(argv[1:])
    if argv[:1] == ["token"]:
        from health_api.tokens.cli import main as token_main

        return token_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m health_api", description=__doc__)
    parser.add_argument("command", choices=("seed", "unseed", "keys", "mcp", "token"))
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="base URL for the example printed by `keys`"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"health_api: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "keys":
        from health_api.keys import resolve_keys

        keys, path = resolve_keys(settings)
        agent = next(k.key for k in keys if k.role == "agent")
        where = f"in {path}" if path else "from HEALTH_API_KEYS"
        print(
            f"API keys ({', '.join(k.role for k in keys)}) are {where}. Try:\n"
            f"  curl -s -H 'Authorization: Bearer {agent}' "
            f"'{args.url}/api/v1/availability?especialidad=cardiologia&limit=3'\n"
            "A user token (a patient's view of the API): python -m health_api token --user ID"
        )
        return 0
    from health_api.services import seed
    from health_api.storage.factory import build_storage

    try:
        storage = build_storage(settings)
        try:
            if args.command == "seed":
                line = seed_line(seed.load_demo(storage, settings.timezone))
            else:
                result = seed.remove_demo(storage)
                line = f"demo data removed: {result.doctors} doctors, {result.slots} slots"
        finally:
            storage.close()
    except StorageUnavailableError as exc:
        print(f"health_api: storage unavailable: {exc}", file=sys.stderr)
        return 3
    print(f"{line} ({settings.storage})")
    return 0


def seed_line(result: SeedResult) -> str:
    """What ``seed`` did, in words: a second run says the data is there, not "0 loaded"."""
    loaded = f"{result.doctors} doctors, {result.slots} slots"
    present = f"{result.present_doctors} doctors, {result.present_slots} slots"
    if not (result.present_doctors or result.present_slots):
        return f"demo data loaded: {loaded}"
    if not (result.doctors or result.slots):
        return f"demo data already present: {present}"
    return f"demo data loaded: {loaded} (already present: {present})"
