"""Deployment: the Dockerfile and the Kubernetes manifests (deploy/kubernetes/).

No container engine runs here, so the image's parts are tested where they can be: the Dockerfile
is read (dockerfile-parse) for its stages, locks, user and health check; its exact ENTRYPOINT + CMD
and HEALTHCHECK run outside a container, on a fresh SQLite data dir, with the image's ENV; the
manifests validate against the Kubernetes JSON schemas (kubernetes-validate ships them) and agree
with the Dockerfile and config.py (ports, user, probes, settings).
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fortium_metrics.config import Settings
from fortium_metrics.environment import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "deploy" / "kubernetes"
IMAGE_VENV_BIN = "/opt/fortium/bin"  # where the Dockerfile installs the packages
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests claim (preStop `sleep`, docs/deployment.md)
SETTINGS = {ENV_PREFIX + name.upper() for name in Settings.model_fields}


# -- the Dockerfile ------------------------------------------------------------------------------
def parsed() -> DockerfileParser:
    return DockerfileParser(str(DOCKERFILE))


def stages() -> list[list[dict]]:
    """The instructions of each stage, in order."""
    found: list[list[dict]] = []
    for item in parsed().structure:
        if item["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(item)
    return found


def instructions(stage: list[dict], name: str) -> list[str]:
    return [item["value"] for item in stage if item["instruction"] == name]


def exec_form(value: str) -> list[str]:
    """An instruction's JSON (exec) form: no shell between Docker and the process, so signals reach it."""
    command = json.loads(value)
    assert isinstance(command, list) and all(isinstance(part, str) for part in command), value
    return command


def entry_command() -> list[str]:
    runtime = stages()[-1]
    return exec_form(instructions(runtime, "ENTRYPOINT")[-1]) + exec_form(instructions(runtime, "CMD")[-1])


def healthcheck_command() -> list[str]:
    value = instructions(stages()[-1], "HEALTHCHECK")[-1]
    return exec_form(value[value.index("CMD") + len("CMD"):].strip())


def test_the_image_is_built_in_stages_from_the_committed_locks():
    frontend, python, runtime = stages()
    assert instructions(frontend, "COPY")[0].split()[:2] == ["frontend/package.json", "frontend/package-lock.json"]
    assert any(command.startswith("npm ci") for command in instructions(frontend, "RUN"))
    assert instructions(python, "COPY")[0].split()[:3] == ["requirements.lock", "pyproject.toml", "deploy/runtime_requirements.py"]
    (install,) = [command for command in instructions(python, "RUN") if "runtime_requirements.py" in command]
    assert "runtime_requirements.py /app/requirements.lock /app/pyproject.toml > /app/runtime.lock" in install
    assert "pip install --require-hashes -r /app/runtime.lock" in install
    # The runtime stage takes built things from the others; it installs and builds nothing itself.
    assert all(copy.startswith("--from=") for copy in instructions(runtime, "COPY"))
    assert not any(re.search(r"\b(npm|node|pip)\b", command) for command in instructions(runtime, "RUN"))


