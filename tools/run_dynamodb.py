"""``make run-dynamodb``: the API on AWS's DynamoDB Local, in one command.

Starts DynamoDB Local on ``--dynamodb-port`` (data kept in ``data/dynamodb-local/``, so a second
run finds the tables and bookings of the first), creates the tables with ``setup_tables.py``,
loads the demo data, prints the development keys, then serves the API with gunicorn until Ctrl-C,
and stops DynamoDB Local with it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from tools.dynamodb_local import ROOT, DynamoDBLocal, DynamoDBLocalError


def environment(endpoint: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The service's environment on DynamoDB Local (which accepts any non-empty credentials)."""
    env = dict(os.environ if base is None else base)
    env.update(
        HEALTH_API_STORAGE="dynamodb",
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_REGION=env.get("AWS_REGION", "us-east-1"),
        AWS_ACCESS_KEY_ID=env.get("AWS_ACCESS_KEY_ID", "local"),
        AWS_SECRET_ACCESS_KEY=env.get("AWS_SECRET_ACCESS_KEY", "local"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, cwd=ROOT, env=env, check=True)  # noqa: S603 - our own commands


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; the exit code of gunicorn (or 1 when start-up failed)."""
    parser = argparse.ArgumentParser(prog="python -m tools.run_dynamodb", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dynamodb-port", type=int, default=8002)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "dynamodb-local")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    server = DynamoDBLocal(args.dynamodb_port, log_path=args.data / "server.log", db_path=args.data)
    try:
        server.start()
    except DynamoDBLocalError as exc:
        print(f"run-dynamodb: {exc}", file=sys.stderr)
        return 1
    print(f"DynamoDB Local on {server.url} (data in {args.data})", flush=True)
    env = environment(server.url)
    python = sys.executable
    api: subprocess.Popen | None = None
    # SIGTERM (e.g. from a process manager) ends the run like Ctrl-C: both servers stop.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        _run([python, "setup_tables.py"], env)
        _run([python, "-m", "health_api", "seed"], env)
        _run([python, "-m", "health_api", "keys", "--url", f"http://{args.host}:{args.port}"], env)
        print(f"Health Assistant API on http://{args.host}:{args.port}", flush=True)
        gunicorn = Path(python).with_name("gunicorn")
        env.update(HOST=args.host, PORT=str(args.port))
        api = subprocess.Popen(  # noqa: S603 - our own command
            [str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env
        )
        return api.wait()
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        if api is not None and api.poll() is None:
            api.terminate()  # gunicorn's graceful stop
            api.wait(timeout=60)
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
