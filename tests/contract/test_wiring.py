"""Contract: every service is wired everywhere from the one list, ``services.toml`` (docs/new-service.md).

A package under ``services/`` that is not listed, or a listed service without its package, tests, service class,
metrics port, config entry, README row or a queue it names that nobody owns, fails here, before it fails at
``make run``."""
import re
import subprocess
from pathlib import Path

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR, DependencyProvider

from township_shared.registry import SERVICES_FILE, read_services, services

ROOT = Path(__file__).resolve().parents[2]
SPECS = services()
NAMES = [spec.name for spec in SPECS]


def test_the_list_is_the_repositorys_and_names_are_unique():
    assert SERVICES_FILE == ROOT / "services.toml"
    assert read_services() == SPECS
    assert len(set(NAMES)) == len(NAMES), f"a service listed twice: {NAMES}"
    assert NAMES[-1] == "gateway", "the gateway starts last: it calls the others"


def test_every_package_under_services_is_listed():
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "services").glob("*/pyproject.toml")}
    assert packages == {spec.package for spec in SPECS}, "services/ and services.toml disagree"


@pytest.mark.parametrize("spec", SPECS, ids=NAMES)
def test_a_listed_service_has_its_package_tests_and_class(spec):
    package = ROOT / spec.package
    assert (package / "pyproject.toml").is_file()
    assert list((package / "tests").glob("test_*.py")), f"{spec.package}/tests has no tests"
    cls = spec.service_class()
    assert cls.name == spec.name, f"{spec.entrypoint}.name is {cls.name!r}, services.toml says {spec.name!r}"
    if spec.demo:
        import importlib

        assert callable(importlib.import_module(spec.demo).load_demo), f"{spec.demo} has no load_demo(database)"


def test_the_makefile_installs_every_listed_package():
    out = subprocess.run(["make", "-s", "packages"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["shared"] + [spec.package for spec in SPECS]


def _dependencies(cls):
    return {name: value for klass in reversed(cls.__mro__) for name, value in vars(klass).items()
            if isinstance(value, DependencyProvider)}


def _entrypoints(cls):
    for name, value in {n: v for klass in reversed(cls.__mro__) for n, v in vars(klass).items()}.items():
        for entrypoint in getattr(value, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            yield name, entrypoint


def test_metrics_ports_are_configured_unique_and_documented():
    from township_shared.observability import Metrics

    config = (ROOT / "config.yaml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ports = [spec.metrics_port for spec in SPECS if spec.metrics_port is not None]
    assert len(set(ports)) == len(ports), f"two services share a metrics port: {ports}"
    for spec in SPECS:
        has_metrics = any(isinstance(d, Metrics) for d in _dependencies(spec.service_class()).values())
        if spec.name != "gateway":  # the gateway serves /metrics on its HTTP port
            assert has_metrics == (spec.metrics_port is not None), \
                f"{spec.name}: a Metrics dependency needs a metrics_port in services.toml, and only it"
        if spec.metrics_port is not None:
            var = spec.metrics_variable
            assert f"{var}: ${{{var}:{spec.metrics_port}}}" in config, f"config.yaml lacks {var}"
            assert f"`_{spec.name.upper()}`" in readme or f"`{var}`" in readme, f"README lacks {var}"
    listed = set(re.findall(r"^(METRICS_PORT_\w+):", config, re.M))
    assert listed == {spec.metrics_variable for spec in SPECS if spec.metrics_variable}


def test_every_service_has_a_row_in_the_readme_service_map():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for spec in SPECS:
        assert f"| {spec.name} | `{spec.package}` |" in readme, f"README's service map lacks {spec.name}"


def planned_publishers():
    """Services not built yet whose events are already a contract in ``shared/`` (registered with their publisher,
    catalogued), so that the services that will react to them consume them now (``meetings``: decision 67)."""
    from township_shared.events import PUBLISHERS
    from township_shared.schemas import load_all

    load_all()
    return set(PUBLISHERS.values()) - set(NAMES)


def test_events_and_calls_only_name_listed_services():
    """Every event a service consumes, every service it calls and every event source the catalogue names is a
    listed service, or a planned one whose events are registered (a typo or an unlisted service would leave a
    queue nobody feeds or an RPC nobody answers)."""
    catalogue = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    sources = set(re.findall(r"^\| `\w+` \| \d+ \| (\w+) \|", catalogue, re.M))
    publishers = set(NAMES) | planned_publishers()
    assert sources and sources <= publishers, f"docs/events.md names unlisted sources: {sources - publishers}"
    for spec in SPECS:
        cls = spec.service_class()
        for name, entrypoint in _entrypoints(cls):
            source = getattr(entrypoint, "source_service", None)
            assert source is None or source in publishers, \
                f"{spec.name}.{name} consumes events of unlisted {source!r}"
            if source is not None:
                assert source in sources, f"{spec.name}.{name} consumes {source} events; docs/events.md has none"
        for name, dependency in _dependencies(cls).items():
            target = getattr(dependency, "target_service", None)
            assert target is None or target in NAMES, f"{spec.name}.{name} calls unlisted {target!r}"

