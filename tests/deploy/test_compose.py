"""docker-compose.yml and deploy/Dockerfile, checked offline (Docker cannot run on the project's machines).

The compose file is validated against the Compose specification's JSON schema as check-jsonschema vendors it
(``vendor.compose-spec``, PyPI), and wired against ``services.toml``: every service has its container, every
container built from the platform's image is a service or one of the known one-shot jobs, and each service gets
its own broker password and no other's. The Dockerfile is read as text: several stages, a non-root user, a health
check, no secret in it.
"""
from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest

from township_shared.registry import services
from township_shared.testing import yaml_as_written

ROOT = Path(__file__).resolve().parents[2]
SPECS = services()
NAMES = [spec.name for spec in SPECS]
JOBS = {"broker-setup", "demo"}   # one-shot containers of the platform's image that are not services
BACKING = {"rabbitmq", "mongo", "mongo-setup"}
SECRETS = re.compile(r"(PASSWORD|SECRET|_KEY|TOKEN)", re.I)


def compose_schema() -> dict:
    return json.loads((files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml_as_written((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator():
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_compose_file_follows_the_compose_specification(compose, validator):
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("broken", [
    {"services": {"intake": {"image": "x", "restart": 5}}},
    {"services": {"intake": {"image": "x", "buidl": "."}}},
    {"services": {"intake": {"image": "x", "depends_on": {"mongo": {"condition": "when_ready"}}}}},
])
def test_the_schema_refuses_what_compose_would(validator, broken):
    assert list(validator.iter_errors(broken)), f"the schema let {broken} through"


def _built_from_the_image(compose) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items()
            if svc.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def test_every_service_has_its_container_and_every_container_a_service(compose):
    built = set(_built_from_the_image(compose))
    missing = set(NAMES) - built
    assert not missing, f"services.toml lists {sorted(missing)} but docker-compose.yml has no container for them"
    unknown = built - set(NAMES) - JOBS
    assert not unknown, f"docker-compose.yml runs {sorted(unknown)} from the image, which services.toml does not list"
    assert set(compose["services"]) == set(NAMES) | JOBS | BACKING


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_a_service_container_runs_its_module_as_itself(compose, spec):
    svc = compose["services"][spec.name]
    assert svc["command"] == ["nameko", "run", "--config", "/app/config.yaml", spec.module]
    env = svc["environment"]
    assert env["SERVICE"] == spec.name
    own = f"AMQP_PASSWORD_{spec.name.upper()}"
    assert env[own].startswith(f"${{{own}:?"), "its broker password comes from .env, required"
    others = {k for k in env if k.startswith("AMQP_PASSWORD_")} - {own}
    assert not others, f"{spec.name} gets other services' broker passwords: {sorted(others)}"
    assert env["AMQP_QUEUE_TYPE"] == "quorum"
    assert "@" not in env["AMQP_URI"], "a service signs in as its own user (township_shared.bus), not in AMQP_URI"
    assert "replicaSet=rs0" in env["MONGODB_URI"]
    assert svc["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "township_shared.healthcheck"]
    assert {"broker-setup", "mongo-setup"} <= set(svc["depends_on"])


def test_setup_jobs_cover_every_service(compose):
    jobs = compose["services"]
    broker = {k for k in jobs["broker-setup"]["environment"] if k.startswith("AMQP_PASSWORD_")}
    assert broker == {f"AMQP_PASSWORD_{name.upper()}" for name in NAMES}, "broker-setup gives every service a user"
    assert jobs["mongo-setup"]["environment"]["TOWNSHIP_SERVICES"].split() == NAMES
    demo = jobs["demo"]["command"][-1]
    for spec in SPECS:
        if spec.demo:
            assert f"python -m {spec.demo}" in demo, f"the demo job does not load {spec.demo}"


def test_only_the_gateway_is_published_and_secrets_come_from_env(compose):
    published = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"gateway", "rabbitmq"}
    assert compose["services"]["gateway"]["ports"] == ["${GATEWAY_PORT:-8000}:8000"]
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["rabbitmq"]["ports"])
    assert compose["networks"]["backend"]["internal"] is True
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if SECRETS.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", str(value)), f"{name}.{key} is not read from .env"
        assert "${MONGO_APP_PASSWORD:?" in env.get("MONGODB_URI", "${MONGO_APP_PASSWORD:?")


def test_every_variable_the_compose_file_needs_is_in_the_example_env():
    text = "\n".join(line for line in (ROOT / "docker-compose.yml").read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))
    needed = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+):\?", text))
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert needed and needed <= set(example), f"missing from .env.example: {sorted(needed - set(example))}"
    assert "COMPOSE_PROFILES" in example
    ignored = (ROOT / ".gitignore").read_text().splitlines() + (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ignored.count(".env") == 2, ".env is neither committed nor sent to docker build"


def test_the_dockerfile_builds_in_stages_runs_unprivileged_with_a_health_check():
    text = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(stages) >= 2, "a build stage and a runtime stage"
    runtime = text[text.rindex("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the runtime stage runs as a user, not root"
    assert re.search(r"^HEALTHCHECK\s+.*township_shared\.healthcheck", runtime, re.M | re.S)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime, "pip and the build tools stay in the build stage"
    for line in re.findall(r"^(?:ENV|ARG)\s+.*$", text, re.M):
        assert not SECRETS.search(line), f"a secret in the image: {line}"
