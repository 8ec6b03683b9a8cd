"""Every distribution the code imports is declared where it is imported (decision 24).

A package that works only because another package happens to pull its import in (``amqp`` through kombu,
``yaml`` through township-shared) breaks the day that other package changes its own requirements. So the
top-level imports of every module are mapped to the distributions that provide them
(``importlib.metadata.packages_distributions``) and compared with what the importing package declares:

- a package's own code (``shared/township_shared``, ``services/<name>/<name>``): its ``pyproject.toml``
  (dependencies and optional dependencies);
- a package's tests: that, plus ``requirements-dev.txt``;
- the repository's tests, benchmarks and scripts (``tests/``, ``bench/``, ``deploy/``, ``conftest.py``), which run
  in the whole platform's environment: every package's declarations plus ``requirements-dev.txt``.
"""
from __future__ import annotations

import ast
import sys
import tomllib
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "shared", *sorted(p.parent for p in (ROOT / "services").glob("*/pyproject.toml"))]


def _code_dir(package: Path) -> Path:
    return package / ("township_shared" if package.name == "shared" else package.name)


def python_files(where: Path) -> list[Path]:
    """``.py`` files, and scripts without a suffix whose first line names python (``bench/intake``)."""
    if where.is_file():
        return [where]
    found = []
    for path in sorted(where.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix == ".py":
            found.append(path)
        elif not path.suffix:
            with path.open("rb") as f:
                first = f.readline()
            if first.startswith(b"#!") and b"python" in first:
                found.append(path)
    return found


def top_level_imports(path: Path) -> set[str]:
    """Absolute imports anywhere in the module (also inside functions: a lazy import is still a requirement)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def declared(pyproject: Path) -> set[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    return {canonicalize_name(project["name"])} | {canonicalize_name(Requirement(r).name) for r in requirements}


def dev_requirements() -> set[str]:
    lines = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    return {canonicalize_name(Requirement(line.split("#")[0]).name) for line in lines if line.split("#")[0].strip()}


@lru_cache(maxsize=1)
def providers() -> dict[str, list[str]]:
    return packages_distributions()


def undeclared(files: list[Path], allowed: set[str], root: Path = ROOT) -> dict[str, list[str]]:
    """``{module: [files]}`` for imports no allowed distribution provides (nor a module beside the importer)."""
    missing: dict[str, list[str]] = {}
    for path in files:
        for name in top_level_imports(path):
            if name in sys.stdlib_module_names:
                continue
            if (path.parent / f"{name}.py").exists() or (path.parent / name / "__init__.py").exists():
                continue  # a sibling module of the script (bench/benchlib.py)
            dists = {canonicalize_name(d) for d in providers().get(name, [])}
            if not dists & allowed:
                missing.setdefault(name, []).append(str(path.relative_to(root)))
    return missing


def cases():
    everything = set().union(*(declared(p / "pyproject.toml") for p in PACKAGES)) | dev_requirements()
    for package in PACKAGES:
        own = declared(package / "pyproject.toml")
        yield pytest.param(python_files(_code_dir(package)), own, id=f"{package.name}-code")
        if (package / "tests").is_dir():
            yield pytest.param(python_files(package / "tests"), own | dev_requirements(), id=f"{package.name}-tests")
    files = [f for where in ("tests", "bench", "deploy", "conftest.py") for f in python_files(ROOT / where)]
    yield pytest.param(files, everything, id="repository-tools")


@pytest.mark.parametrize("files, allowed", cases())
def test_every_import_is_declared_by_the_package_that_imports_it(files, allowed):
    assert files
    assert undeclared(files, allowed) == {}


def test_the_check_finds_an_undeclared_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("import os\nimport yaml\nfrom . import sibling\n\ndef f():\n    import amqp.exceptions\n")
    assert top_level_imports(module) == {"os", "yaml", "amqp"}
    assert undeclared([module], {"pyyaml"}, root=tmp_path) == {"amqp": ["module.py"]}
    assert undeclared([module], {"pyyaml", "amqp"}, root=tmp_path) == {}


def test_nameko_runs_on_the_declared_setuptools():
    """nameko's command line imports pkg_resources; setuptools 82 removed it and 80.9 to 81 warn on stderr at
    every start (a line that names no service), so the pin must exclude them."""
    from importlib.metadata import version

    from packaging.version import Version

    shared = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [Requirement(r) for r in shared["dependencies"] if canonicalize_name(Requirement(r).name) == "setuptools"]
    assert pins and pins[0].specifier.contains("80.8.0") and pins[0].specifier.contains("65.5.0")  # 3.11's venv
    assert not any(pins[0].specifier.contains(v) for v in ("80.9.0", "81.0.0", "82.0.0", "84.2.1"))
    assert Version(version("setuptools")) in pins[0].specifier
    import pkg_resources  # noqa: F401  (what nameko.cli.main imports)
