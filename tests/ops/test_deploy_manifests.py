"""deploy/: the Kubernetes manifests validated offline against the API schemas
(kubernetes-validate ships them; the ServiceMonitor is a CRD it does not know: checked
against `SERVICE_MONITOR`, the part of monitoring.coreos.com/v1 we use, closed) and checked
for what must agree (probes and the routes that exist, the drain and the grace, secrets and
settings, selectors); the compose
file's topology checked, then started from processes (tests/support/replica_cluster.py) with the
compose file's own environment and deploy/compose/nginx.conf."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.support.config import channel, write_config
from tests.support.gateway_support import ROOT, Gateway, admin_http
from tests.support.server import ADMIN_KEY
from tests.support.upstreams import UpstreamProcess, start_standin
from thinkgate.config import Settings, load_settings

K8S = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "deploy" / "compose"
K8S_VERSIONS = ("1.28.0", "1.37.0")  # the oldest we claim, and the newest the package knows


# -- a minimal kustomize: what our kustomizations use, nothing more --------------------------


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[dict[str, Any]]:
    """`kustomize build directory` for resources, labels, namespace, images and patches
    (strategic merge by kind and name, or JSON 6902 with a target). Anything else in a
    kustomization fails the test rather than being ignored."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    known = {"apiVersion", "kind", "resources", "labels", "namespace", "images", "patches"}
    assert set(spec) <= known, f"{directory}: render() does not know {set(spec) - known}"
    docs: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        path = directory / resource
        docs += render(path) if path.is_dir() else _documents(path)
    for patch in spec.get("patches", []):
        _patch(docs, directory, patch)
    for label in spec.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    if "namespace" in spec:
        for doc in docs:
            doc["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        for container in _containers(docs):
            if container["image"].split(":")[0] == image["name"]:
                container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return docs


def _patch(docs: list[dict[str, Any]], directory: Path, patch: dict[str, Any]) -> None:
    if "path" in patch:
        (body,) = _documents(directory / patch["path"])
        target = _find(docs, body["kind"], body["metadata"]["name"])
        _merge(target, body)
        return
    target = _find(docs, patch["target"]["kind"], patch["target"]["name"])
    for op in yaml.safe_load(patch["patch"]):
        *parents, leaf = op["path"].strip("/").split("/")
        node = target
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert op["op"] in ("replace", "add"), op
        node[leaf] = op["value"]


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} matches"
    return found[0]


def _containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        yield from pod.get("containers", [])
        yield from pod.get("initContainers", [])


# -- schemas ---------------------------------------------------------------------------------


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STRING = {"type": "string"}
_DURATION = {"type": "string", "pattern": "^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
_LABELS = {"type": "object", "additionalProperties": _STRING}
# monitoring.coreos.com/v1 ServiceMonitor, the fields these manifests use, as the
# prometheus-operator API reference gives them; anything else is refused (the API server
# would prune an unknown field silently, and the scrape would quietly differ).
SERVICE_MONITOR = _closed(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object"},
        "spec": _closed(
            {
                "selector": _closed({"matchLabels": _LABELS}, ("matchLabels",)),
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": _closed(
                        {
                            "port": _STRING,
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                            "authorization": _closed(
                                {
                                    "type": _STRING,
                                    "credentials": _closed(
                                        {"name": _STRING, "key": _STRING}, ("key",)
                                    ),
                                }
                            ),
                        },
                        ("port",),
                    ),
                },
            },
            ("selector", "endpoints"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)


def _crd_validator() -> Draft202012Validator:
    return Draft202012Validator(SERVICE_MONITOR)


def _validate(doc: dict[str, Any]) -> None:
    if doc["apiVersion"].startswith("monitoring.coreos.com/"):
        errors = [e.message for e in _crd_validator().iter_errors(doc)]
        assert not errors, f"ServiceMonitor/{doc['metadata']['name']}: {errors}"
        return
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(K8S / "overlays" / "production")


def test_every_manifest_is_valid_for_the_kubernetes_api(production: list[dict[str, Any]]) -> None:
    kinds = sorted(doc["kind"] for doc in production)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "PodDisruptionBudget",
        "Service",
        "ServiceMonitor",
    ]
    for doc in [*production, *_documents(K8S / "secrets.example.yaml")]:
        _validate(doc)
        assert doc["metadata"].get("namespace", "thinkgate") == "thinkgate"