def runtime_lock() -> list:
    spec = importlib.util.spec_from_file_location("runtime_requirements", ROOT / "deploy" / "runtime_requirements.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules[spec.name])
    module = sys.modules[spec.name]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return module.runtime_subset((ROOT / "requirements.lock").read_text(), pyproject)


def needed_at_run_time(name: str, seen: set[str] | None = None) -> set[str]:
    """What `name` needs on this interpreter (markers evaluated, no extra asked), from the
    installed packages' own metadata: an independent reading of the graph the lock records."""
    seen = set() if seen is None else seen
    key = canonicalize_name(name)
    if key in seen:
        return seen
    seen.add(key)
    for spec in metadata.requires(name) or []:
        requirement = Requirement(spec)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            needed_at_run_time(requirement.name, seen)
    return seen


def test_the_image_installs_what_the_service_needs_from_the_lock_and_no_test_tool():
    subset = runtime_lock()
    names = {package.name for package in subset}
    assert needed_at_run_time("fortium-metrics") - {"fortium-metrics"} <= names, needed_at_run_time("fortium-metrics") - names
    assert {"setuptools", "wheel"} <= names  # to install the project itself, offline
    dev_only = {"pytest", "pytest-timeout", "playwright", "schemathesis", "hypothesis", "kubernetes-validate",
                "dockerfile-parse", "opentelemetry-sdk"}
    assert not names & dev_only, names & dev_only
    # The command the Dockerfile runs prints exactly this subset.
    printed = subprocess.run([sys.executable, "deploy/runtime_requirements.py", "requirements.lock", "pyproject.toml"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert printed.splitlines(keepends=True)[1:] == [line for package in subset for line in package.lines]
    lock = (ROOT / "requirements.lock").read_text()
    for package in subset:  # copied as the lock has them: pins, markers and every hash
        text = "".join(package.lines)
        assert text in lock and "==" in package.lines[0] and "--hash=sha256:" in text, text


def test_the_image_runs_unprivileged_with_a_health_check_on_healthz():
    user = instructions(stages()[-1], "USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0, user  # numeric: runAsNonRoot can check it
    assert "/healthz" in " ".join(healthcheck_command())
    assert parsed().envs["FORTIUM_HOST"] == "0.0.0.0"  # reachable from outside the container
    assert parsed().envs["PATH"].split(":")[0] == IMAGE_VENV_BIN


def test_the_build_context_leaves_out_builds_data_and_secrets_but_not_what_is_copied():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for needed in (".git", ".venv", "frontend/node_modules", "src/fortium_metrics/web/static", "*.db", "secret_key", ".env"):
        assert needed in ignored, needed
    for stage in stages():
        for copy in instructions(stage, "COPY"):
            if copy.startswith("--from="):
                continue
            for source in copy.split()[:-1]:
                source = source.rstrip("/")
                assert (ROOT / source).exists(), source
                assert not any(source == pattern or source.startswith(pattern + "/") for pattern in ignored), source


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def image_environment(data_dir: Path, port: int) -> dict[str, str]:
    """The image's ENV, with this checkout's virtualenv where the image has its own, a temporary
    data dir, and loopback instead of 0.0.0.0 (a test listens on this machine only)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update(parsed().envs)
    bin_dir = str(Path(sys.executable).parent)
    path = [bin_dir if part == IMAGE_VENV_BIN else part for part in env["PATH"].split(":") if part]
    env["PATH"] = ":".join(path + [os.environ.get("PATH", "")])
    env.update(FORTIUM_DATA_DIR=str(data_dir), FORTIUM_HOST="127.0.0.1", FORTIUM_PORT=str(port),
               FORTIUM_LOG_LEVEL="warning")
    return env


def wait_for_health(process: subprocess.Popen, url: str, log: Path) -> httpx.Response:
    deadline = time.monotonic() + 90  # a harness limit for a slow machine, not a speed claim
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"no answer from {url} (log: {log.read_text()[-3000:]})"
            time.sleep(0.2)


def test_the_entry_command_serves_a_fresh_data_dir_passes_its_health_check_and_stops_on_sigterm(tmp_path):
    port, data_dir, log = free_port(), tmp_path / "data", tmp_path / "serve.log"
    env = {**image_environment(data_dir, port), "FORTIUM_LOG_LEVEL": "info"}  # to see the shutdown
    with log.open("wb") as out:
        process = subprocess.Popen(entry_command(), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        health = wait_for_health(process, f"http://127.0.0.1:{port}/healthz", log)
        assert health.status_code == 200 and health.json()["database"] == "ok", health.text
        assert (data_dir / "fortium.db").exists()  # migrated on start (SQLite)
        check = subprocess.run(healthcheck_command(), env=env, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
    finally:
        os.kill(process.pid, signal.SIGTERM)  # what `docker stop` and Kubernetes send
        returncode = process.wait(timeout=60)
    # uvicorn finishes the requests in flight and the lifespan, then re-raises the signal it caught.
    assert returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "Finished server process" in log.read_text(), log.read_text()[-3000:]
    # With the server gone the same health check fails, so it can tell.
    check = subprocess.run(healthcheck_command(), env=env, capture_output=True, text=True, timeout=30)
    assert check.returncode != 0


def test_the_migration_jobs_command_upgrades_a_fresh_database_with_the_images_entry_point(tmp_path):
    (job,) = manifests("migration-job.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = exec_form(instructions(stages()[-1], "ENTRYPOINT")[-1]) + container["args"]
    result = subprocess.run(command, env=image_environment(tmp_path / "data", free_port()), capture_output=True,
                            text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema at " in result.stdout and (tmp_path / "data" / "fortium.db").exists()


# -- the Kubernetes manifests ---------------------------------------------------------------------
def manifests(name: str | None = None) -> list[dict]:
    files = [KUBERNETES / name] if name else sorted(KUBERNETES.glob("*.yaml"))
    return [doc for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(kind: str) -> dict:
    (found,) = [doc for doc in manifests() if doc["kind"] == kind]
    return found


def resources() -> list[dict]:
    return [doc for doc in manifests() if doc["kind"] != "Kustomization"]  # kustomize's, not the API server's


@pytest.mark.parametrize("doc", resources(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_every_manifest_validates_against_the_kubernetes_schema(doc):
    # strict: a misspelt or misplaced field (unknown to the schema) fails too
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validation_would_catch_a_wrong_field():
    deployment = of_kind("Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    listed = of_kind("Kustomization")["resources"]
    assert sorted(listed) == sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def server_container() -> dict:
    (container,) = of_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def test_the_deployment_probes_health_and_readiness_on_the_images_port():
    container = server_container()
    (port,) = container["ports"]
    assert str(port["containerPort"]) == parsed().envs["FORTIUM_PORT"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["FORTIUM_PORT"] == str(port["containerPort"]) and env["FORTIUM_HOST"] == "0.0.0.0"
    probes = {name: container[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert {probe["port"] for probe in probes.values()} == {port["name"]}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    strategy = of_kind("Deployment")["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_run_as_the_images_unprivileged_user_on_a_read_only_root(kind):
    pod = of_kind(kind)["spec"]["template"]["spec"]
    uid = int(instructions(stages()[-1], "USER")[-1].split(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        # the data dir (spools) and /tmp are the only writable places
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert {parsed().envs["FORTIUM_DATA_DIR"], "/tmp"} <= mounts


def test_service_autoscaler_and_disruption_budget_point_at_the_deployments_pods():
    deployment = of_kind("Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert of_kind("Service")["spec"]["selector"].items() <= pod_labels.items()
    assert of_kind("Service")["spec"]["ports"][0]["targetPort"] == server_container()["ports"][0]["name"]
    assert of_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    target = of_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert of_kind("HorizontalPodAutoscaler")["spec"]["minReplicas"] > of_kind("PodDisruptionBudget")["spec"]["minAvailable"] - 1


def test_the_migration_job_runs_db_upgrade_as_the_schema_owner_and_the_service_never_sees_that_secret():
    (container,) = of_kind("Job")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["db", "upgrade"]
    secrets = {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == "Secret"}
    job_secrets = {ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref}
    server_secrets = {ref["secretRef"]["name"] for ref in server_container()["envFrom"] if "secretRef" in ref}
    assert any("FORTIUM_ADMIN_DATABASE_URL" in secrets[name]["stringData"] for name in job_secrets)
    assert not any("FORTIUM_ADMIN_DATABASE_URL" in secrets[name]["stringData"] for name in server_secrets)


def test_configmap_and_secret_examples_name_real_settings_and_hold_no_real_secret():
    for doc in manifests():
        if doc["kind"] not in {"ConfigMap", "Secret"}:
            continue
        values = doc.get("data") or doc.get("stringData")
        assert set(values) <= SETTINGS, set(values) - SETTINGS
        if doc["kind"] == "Secret":
            assert all("REPLACE" in value for value in values.values() if "://" not in value or "@" in value), values
    key = of_kind_named("Secret", "fortium-metrics")["stringData"]["FORTIUM_SECRET_KEY"]
    assert "REPLACE" in key and len(key) >= 32  # a placeholder that still passes the length rule if left


def of_kind_named(kind: str, name: str) -> dict:
    (found,) = [doc for doc in manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    return found

