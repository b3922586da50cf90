"""``tools/mcp_inspector.py``: the pinned version is the one the lock installs, an installed copy
is reused without npm or the network, and a Node too old for the Inspector is not taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import mcp_inspector


def test_the_manifest_and_its_lock_pin_the_version_the_tool_names() -> None:
    manifest = json.loads((mcp_inspector.MANIFEST / "package.json").read_text())
    lock = json.loads((mcp_inspector.MANIFEST / "package-lock.json").read_text())

    assert manifest["dependencies"] == {mcp_inspector.PACKAGE: mcp_inspector.VERSION}
    installed = lock["packages"][f"node_modules/{mcp_inspector.PACKAGE}"]
    assert installed["version"] == mcp_inspector.VERSION
    assert installed["integrity"].startswith("sha512-")


def test_an_installed_copy_is_reused_without_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mcp_inspector, "CACHE", tmp_path)
    cli = mcp_inspector.install_dir() / mcp_inspector.CLI
    cli.parent.mkdir(parents=True)
    cli.write_text("// the Inspector")
    monkeypatch.setattr(mcp_inspector.shutil, "which", lambda _name: None)

    assert mcp_inspector.install() == cli


@pytest.mark.parametrize(("major", "taken"), [(16, False), (18, True), (20, True), (None, False)])
def test_only_a_node_of_18_or_later_is_taken(
    monkeypatch: pytest.MonkeyPatch, major: int | None, taken: bool
) -> None:
    monkeypatch.setattr(mcp_inspector.shutil, "which", lambda _name: "/usr/bin/node")
    monkeypatch.setattr(mcp_inspector, "node_version", lambda _node: major)

    assert (mcp_inspector.node_command() is not None) == taken


def test_without_node_apt_or_root_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mcp_inspector.shutil, "which", lambda _name: None)

    with pytest.raises(mcp_inspector.InspectorError, match="apt-get install nodejs"):
        mcp_inspector.ensure_node()
