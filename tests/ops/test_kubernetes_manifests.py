"""deploy/kubernetes/, parsed and checked without a cluster: the kustomization lists every
manifest, the api and mcp Deployments (shape, probes, resources, locked-down pods, graceful
shutdown), the ConfigMap's valid non-secret settings, no literal secret, the IAM-role service
account, Services and budgets selecting their own pods, the MCP command run with the pod's
environment, and the set-up Job. (``kubectl kustomize`` and ``kubernetes-validate``:
test_deploy_linters.py.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from health_api.config import load_settings
from tests.ops.deploy_files import (
    ALL_INTERFACES,
    CREDENTIAL_VARIABLES,
    K8S,
    MCP_CMD,
    SETTINGS_VARIABLES,
    gunicorn_settings,
)


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
