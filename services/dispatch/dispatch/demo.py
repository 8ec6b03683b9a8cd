"""Load the demo county's dispatch data (idempotent): township settings from the category catalogue, the actors
(units, double check-in Party members, volunteers, social organisations) and the responsibility list.

Usage: ``python -m dispatch.demo [county.yaml [actors.yaml]]`` with ``MONGODB_URI`` from config.yaml."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from township_shared.config import REPO_ROOT, load_config, mongo_database_name
from township_shared.mongo import make_client
from township_shared.schemas.dispatch import ActorSchema
from township_shared.schemas.reference import CategorySchema

from .repository import DispatchRepository

DEFAULT_COUNTY = REPO_ROOT / "deploy" / "demo" / "county.yaml"
DEFAULT_ACTORS = REPO_ROOT / "deploy" / "demo" / "actors.yaml"
KIND_OF_SECTION = {"units": "unit", "party_members": "party_member", "volunteers": "volunteer",
                   "social_orgs": "social_org"}


def catalogue_settings() -> dict[str, dict[str, Any]]:
    text = resources.files("township_shared").joinpath("data/categories.yaml").read_text(encoding="utf-8")
    return {c["code"]: {"handling_days": c["handling_days"], "keywords": c["keywords"],
                        "terms": c["terms"], "community_service": c["community_service"], "default_urgency": c["default_urgency"]}
            for c in CategorySchema(many=True).load(yaml.safe_load(text))}


def load_dispatch_data(repo: DispatchRepository, county: dict[str, Any], actors: dict[str, Any]) -> dict[str, int]:
    """Save settings, actors and rules of every township in ``county``; returns actor counts per township."""
    categories = catalogue_settings()
    counts = {}
    for township in county["townships"]:
        tid = township["id"]
        villages = {v["code"]: {"lat": v["lat"], "long": v["long"]} for v in township.get("villages", [])
                    if v.get("lat") is not None and v.get("long") is not None}
        repo.save_township(tid, {"timezone": township.get("timezone", "Asia/Shanghai"), "categories": categories,
                                 "villages": villages})
        data = actors["townships"].get(tid, {})
        n = 0
        for section, kind in KIND_OF_SECTION.items():
            for item in data.get(section, []):
                actor = ActorSchema().load({**item, "kind": kind})
                repo.upsert_actor(tid, actor)
                n += 1
        repo.replace_rules(tid, [{"category": r["category"], "villages": list(r["villages"]), "lead": r["lead"],
                                  "co_handlers": list(r.get("co_handlers") or [])}
                                 for r in data.get("responsibilities", [])])
        counts[tid] = n
    return counts


def load_demo(database) -> DispatchRepository:
    """Dispatch's repository on ``database`` with its indexes, the demo county's settings, actors and rules
    (``services.toml``'s demo loader: ``make run`` and the tests call it)."""
    repo = DispatchRepository(database)
    repo.ensure_indexes()
    load_dispatch_data(repo, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")),
                       yaml.safe_load(DEFAULT_ACTORS.read_text(encoding="utf-8")))
    return repo


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    county_path = Path(argv[0]) if argv else DEFAULT_COUNTY
    actors_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_ACTORS
    config = load_config()
    client = make_client(config["MONGODB_URI"])
    repo = DispatchRepository(client[mongo_database_name(config, "dispatch")])
    repo.ensure_indexes()
    counts = load_dispatch_data(repo, yaml.safe_load(county_path.read_text(encoding="utf-8")),
                                yaml.safe_load(actors_path.read_text(encoding="utf-8")))
    print("demo dispatch data loaded: " + ", ".join(f"{t} ({n} actors)" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
