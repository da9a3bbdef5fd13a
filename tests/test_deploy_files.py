"""docker-compose.yml and deploy/kubernetes pass schema validation and say what operators rely on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.processes import ROOT

COMPOSE = ROOT / "docker-compose.yml"
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
BIN = Path(sys.executable).parent


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_objects() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str, name: str) -> dict:
    return next(o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name)


def check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True)


def check_manifest(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "kubernetes-validate", "--strict", "--quiet", str(path)],
                          capture_output=True, text=True)


def test_compose_file_matches_the_compose_spec():
    result = check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_validation_catches_a_broken_file(tmp_path):
    broken = compose()
    broken["services"]["web"]["ports"] = {"not": "a list"}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert check_compose(path).returncode != 0


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_manifest_is_valid_in_strict_mode(path):
    result = check_manifest(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validation_catches_an_unknown_field(tmp_path):
    text = (ROOT / "deploy" / "kubernetes" / "beat.yaml").read_text().replace("replicas: 1", "replica: 1")
    path = tmp_path / "beat.yaml"
    path.write_text(text)
    assert check_manifest(path).returncode != 0


def test_compose_runs_the_services_with_health_checks_and_a_queue_safe_redis():
    services = compose()["services"]
    assert {"web", "worker", "beat", "redis", "postgres", "migrate"} <= set(services)
    for name in ("web", "worker", "redis", "postgres"):
        assert "healthcheck" in services[name], name
    redis_command = " ".join(services["redis"]["command"])
    assert "--maxmemory-policy noeviction" in redis_command and "--appendonly yes" in redis_command
    assert services["migrate"]["command"] == ["modqueue", "db", "upgrade"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "pgdata" in compose()["volumes"]


def test_env_example_documents_every_setting_the_app_reads():
    read = set(re.findall(r'"(MODQUEUE_[A-Z_]+)"', (ROOT / "service" / "settings.py").read_text()))
    documented = set(re.findall(r"(MODQUEUE_[A-Z_]+)=", (ROOT / ".env.example").read_text()))
    # The compose file sets these two from the services it runs.
    assert read - {"MODQUEUE_DATABASE_URL", "MODQUEUE_REDIS_URL", "MODQUEUE_INSTANCE_PATH"} <= documented


def test_kubernetes_runs_the_same_commands_as_compose():
    services = compose()["services"]
    commands = {
        "web": by_kind("Deployment", "modqueue-web"),
        "worker": by_kind("Deployment", "modqueue-worker"),
        "beat": by_kind("Deployment", "modqueue-beat"),
        "migrate": by_kind("Job", "modqueue-migrate"),
    }
    for service, obj in commands.items():
        [container] = obj["spec"]["template"]["spec"]["containers"]
        assert container["command"] == services[service]["command"], service


def test_workers_are_sized_autoscaled_and_beat_is_single():
    worker = by_kind("Deployment", "modqueue-worker")["spec"]["template"]["spec"]
    assert worker["containers"][0]["resources"]["requests"]["memory"]
    assert worker["terminationGracePeriodSeconds"] >= 60
    hpa = by_kind("HorizontalPodAutoscaler", "modqueue-worker")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "modqueue-worker"
    assert hpa["metrics"][0]["external"]["metric"]["name"] == "modqueue_pending_comments"
    beat = by_kind("Deployment", "modqueue-beat")["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"


def test_secrets_and_config_are_separate():
    config = by_kind("ConfigMap", "modqueue-config")["data"]
    secret = by_kind("Secret", "modqueue-secrets")["stringData"]
    assert not {"MODQUEUE_DATABASE_URL", "MODQUEUE_REDIS_URL", "MODQUEUE_SECRET_KEY"} & set(config)
    assert {"MODQUEUE_DATABASE_URL", "MODQUEUE_REDIS_URL", "MODQUEUE_SECRET_KEY"} <= set(secret)
