"""Development under gunicorn: the master creates the development keys and key-id secret before
any worker starts and says once where the keys are; every worker uses the same ones and stays
quiet about them (each used to repeat the warning)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from tests.ops import procs
from tests.ops.procs import call, running

WARNING = "development keys (admin, agent) are in a local file"


def app_loaded(pid: int) -> bool:
    """True once worker ``pid`` has opened its SQLite store (the app is built; its start-up
    lines are written). gunicorn's master never imports sqlite3."""
    try:
        return "_sqlite3" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def test_the_development_keys_warning_is_said_once_for_every_worker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    env = procs.server_env(procs.sqlite_env(data / "h.db"), ENVIRONMENT="development")
    del env["HEALTH_API_KEYS"], env["HEALTH_API_KEY_ID_SECRET"]

    with running(env, tmp_path / "logs") as server:
        procs.wait_for(
            lambda: len(pids := server.worker_pids()) == 2 and all(map(app_loaded, pids)),
            30,
            "both workers to build the app",
        )
        agent = json.loads((data / "dev-keys.json").read_text())["agent"]
        served = call(
            server.port, "GET", "/api/v1/doctors", headers={"Authorization": f"Bearer {agent}"}
        )
        said = [json.loads(line) for line in server.log_lines() if WARNING in line]

    assert served.status == 200
    assert len(said) == 1, said
    assert said[0]["keys_file"] == str(data / "dev-keys.json")
    for name in ("dev-keys.json", "key-id-secret"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
