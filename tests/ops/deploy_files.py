"""What the tests of the container and deployment files share: where the files are, the
commands and variables they must name, compose's interpolation, gunicorn.conf.py's values under
an environment, and the linters found on PATH or in the venv."""

from __future__ import annotations

import dataclasses
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from health_api.config import Settings, env_names

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "kubernetes"

GUNICORN_CMD = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
# A container's server must listen beyond its own loopback to be reachable at all.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
MCP_CMD = ["python", "-m", "health_api", "mcp", "--host", ALL_INTERFACES]
SECRET_VARIABLES = {
    "HEALTH_API_KEYS",
    "HEALTH_API_CURSOR_SECRET",
    "HEALTH_API_KEY_ID_SECRET",
    "AWS_SECRET_ACCESS_KEY",
}
CREDENTIAL_VARIABLES = SECRET_VARIABLES | {"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"}
# Every variable the service reads (DESIGN.md / README "Configuration"), plus gunicorn's.
SETTINGS_VARIABLES = {name for f in dataclasses.fields(Settings) for name in env_names(f.name)}


def tool(name: str) -> str | None:
    """An installed command: on PATH or beside this interpreter (the project's venv)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


def run_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: Any, variables: dict[str, str]) -> str:
    """Compose's ${NAME:-default} from ``variables`` (what .env would give), then $$ -> $."""
    text = str(value)
    text = INTERPOLATION.sub(lambda m: variables.get(m.group(1)) or (m.group(2) or ""), text)
    return text.replace("$$", "$")


def service_env(compose: dict, name: str, variables: dict[str, str] | None = None) -> dict:
    env = compose["services"][name].get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {key: interpolate(value, variables or {}) for key, value in env.items()}


def gunicorn_settings(environ: dict[str, str]) -> dict[str, Any]:
    """gunicorn.conf.py's values under ``environ`` (it reads os.environ at import)."""
    saved = dict(os.environ)
    try:
        os.environ.update(environ)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