def test_a_broken_manifest_is_refused() -> None:
    """The validators are not lenient: a typo in a probe or a scrape endpoint fails."""
    docs = render(K8S / "base")
    deployment = copy.deepcopy(_find(docs, "Deployment", "thinkgate"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["pth"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    monitor = copy.deepcopy(_find(docs, "ServiceMonitor", "thinkgate"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    assert list(_crd_validator().iter_errors(monitor))


def _server_settings(docs: list[dict[str, Any]], tmp: Path) -> tuple[Settings, dict[str, Any]]:
    """The settings the Deployment's pods run with (ConfigMap + environment), and the pod."""
    config = _find(docs, "ConfigMap", "thinkgate-config")["data"]["thinkgate.toml"]
    deployment = _find(docs, "Deployment", "thinkgate")
    pod = deployment["spec"]["template"]["spec"]
    env = {item["name"]: item.get("value", "x" * 32) for item in pod["containers"][0]["env"]}
    env["THINKGATE_REASONING_KEY"] = "k" * 43 + "="
    path = tmp / "thinkgate.toml"
    path.write_text(config)
    env.pop("THINKGATE_CONFIG")
    return load_settings(config_file=path, environ=env), pod


def test_probes_drain_and_secrets_agree_with_the_server(
    production: list[dict[str, Any]], tmp_path: Path
) -> None:
    settings, pod = _server_settings(production, tmp_path)
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["ports"][0]["containerPort"] == 8000 and "--port" in container["args"]
    # the preStop sleep, thinkgate's drain and grace, and the last flush fit in the grace
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    needed = pre_stop + settings.shutdown_drain_seconds + settings.shutdown_grace_seconds
    assert settings.shutdown_drain_seconds > 0
    assert pod["terminationGracePeriodSeconds"] >= needed + 10
    # every secret the pods read exists in the example Secret and is a real setting
    (example,) = _documents(K8S / "secrets.example.yaml")
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert {ref["name"] for ref in refs.values()} == {example["metadata"]["name"]}
    assert {ref["key"] for ref in refs.values()} == set(example["stringData"])
    for name in ("admin_key", "key_pepper", "reasoning_key", "metrics_token", "redis_url"):
        assert getattr(settings, name) is not None, f"{name} is not read from the environment"
    assert settings.database_url is not None
    # what the outage policy assumes matches what the autoscaler may run
    hpa = _find(production, "HorizontalPodAutoscaler", "thinkgate")
    assert settings.redis_outage_replicas >= hpa["spec"]["maxReplicas"]


def test_objects_point_at_each_other(production: list[dict[str, Any]]) -> None:
    deployment = _find(production, "Deployment", "thinkgate")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    service = _find(production, "Service", "thinkgate")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    pdb = _find(production, "PodDisruptionBudget", "thinkgate")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    hpa = _find(production, "HorizontalPodAutoscaler", "thinkgate")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "thinkgate"
    assert hpa["spec"]["minReplicas"] >= 2 and pdb["spec"]["maxUnavailable"] == 1
    monitor = _find(production, "ServiceMonitor", "thinkgate")
    service_labels = service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    # the migration: `thinkgate migrate`, a Job named after the release (runs once each)
    job = _find(production, "Job", "thinkgate-migrate-0-1-0")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    images = {c["image"] for c in _containers(production)}
    assert images == {"ghcr.io/example/thinkgate:0.1.0"}


def test_the_migrate_command_brings_a_database_to_head(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env["THINKGATE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    command = [sys.executable, "-m", "thinkgate", "migrate", "--data-dir", str(tmp_path)]
    for _ in range(2):  # the second run: nothing to do, still fine
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "schema at head" in done.stdout


# -- compose ---------------------------------------------------------------------------------

REPLICAS = ("replica-1", "replica-2", "replica-3")
SECRETS = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "THINKGATE_ADMIN_KEY": ADMIN_KEY,
    "THINKGATE_KEY_PEPPER": "compose-test-pepper-0123456789abcdef",
    "THINKGATE_REASONING_KEY": "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk=",
    "THINKGATE_METRICS_TOKEN": "compose-test-metrics-token",
}


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((COMPOSE / "docker-compose.yml").read_text()))


def _interpolate(value: str) -> str:
    """Compose's `${NAME:?message}` from the test's .env values."""
    return re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: SECRETS[m.group(1)], value)


def _replica_env(compose: dict[str, Any], name: str) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in compose["services"][name]["environment"].items()}


def test_the_compose_topology() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "nginx", *REPLICAS}
    envs = [_replica_env(compose, name) for name in REPLICAS]
    for name, env in zip(REPLICAS, envs, strict=True):
        assert urlsplit(env["THINKGATE_DATABASE_URL"]).hostname == "postgres"
        assert urlsplit(env["THINKGATE_REDIS_URL"]).hostname == "redis"
        assert env["THINKGATE_REPLICA_ID"] == name
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    shared = ("THINKGATE_KEY_PEPPER", "THINKGATE_REASONING_KEY", "THINKGATE_DATABASE_URL")
    assert all(env[k] == envs[0][k] for env in envs for k in shared)
    assert services["migrate"]["command"] == ["migrate"]
    # nginx serves D's nginx.conf, whose upstreams are exactly the three replicas
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    upstreams = re.findall(r"server (replica-\d+):8000", (COMPOSE / "nginx.conf").read_text())
    assert sorted(upstreams) == list(REPLICAS)
    assert services["nginx"]["ports"] == ["8080:8080"]
    assert [s for s, spec in services.items() if "ports" in spec] == ["nginx"]
    # the compose configuration is valid for the server, and the stop grace covers it
    settings = load_settings(config_file=COMPOSE / "thinkgate.toml", environ={})
    grace = int(services["replica-1"]["stop_grace_period"].rstrip("s"))
    assert grace >= settings.shutdown_drain_seconds + settings.shutdown_grace_seconds + 10
    assert settings.redis_outage_replicas >= len(REPLICAS)
    assert (ROOT / services["replica-1"]["build"]["dockerfile"]).exists()


def _generations(base_url: str, model: str) -> int:
    """Generations a replica settled for `model` (its /metrics)."""
    text = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("thinkgate_generations_total{") and f'model="{model}"' in line
    )


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    process = start_standin(tmp_path_factory.mktemp("compose-standin"))
    try:
        yield process
    finally:
        process.stop()


def test_the_compose_topology_from_processes(tmp_path: Path, standin: UpstreamProcess) -> None:
    """The compose replicas' own environment and configuration (their database and Redis
    the test's), behind deploy/compose/nginx.conf."""
    from tests.support.replica_cluster import ReplicaCluster

    env = _replica_env(_compose(), "replica-1")
    for container_only in (
        "THINKGATE_DATABASE_URL",  # postgres:5432 / redis:6379: the harness's own instead
        "THINKGATE_REDIS_URL",
        "THINKGATE_CONFIG",  # a path inside the container: the same file is passed below
        "THINKGATE_DATA_DIR",
        "THINKGATE_REPLICA_ID",  # the harness names them replica-1..3 as compose does
    ):
        env.pop(container_only)
    models = {"fast": "ok:fast", "gpt-5.1": "think_short:gpt"}
    config = write_config(
        tmp_path / "thinkgate.toml",
        channel("standin", standin.base_url, models),
        preamble=(COMPOSE / "thinkgate.toml").read_text(),  # the compose file's own settings
    )
    cluster = ReplicaCluster(tmp_path / "cluster", 3, extra_env=env, config=config)
    with cluster, admin_http(cluster.base_url) as http:
        front = Gateway(cluster.base_url, http)
        _, secret = front.key()
        client = front.sdk(secret)
        for _ in range(6):
            assert client.responses.create(model="fast", input="hi").status == "completed"
        served = [_generations(r.base_url, "fast") for r in cluster.replicas]
        assert sum(served) == 6 and sum(1 for n in served if n) >= 2, served
        # one reasoning key: reasoning sealed on replica-1 opens on replica-2
        first, second = (f"{r.base_url}/v1/responses" for r in cluster.replicas[:2])
        auth = {"Authorization": f"Bearer {secret}"}
        sealed = httpx.post(
            first,
            headers=auth,
            timeout=60,
            json={
                "model": "gpt-5.1",
                "input": "hi",
                "store": False,
                "reasoning": {"effort": "low"},
                "include": ["reasoning.encrypted_content"],
            },
        )
        assert sealed.status_code == 200, sealed.text
        reasoning = [i for i in sealed.json()["output"] if i["type"] == "reasoning"]
        assert reasoning and reasoning[0]["encrypted_content"]
        turn = [*reasoning, {"role": "user", "content": "and again"}]
        again = httpx.post(
            second,
            headers=auth,
            timeout=60,
            json={"model": "gpt-5.1", "input": turn, "store": False},
        )
        assert again.status_code == 200, again.text
        for replica in cluster.replicas:
            assert httpx.get(f"{replica.base_url}/healthz").status_code == 200
            ready = httpx.get(f"{replica.base_url}/readyz", timeout=30).json()
            assert ready["status"] == "ready", ready
            assert ready["shared_counters"]["state"] == "shared"
