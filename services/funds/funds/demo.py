"""Load the demo county's funds data (idempotent): each township's villages (from the county file, to check a
project's or a pool's village) and the demo budget pools of 2026 with their opening ledger entries.

The pools are loaded, not opened through the service: like dispatch's demo actors they announce nothing, but every
figure still comes from the ledger (their opening ``budget_raised`` entries are stored with them).

Usage: ``python -m funds.demo [county.yaml]`` with ``MONGODB_URI`` from config.yaml."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from township_shared.clock import utcnow
from township_shared.config import REPO_ROOT, load_config, mongo_database_name
from township_shared.mongo import make_client

from . import domain, journal
from .handlers import op_id
from .repository import FundsRepository, pool_id

DEFAULT_COUNTY = REPO_ROOT / "deploy" / "demo" / "county.yaml"
YUAN = 100  # fen
DEMO_YEAR = 2026
DEMO_POOLS = {  # township -> (code, name, source, owner village or None, budget in yuan)
    "qingshui": [("venture-2026", "2026 公益创投", "venture_philanthropy", None, 800_000),
                 ("purchase-2026", "2026 政府购买服务", "service_purchase", None, 1_500_000),
                 ("award-2026", "2026 以奖代补", "award_subsidy", None, 500_000),
                 ("dongpo-collective-2026", "东坡村 2026 集体收益", "village_collective", "dongpo", 200_000)],
    "baiyun": [("venture-2026", "2026 公益创投", "venture_philanthropy", None, 300_000)],
}
DEMO_ACTOR = "service:funds-demo"


def load_funds_data(repo: FundsRepository, county: dict[str, Any]) -> dict[str, int]:
    """Save every township's villages and the demo pools not stored yet; returns the new pools per township."""
    now = utcnow()
    act = domain.Act(DEMO_ACTOR, now)
    counts = {}
    for township in county["townships"]:
        tid = township["id"]
        repo.save_township(tid, [v["code"] for v in township.get("villages", [])])
        new = 0
        for code, name, source, owner, yuan in DEMO_POOLS.get(tid, []):
            if repo.pools.find_one({"_id": pool_id(tid, code)}, {"_id": 1}):
                continue
            doc = {"_id": pool_id(tid, code), "township_id": tid, "code": code, "name": name, "year": DEMO_YEAR,
                   "source": source, "owner_village": owner, "budget_fen": 0, "available_fen": 0, "pending": {},
                   "pending_n": 0, "credited": [], "changes": [], "created_at": now, "created_by": DEMO_ACTOR}
            record, entries, _ = domain.budget_change(doc, op_id("b", tid, code, "initial"), "initial", yuan * YUAN,
                                                      "demo opening budget", act)
            doc.update(budget_fen=yuan * YUAN, available_fen=yuan * YUAN, changes=[record], rev=1)
            journal.store(repo.ledger, entries)
            repo.pools.insert_one(doc)
            new += 1
        counts[tid] = new
    return counts


def load_demo(database) -> FundsRepository:
    """Funds' repository on ``database`` with its indexes and the demo county's villages and pools
    (``services.toml``'s demo loader: ``make run`` and the tests call it)."""
    repo = FundsRepository(database)
    repo.ensure_indexes()
    load_funds_data(repo, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")))
    return repo


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    county_path = Path(argv[0]) if argv else DEFAULT_COUNTY
    config = load_config()
    client = make_client(config["MONGODB_URI"])
    repo = FundsRepository(client[mongo_database_name(config, "funds")])
    repo.ensure_indexes()
    counts = load_funds_data(repo, yaml.safe_load(county_path.read_text(encoding="utf-8")))
    print("demo funds data loaded: " + ", ".join(f"{t} ({n} new pools)" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
