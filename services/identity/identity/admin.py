"""Identity administration from the command line, for what no token can do yet: a real deployment's first office
token, a county's token, revoking a token whatever its township (decision 38).

    python -m identity.admin townships deploy/demo/county.yaml      # the county's townships (id, county, villages)
    python -m identity.admin issue --township qingshui --actor office:wang [--label "Wang's laptop"]
    python -m identity.admin issue --county lanxi                   # actor county:lanxi, its townships
    python -m identity.admin revoke 3f2a9c0d1e4b5a69

It writes to identity's database (``MONGODB_URI``, ``MONGODB_DB_PREFIX`` from config.yaml) directly; the
``token_issued`` / ``token_revoked`` event waits in the token's outbox until the identity service's relay
publishes it (within ``OUTBOX_GRACE_SECONDS`` of the write when the service runs, else when it starts). The token
is printed once, as ``api_key=<token> role=<role> actor=<actor> township=<township or ->``; it is not stored.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from township_shared.clock import utcnow
from township_shared.config import load_config, mongo_database_name
from township_shared.errors import ServiceError
from township_shared.mongo import make_client

from . import handlers
from .repository import IdentityRepository

ISSUED_BY = "service:identity-admin"
ADMIN_ROLES = ("office", "county")  # an office issues every other role itself (POST /api/v1/tokens)
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _code(value: str) -> str:
    if not CODE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a lower-case code (a-z, 0-9, _ or -)")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m identity.admin", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    townships = sub.add_parser("townships", help="load the townships of a county file (county.yaml's form)")
    townships.add_argument("county_file", type=Path)
    issue = sub.add_parser("issue", help="issue a token and print it once")
    where = issue.add_mutually_exclusive_group(required=True)
    where.add_argument("--township", type=_code, help="the township of an office token")
    where.add_argument("--county", type=_code, help="a county token: reads the county's townships")
    issue.add_argument("--role", choices=ADMIN_ROLES, help="office with --township (default), county with --county")
    issue.add_argument("--actor", help="<role>:<id>, e.g. office:wang (default for a county: county:<county>)")
    issue.add_argument("--label", help="what the token is for")
    revoke = sub.add_parser("revoke", help="revoke a token by its id (16 hex digits)")
    revoke.add_argument("token_id")
    return p


def run(repo: IdentityRepository, argv: list[str], out=sys.stdout) -> int:
    args = parser().parse_args(argv)
    if args.command == "townships":
        county = yaml.safe_load(args.county_file.read_text(encoding="utf-8"))
        print(f"townships loaded: {', '.join(handlers.load_townships(repo, county))}", file=out)
        return 0
    if args.command == "revoke":
        doc = handlers.revoke(repo, utcnow(), args.token_id, ISSUED_BY)
        print(f"revoked token {doc['token_id']} of {doc['actor']} at {doc['revoked_at'].isoformat()}", file=out)
        return 0
    role = args.role or ("county" if args.county else "office")
    if (role == "county") != bool(args.county):
        raise SystemExit("a county token takes --county, an office token --township")
    actor = args.actor or (f"county:{args.county}" if args.county else None)
    if actor is None or not actor.startswith(f"{role}:") or not CODE.match(actor.partition(":")[2]):
        raise SystemExit(f"--actor must be {role}:<id>, the id a lower-case code (e.g. {role}:wang)")
    doc, token = handlers.issue_by_admin(repo, utcnow(), role=role, actor=actor, township_id=args.township,
                                         county_id=args.county, label=args.label, issued_by=ISSUED_BY)
    print(f"api_key={token} role={role} actor={actor} township={args.township or '-'}", file=out)
    print(f"token id {doc['token_id']}: shown this once, stored only as its hash", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    config = load_config()
    client = make_client(config["MONGODB_URI"])
    repo = IdentityRepository(client[mongo_database_name(config, "identity")])
    repo.ensure_indexes()
    try:
        return run(repo, sys.argv[1:] if argv is None else argv)
    except ServiceError as exc:
        print(f"identity.admin: {exc.body['message']}", file=sys.stderr)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
