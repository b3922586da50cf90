"""moto's DynamoDB served one request at a time, for the process-level reliability tests and the
``bench/`` scripts.

moto's in-process backend and its threaded server do read-check-write without a lock, so two
conditional writes racing through them can both win; that models nothing real. Served by
werkzeug with ``threaded=False`` every request runs alone, so each is atomic, as DynamoDB is per
item (and a transaction is atomic as a whole). werkzeug then speaks HTTP/1.0 and closes each
connection after its answer, so no client can hog the server with a keep-alive connection.

``serial_moto()`` runs the server on a thread of the calling process (the pattern of
``tests/dynamodb/test_booking_race.py``); ``serial_moto_process()`` runs the same server in a
child process of its own, so its work does not compete for the caller's GIL (used when the
caller also drives many client threads). Both yield the endpoint URL, ``http://127.0.0.1:<port>``.

    with serial_moto() as url:
        env = server_env(dynamodb_env(url, "race-"))
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "serial-moto-listening "


def _make_server(port: int = 0):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    return make_server(
        "127.0.0.1", port, DomainDispatcherApplication(create_backend_app), threaded=False
    )


@contextlib.contextmanager
def serial_moto() -> Iterator[str]:
    """moto's server on a thread of this process, one request at a time; yields its URL."""
    server = _make_server()
    thread = threading.Thread(target=server.serve_forever, name="serial-moto", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def serial_moto_process(timeout: float = 30) -> Iterator[str]:
    """The same server in a child process (``python -m tests.reliability.servers``); yields
    its URL and terminates the child (by its pid) when the block ends."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.servers"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = _read_url(proc, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _read_url(proc: subprocess.Popen, timeout: float) -> str:
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(READY_LINE):
                found.append(line[len(READY_LINE) :].strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        raise RuntimeError(
            f"serialised moto server did not start within {timeout:.0f} s (exit code {proc.poll()})"
        )
    return found[0]


def main() -> None:
    """Serve until terminated; print the URL on one line first."""
    server = _make_server()
    print(f"{READY_LINE}http://127.0.0.1:{server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
