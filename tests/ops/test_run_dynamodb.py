"""``make run-dynamodb`` (``python -m tools.run_dynamodb``): one command starts DynamoDB Local,
creates the tables, loads the demo data and serves the API on it; SIGTERM stops both servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from health_api.storage.tables import LOGICAL_TABLES
from tests.ops import procs
from tools.dynamodb_local import answers

DEMO_SPECIALTY = "cardiologia"


def _listening(port: int) -> bool:
    try:
        return procs.call(port, "GET", "/readyz").status == 200
    except OSError:
        return False


def test_one_command_serves_the_demo_on_dynamodb_local_and_stops_cleanly(tmp_path: Path) -> None:
    port, dynamodb_port = procs.free_port(), procs.free_port()
    env = {**os.environ, "HEALTH_API_KEYS": f"admin={procs.ADMIN_KEY},agent={procs.AGENT_KEY}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.run_dynamodb",
            "--port",
            str(port),
            "--dynamodb-port",
            str(dynamodb_port),
            "--data",
            str(tmp_path / "ddb"),
        ],
        cwd=procs.ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        procs.wait_for(lambda: _listening(port), 90, "the API on DynamoDB Local")
        ready = procs.call(port, "GET", "/readyz").body
        offered = procs.call(
            port,
            "GET",
            f"/api/v1/availability?especialidad={DEMO_SPECIALTY}&limit=3",
            headers=procs.AGENT,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=90)

    assert len(ready["tables"]) == len(LOGICAL_TABLES), json.dumps(ready)
    assert all(t["ok"] for t in ready["tables"]), json.dumps(ready)
    assert offered.status == 200
    assert len(offered.body["items"]) == 3
    assert "demo data loaded" in output
    assert proc.returncode == 0, output[-2000:]
    assert not _listening(port), "the API stopped"
    assert not answers(f"http://127.0.0.1:{dynamodb_port}"), "DynamoDB Local stopped with it"
