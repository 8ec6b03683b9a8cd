"""Load the demo county's identity data (idempotent): its townships (id, county, villages) and a fixed token
(:func:`township_shared.auth.demo_token`) for every demo actor of ``deploy/demo/actors.yaml``, an office clerk, a
meeting secretary and a supervision group per township, and the county.

The tokens are loaded, not issued: no ``token_issued`` is announced for them, as dispatch announces nothing for
its demo actors. A token revoked since is left revoked. They exist only where the demo is loaded; a real
deployment issues its first office token with ``python -m identity.admin issue``.

Usage: ``python -m identity.demo`` with ``MONGODB_URI`` from config.yaml; prints the tokens of
:data:`SHOWN` (what ``make run`` prints and the README lists)."""
from __future__ import annotations

import sys
from typing import Any, Iterator

import yaml

from township_shared import auth
from township_shared.clock import utcnow
from township_shared.config import REPO_ROOT, load_config, mongo_database_name
from township_shared.mongo import make_client

from . import domain, handlers
from .repository import IdentityRepository

DEFAULT_COUNTY = REPO_ROOT / "deploy" / "demo" / "county.yaml"
DEFAULT_ACTORS = REPO_ROOT / "deploy" / "demo" / "actors.yaml"
KIND_OF_SECTION = {"units": "unit", "party_members": "party_member", "volunteers": "volunteer",
                   "social_orgs": "social_org"}
OFFICE, MEETING = "office:demo_clerk", "meeting:secretary"
SUPERVISION = {"qingshui": ("supervision:dongpo_residents", ("dongpo", "xihe")),
               "baiyun": ("supervision:yunfeng_residents", ("yunfeng", "songlin"))}
ISSUED_BY = "service:identity-demo"
# the demo tokens ``make run`` prints and the README lists: one per role, of qingshui (the county's has none)
SHOWN_TOWNSHIP = "qingshui"
SHOWN = (("office", OFFICE), ("unit", "unit:water_station"), ("party_member", "party_member:pm001"),
         ("volunteer", "volunteer:v001"), ("social_org", "social_org:so_sunshine_elderly"),
         ("supervision", SUPERVISION[SHOWN_TOWNSHIP][0]), ("meeting", MEETING), ("county", "county:lanxi"))


def read_yaml(path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def demo_actors(county: dict[str, Any], actors: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Who gets a demo token: ``{role, actor, township_id, county_id, villages}`` for each."""
    for township in county["townships"]:
        tid, county_id = township["id"], township.get("county")
        base = {"township_id": tid, "county_id": county_id, "villages": ()}
        yield {**base, "role": "office", "actor": OFFICE}
        yield {**base, "role": "meeting", "actor": MEETING}
        if tid in SUPERVISION:
            group, villages = SUPERVISION[tid]
            yield {**base, "role": "supervision", "actor": group, "villages": villages}
        for section, kind in KIND_OF_SECTION.items():
            for item in actors["townships"].get(tid, {}).get(section, []):
                yield {**base, "role": kind, "actor": f"{kind}:{item['id']}"}
    code = county["county"]["code"]
    yield {"township_id": None, "county_id": code, "villages": (), "role": "county", "actor": f"county:{code}"}


def load_identity_data(repo: IdentityRepository, county: dict[str, Any], actors: dict[str, Any]) -> int:
    """Save the county's townships and every demo token not stored yet; returns how many tokens were new."""
    handlers.load_townships(repo, county)
    now = utcnow()
    docs = []
    for who in demo_actors(county, actors):
        townships = ([who["township_id"]] if who["township_id"]
                     else [t["id"] for t in county["townships"] if t.get("county") == who["county_id"]])
        docs.append(domain.token_document(
            auth.demo_token(who["township_id"], who["actor"]), role=who["role"], actor=who["actor"],
            township_id=who["township_id"], county_id=who["county_id"], townships=townships,
            villages=who["villages"], label="demo", issued_by=ISSUED_BY, now=now))
    return repo.insert_tokens(docs)


def load_demo(database) -> IdentityRepository:
    """Identity's repository on ``database`` with its indexes and the demo county's townships and tokens
    (``services.toml``'s demo loader: ``make run`` and the tests call it)."""
    repo = IdentityRepository(database)
    repo.ensure_indexes()
    load_identity_data(repo, read_yaml(DEFAULT_COUNTY), read_yaml(DEFAULT_ACTORS))
    return repo


def token_line(role: str, actor: str, township_id: str | None) -> str:
    """One demo token as ``make run`` prints it and the README lists it (a county's township is ``-``)."""
    return (f"api_key={auth.demo_token(township_id, actor)} role={role} actor={actor} "
            f"township={township_id or '-'}")


def shown_lines() -> list[str]:
    return [token_line(role, actor, None if role == "county" else SHOWN_TOWNSHIP) for role, actor in SHOWN]


def main() -> int:
    config = load_config()
    client = make_client(config["MONGODB_URI"])
    repo = IdentityRepository(client[mongo_database_name(config, "identity")])
    repo.ensure_indexes()
    new = load_identity_data(repo, read_yaml(DEFAULT_COUNTY), read_yaml(DEFAULT_ACTORS))
    print(f"demo identity data loaded: {new} new demo token(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
