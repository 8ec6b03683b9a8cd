"""Load a county's townships, villages and the category catalogue into intake's database (idempotent).

Usage: ``python -m intake.demo [county.yaml]`` with ``MONGODB_URI`` / ``MONGODB_DB_PREFIX`` from config.yaml."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from township_shared.config import REPO_ROOT, load_config, mongo_database_name
from township_shared.mongo import make_client
from township_shared.schemas.reference import CategorySchema, TownshipSchema, VillageSchema

from .repository import DemandRepository

DEFAULT_COUNTY = REPO_ROOT / "deploy" / "demo" / "county.yaml"


def default_catalogue() -> list[dict[str, Any]]:
    text = resources.files("township_shared").joinpath("data/categories.yaml").read_text(encoding="utf-8")
    return CategorySchema(many=True).load(yaml.safe_load(text))


def load_county(repo: DemandRepository, county: dict[str, Any]) -> list[str]:
    """Save every township of ``county`` with its villages and the default catalogue; returns township ids."""
    catalogue = default_catalogue()
    ids = []
    for item in county["townships"]:
        villages = VillageSchema(many=True).load(item["villages"])
        township = TownshipSchema().load({k: v for k, v in item.items() if k != "villages"})
        repo.save_township(township, villages, catalogue)
        ids.append(township["id"])
    return ids


def load_demo(database) -> DemandRepository:
    """Intake's repository on ``database`` with its indexes and the demo county loaded (``services.toml``'s demo
    loader: ``make run`` and the tests call it)."""
    repo = DemandRepository(database)
    repo.ensure_indexes()
    load_county(repo, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")))
    return repo


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else DEFAULT_COUNTY
    config = load_config()
    client = make_client(config["MONGODB_URI"])
    repo = DemandRepository(client[mongo_database_name(config, "intake")])
    repo.ensure_indexes()
    ids = load_county(repo, yaml.safe_load(path.read_text(encoding="utf-8")))
    print(f"demo county loaded: townships {', '.join(ids)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
