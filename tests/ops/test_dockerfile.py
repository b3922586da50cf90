"""The Dockerfile, parsed and checked without a Docker engine: multi-stage on a pinned slim
Python, gunicorn as a fixed non-root user, production settings that are valid as they stand,
a standard-library health check, nothing fetched and no secret, and every copied file present
and not excluded by .dockerignore. (hadolint: test_deploy_linters.py.)"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import pytest

from health_api.config import load_settings
from tests.ops.deploy_files import (
    CREDENTIAL_VARIABLES,
    DOCKERFILE,
    GUNICORN_CMD,
    ROOT,
)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, rest = current.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continuation line"
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage, each starting with its FROM."""
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions:
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def env_pairs(rest: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(rest))


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text())


def test_dockerfile_is_multi_stage_on_a_pinned_slim_python(docker) -> None:
    args = {
        name: value
        for keyword, rest in docker
        if keyword == "ARG" and "=" in rest
        for name, value in [rest.split("=", 1)]
    }
    froms = [rest for keyword, rest in docker if keyword == "FROM"]
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    for line in froms:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], line.split()[0])
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", image), image
    assert "AS builder" in froms[0]
    runtime = stages(docker)[-1]
    copies_from_builder = [rest for keyword, rest in runtime if rest.startswith("--from=")]
    assert copies_from_builder == ["--from=builder /opt/venv /opt/venv"]


def test_runtime_stage_runs_gunicorn_as_a_fixed_non_root_user(docker) -> None:
    runtime = stages(docker)[-1]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage must switch user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "a numeric uid, so Kubernetes' runAsNonRoot can verify it"
    assert int(uid) >= 1000
    cmd = [rest for keyword, rest in runtime if keyword == "CMD"]
    assert len(cmd) == 1
    assert json.loads(cmd[0]) == GUNICORN_CMD
    assert not [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert ("EXPOSE", "8000") in runtime


def test_runtime_environment_and_data_volume(docker) -> None:
    runtime = stages(docker)[-1]
    env: dict[str, str] = {}
    for keyword, rest in runtime:
        if keyword == "ENV":
            env.update(env_pairs(rest))
    assert env["PIP_NO_CACHE_DIR"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["ENVIRONMENT"] == "production"
    assert env["HEALTH_API_STORAGE"] == "dynamodb"
    assert Path(env["HEALTH_API_SQLITE_PATH"]).parent == Path("/app/data")
    assert ("VOLUME", '["/app/data"]') in runtime
    assert ("WORKDIR", "/app") in runtime
    # The settings in ENV are valid as they stand (keys come from the orchestrator).
    settings = load_settings({**env, "HEALTH_API_KEYS": "admin=" + "a" * 20})
    assert settings.storage == "dynamodb"
    assert settings.is_production


def test_healthcheck_probes_healthz_with_the_standard_library(docker) -> None:
    checks = [rest for keyword, rest in docker if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    check = checks[0]
    assert "/healthz" in check
    assert "urllib.request" in check
    assert "curl" not in check
    assert "wget" not in check
    assert re.search(r"--timeout=\d+s", check)


def test_dockerfile_fetches_nothing_and_holds_no_secret(docker) -> None:
    for keyword, rest in docker:
        assert keyword != "ADD", "COPY only: no remote URLs, no implicit archive extraction"
        assert not re.search(r"https?://(?!127\.0\.0\.1)", rest), (keyword, rest)
        if keyword in {"ENV", "ARG"}:
            names = set(env_pairs(rest)) if "=" in rest else {rest}
            assert not names & CREDENTIAL_VARIABLES, names
            assert not any(re.search("SECRET|PASSWORD|TOKEN", n) for n in names), names


def test_every_copied_file_exists_and_survives_dockerignore(docker) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".venv", ".git", "data", "*.db", ".env"):
        assert needed in patterns, needed

    def ignored(path: str) -> bool:
        for pattern in patterns:
            bare = pattern.removeprefix("**/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, bare):
                return True
        return False

    sources = []
    for keyword, rest in docker:
        if keyword == "COPY" and not rest.startswith("--from="):
            words = [w for w in rest.split() if not w.startswith("--")]
            sources += words[:-1]
    assert "gunicorn.conf.py" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
