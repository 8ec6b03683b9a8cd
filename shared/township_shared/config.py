"""Configuration: one ``config.yaml`` with ``${ENV:default}`` interpolation, the nameko convention.

The same file feeds ``nameko run --config`` and the project's own scripts, so a variable means the same thing
everywhere. Loading happens only when a caller asks; nothing is read at import time.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.yaml"


def load_config(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Read the config file (``CONFIG`` env var, else the repository's ``config.yaml``) with env interpolation."""
    from nameko.cli.main import setup_yaml_parser

    setup_yaml_parser()
    path = Path(path or os.environ.get("CONFIG") or DEFAULT_CONFIG_PATH)
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def mongo_database_name(config: dict[str, Any], service: str) -> str:
    """Each service keeps its documents in its own database: ``<MONGODB_DB_PREFIX>_<service>``."""
    return f"{config.get('MONGODB_DB_PREFIX', 'township')}_{service}"
