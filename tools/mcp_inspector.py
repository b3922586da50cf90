"""The official MCP Inspector CLI (npm ``@modelcontextprotocol/inspector``), for the tests and
for anyone who wants to drive the MCP server with the client users run: install it, run it.

The version is pinned (0.18.0, with every dependency pinned and integrity-checked by
``tools/mcp-inspector/package-lock.json``) and installed with ``npm ci`` into the cache outside
the repository's tracked files (``.cache/mcp-inspector/``, git-ignored); an installed copy is
reused, so tests run offline once it is there. 0.18.0 is the last release whose CLI runs on the
Node these machines have (its ``package.json`` asks for Node 22, but the CLI runs on Node 18 and
20, with a warning from npm at install time); later releases need Node 22, and a bare ``npx
@modelcontextprotocol/inspector`` on Node 20 silently picks 0.15, which has no ``--header``.
``install`` gets Debian's ``nodejs`` and ``npm`` (bookworm: Node 18.20) when ``node`` is missing
or older than 18.

    python -m tools.mcp_inspector install                  # idempotent; prints the CLI's path
    python -m tools.mcp_inspector run --cli http://127.0.0.1:8001/mcp --transport http \\
        --header "Authorization: Bearer <agent key>" --method tools/list
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "@modelcontextprotocol/inspector"
VERSION = "0.18.0"
MIN_NODE = 18
ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tools" / "mcp-inspector"  # package.json and package-lock.json
CACHE = Path(os.environ.get("HEALTH_API_MCP_INSPECTOR_CACHE", ROOT / ".cache" / "mcp-inspector"))
CLI = Path("node_modules", *PACKAGE.split("/"), "cli", "build", "cli.js")


class InspectorError(RuntimeError):
    """The Inspector could not be installed; the message says why."""


def install_dir() -> Path:
    """Where this lock file's packages are installed (a new lock, a new directory)."""
    digest = hashlib.sha256((MANIFEST / "package-lock.json").read_bytes()).hexdigest()
    return CACHE / f"inspector-{VERSION}-{digest[:12]}"


def find_cli(base: Path | None = None) -> Path | None:
    """The Inspector's ``cli.js`` when installed, else None."""
    cli = (base or install_dir()) / CLI
    return cli if cli.is_file() else None


def node_version(node: str) -> int | None:
    """The major version of the ``node`` at ``node``, or None when it does not answer."""
    try:
        probe = subprocess.run(  # noqa: S603 - a fixed command
            [node, "--version"], capture_output=True, text=True, check=False, timeout=30
        )
    except OSError:
        return None
    head = probe.stdout.strip().lstrip("v").split(".")[0]
    return int(head) if head.isdigit() else None


def node_command() -> str | None:
    """A ``node`` on PATH of version ``MIN_NODE`` or later, or None."""
    node = shutil.which("node")
    if node is None:
        return None
    version = node_version(node)
    return node if version is not None and version >= MIN_NODE else None


def _apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages (a fresh CI machine runs as root with apt-get)."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise InspectorError(f"{why}; install it (e.g. apt-get install {' '.join(packages)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        subprocess.run(command, check=True, env=env)  # noqa: S603 - fixed commands


def ensure_node() -> str:
    """The path of Node ``MIN_NODE``+, installing Debian's when missing (needs root, apt-get)."""
    node = node_command()
    if node is None:
        _apt_install(["nodejs"], f"the MCP Inspector needs Node {MIN_NODE} or later")
        node = node_command()
    if node is None:
        raise InspectorError(f"nodejs was installed but no node {MIN_NODE}+ is on PATH")
    return node


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        _apt_install(["npm"], "npm is needed to install the MCP Inspector")
        npm = shutil.which("npm")
    if npm is None:
        raise InspectorError("npm was installed but is not on PATH")
    return npm


def install() -> Path:
    """Install the pinned Inspector into the cache (once) and return its ``cli.js``."""
    cli = find_cli()
    if cli is not None:
        return cli
    ensure_node()
    npm = _npm()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        draft = Path(scratch) / "inspector"
        draft.mkdir()
        for name in ("package.json", "package-lock.json"):
            shutil.copy(MANIFEST / name, draft / name)
        # ci: exactly the lock's versions, each checked against its integrity hash; no
        # package of the lock has an install script, so none is run.
        subprocess.run(  # noqa: S603 - a fixed command
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=draft,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if find_cli(draft) is None:
            raise InspectorError(f"{PACKAGE}@{VERSION} has no {CLI}")
        # Rename last: a half-installed copy is never taken for an installed one.
        draft.rename(install_dir())
    cli = find_cli()
    assert cli is not None
    return cli


def command() -> list[str]:
    """The command line that runs the Inspector (append its arguments), installing it first."""
    return [ensure_node(), str(install())]


def main(argv: list[str] | None = None) -> int:
    """``install`` or ``run``; see the module docstring."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m tools.mcp_inspector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="get Node and the pinned Inspector (idempotent)")
    commands.add_parser("run", help="run the Inspector with the arguments that follow")
    # Everything after ``run`` is the Inspector's (its options would confuse argparse).
    args = parser.parse_args(argv[:1])
    try:
        line = command()
    except (InspectorError, subprocess.CalledProcessError) as exc:
        print(f"mcp_inspector: {exc}", file=sys.stderr)
        return 1
    if args.command == "install":
        print(f"MCP Inspector {PACKAGE}@{VERSION}: {line[1]} (node: {line[0]})")
        return 0
    os.execv(line[0], [*line, *argv[1:]])  # noqa: S606 - our own command line
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
