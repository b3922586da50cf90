"""Servers started as real processes: ``gunicorn -c gunicorn.conf.py wsgi:app`` on a free
port with its output in files (``Gunicorn``, ``running``), and any command run until it
answers (``serving``).

Every gunicorn runs in its own session (so in its own process group): ``kill_group`` reaches
the master and its workers together, as a container runtime or ``kill -9 -<pgid>`` would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.ops.environments import ROOT
from tests.ops.wire import call, free_port, wait_for

READY_PREFIX = "ready-probe-"


@contextlib.contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int, log: Path, path: str = "/readyz"
) -> Iterator[subprocess.Popen]:
    """Run ``command`` (output to ``log``) from the repository until ``path`` on ``port``
    answers 200; stop it afterwards (SIGTERM, then kill). A process that exits while waited
    for fails the test with its log."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:

        def answering() -> bool:
            assert server.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                return call(port, "GET", path).status == 200
            return False

        wait_for(answering, 30, f"{path} on port {port}")
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


@dataclass
class Gunicorn:
    """One ``gunicorn -c gunicorn.conf.py wsgi:app`` with its output in files."""

    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    probes: int = 0  # readiness requests that reached the app (each writes an access line)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:6]
        self.stdout_path = self.workdir / f"gunicorn-{self.port}-{tag}.out"
        self.stderr_path = self.workdir / f"gunicorn-{self.port}-{tag}.err"

    def start(self, timeout: float = 20) -> Gunicorn:
        """Start the server and wait until ``/healthz`` answers 200."""
        env = dict(self.env, PORT=str(self.port))
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*gunicorn_command(), "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        wait_for(self._healthy, timeout, f"gunicorn on port {self.port} to answer /healthz")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"gunicorn exited with {self.proc.returncode} before it was ready:\n"
                f"{self.stdout()}\n{self.stderr()}"
            )
        probe = f"{READY_PREFIX}{self.probes}"
        try:
            response = call(self.port, "GET", "/healthz", headers={"X-Request-ID": probe})
        except OSError:
            return False
        self.probes += 1
        return response.status == 200

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """The master's live children (its workers)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the master only (how gunicorn is told to stop)."""
        os.kill(self.pid, sig)

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the master and every worker at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def wait(self, timeout: float) -> int:
        """Wait for the master to exit; its exit code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def group_gone(self) -> bool:
        """True when no process of the server's group is left."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return True
        # Reparented workers that died are reaped by init; a zombie still counts for kill(0).
        return all(_is_zombie(pid) for pid in _group_members(self.pid))

    def cleanup(self) -> None:
        """Leave nothing running, whatever state the test left the server in."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # The master is not reaped yet, so its pid (the group id) is still ours.
            self.kill_group(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        elif any(not _is_zombie(pid) for pid in _group_members(self.pid)):
            # Workers that outlived their master: a group with live members keeps its id, so
            # it is still this server's group.
            self.kill_group(signal.SIGKILL)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        return [line for line in self.stdout().splitlines() if line.strip()]

    def access_lines(self) -> list[dict[str, Any]]:
        """The app's access records, probes included."""
        records = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("logger") == "health_api.access":
                    records.append(record)
        return records


def gunicorn_command() -> list[str]:
    """The gunicorn script next to this interpreter (the venv's), else ``python -m``."""
    script = Path(sys.executable).with_name("gunicorn")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gunicorn"]


@contextlib.contextmanager
def running(env: dict[str, str], workdir: Path) -> Iterator[Gunicorn]:
    """A started server, always cleaned up when the block ends."""
    server = Gunicorn(env, workdir)
    try:
        yield server.start()
    finally:
        server.cleanup()


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields_after_name = stat.rsplit(")", 1)[1].split()
            if int(fields_after_name[2]) == pgid:
                members.append(int(entry.name))
    return members


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}
