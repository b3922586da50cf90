"""What a storm run is (``Config``) and the server it runs on: gunicorn with several workers
on SQLite, or on DynamoDB (AWS's DynamoDB Local, moto's serialised server, or a running
endpoint)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.ops.procs import Gunicorn, create_tables, dynamodb_env, running, server_env, sqlite_env
from tests.reliability.servers import serial_moto_process
from tools.dynamodb_local import DynamoDBLocal


@dataclass
class Config:
    """What to run; the defaults are the full-size figures of issue 6."""

    backend: str = "sqlite"
    clients: int = 100
    rounds: int = 20
    workers: int = 2
    threads: int = 16
    churn_clients: int = 50
    churn_iterations: int = 20
    reschedule_users: int = 20
    reschedule_free: int = 2
    reschedule_iterations: int = 20
    seed: int = 6
    workdir: Path | None = None
    dynamodb_engine: str = "dynamodb-local"  # or "moto" (its server, one request at a time)
    dynamodb_endpoint: str | None = None  # a DynamoDB Local already running (the test session's)


@contextlib.contextmanager
def serving(config: Config, workdir: Path) -> Iterator[Gunicorn]:
    """gunicorn (``config.workers`` x ``config.threads``) on the chosen backend."""
    extra = {
        "GUNICORN_WORKERS": str(config.workers),
        "GUNICORN_THREADS": str(config.threads),
        # The storm's clients open their connections before the barrier: keep them open.
        "GUNICORN_KEEPALIVE": "30",
        "LOG_LEVEL": "WARNING",
    }
    if config.backend == "sqlite":
        env = server_env(sqlite_env(workdir / "storm.db"), **extra)
        with running(env, workdir) as server:
            yield server
    elif config.backend == "dynamodb":
        with _dynamodb_endpoint(config, workdir) as url:
            env = server_env(dynamodb_env(url, f"storm{uuid.uuid4().hex[:6]}-"), **extra)
            # Fake credentials only: nothing from the developer's own AWS set-up.
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
                env.pop(name, None)
            env.update(
                AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
                AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-config"),
                AWS_EC2_METADATA_DISABLED="true",
            )
            create_tables(env)
            with running(env, workdir) as server:
                yield server
    else:
        raise ValueError(f"unknown backend {config.backend!r}")


@contextlib.contextmanager
def _dynamodb_endpoint(config: Config, workdir: Path) -> Iterator[str]:
    """The URL of the DynamoDB engine the storm runs on (started here unless given)."""
    if config.dynamodb_endpoint:
        yield config.dynamodb_endpoint
    elif config.dynamodb_engine == "moto":
        with serial_moto_process() as url:
            yield url
    else:
        with DynamoDBLocal(log_path=workdir / "dynamodb-local.log") as server:
            yield server.url
