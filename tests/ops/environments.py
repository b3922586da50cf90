"""The process environment of a real server under test: the test keys, the storage variables
of SQLite or DynamoDB, and ``setup_tables.py`` run with the same environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "ops-admin-key-0123456789abcdef"
AGENT_KEY = "ops-agent-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
AGENT = {"Authorization": f"Bearer {AGENT_KEY}"}
KEY_ID_SECRET = "ops-key-id-secret-0123456789abcdef"


def sqlite_env(db_path: Path) -> dict[str, str]:
    """The storage variables for the embedded store at ``db_path``."""
    return {"HEALTH_API_STORAGE": "sqlite", "HEALTH_API_SQLITE_PATH": str(db_path)}


def dynamodb_env(endpoint: str, prefix: str) -> dict[str, str]:
    """The storage variables for DynamoDB at ``endpoint`` (DynamoDB Local or moto's server)
    under table ``prefix``."""
    return {
        "HEALTH_API_STORAGE": "dynamodb",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "HEALTH_API_TABLE_PREFIX": prefix,
    }


def server_env(storage: dict[str, str], **extra: str) -> dict[str, str]:
    """The process environment for gunicorn (and the CLI) on ``storage``: the test's own
    environment (fake AWS credentials from the autouse fixture) plus the service settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HEALTH_API_", "GUNICORN_", "AWS_ENDPOINT_URL"))
        and name not in {"DYNAMODB_ENDPOINT_URL", "PORT", "HOST", "LOG_LEVEL"}
    }
    env.update(
        HOST="127.0.0.1",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="4",
        GUNICORN_GRACEFUL_TIMEOUT="20",
        HEALTH_API_KEYS=f"admin={ADMIN_KEY},agent={AGENT_KEY}",
        HEALTH_API_RATE_LIMIT="100000/minute",
        HEALTH_API_AUTH_FAILURE_LIMIT="100000/minute",
        HEALTH_API_KEY_ID_SECRET=KEY_ID_SECRET,
        ENVIRONMENT="test",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(storage)
    env.update(extra)
    return env


def create_tables(env: dict[str, str]) -> None:
    """``python setup_tables.py --endpoint-url ...`` with the server's environment."""
    result = subprocess.run(
        [
            sys.executable,
            "setup_tables.py",
            "--endpoint-url",
            env["AWS_ENDPOINT_URL_DYNAMODB"],
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
