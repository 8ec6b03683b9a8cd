"""The platform's services as data, read from ``services.toml`` at the repository root (decision 26).

Everything that starts, installs or tests "every service" takes the list from here (or, the Makefile, from the
file itself), so a new service is one entry there plus its package; ``tests/contract/test_wiring.py`` checks the
rest. The file is TOML because the Makefile reads it with the system Python before any virtualenv exists
(``tomllib`` is in the standard library); nothing is read at import time."""
from __future__ import annotations

import importlib
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SERVICES_FILE = Path(__file__).resolve().parents[2] / "services.toml"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    entrypoint: str
    demo: str | None = None
    metrics_port: int | None = None

    @property
    def module(self) -> str:
        """What ``nameko run`` is given."""
        return self.entrypoint.partition(":")[0]

    @property
    def metrics_variable(self) -> str | None:
        return f"METRICS_PORT_{self.name.upper()}" if self.metrics_port is not None else None

    def service_class(self) -> type:
        module, _, cls = self.entrypoint.partition(":")
        return getattr(importlib.import_module(module), cls)

    def load_demo(self, database) -> Any:
        """Load the demo county's data of this service into ``database`` (idempotent); None without demo data."""
        return importlib.import_module(self.demo).load_demo(database) if self.demo else None


def read_services(path: str | os.PathLike | None = None) -> tuple[ServiceSpec, ...]:
    with open(path or SERVICES_FILE, "rb") as fh:
        return tuple(ServiceSpec(**entry) for entry in tomllib.load(fh)["service"])


@lru_cache(maxsize=1)
def services() -> tuple[ServiceSpec, ...]:
    """Every service, in start order."""
    return read_services()


def service(name: str) -> ServiceSpec:
    for spec in services():
        if spec.name == name:
            return spec
    raise KeyError(f"no service {name!r} in {SERVICES_FILE.name}")
