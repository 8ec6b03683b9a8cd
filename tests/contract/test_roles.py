"""Contract: the README's role table is the gateway's: every route with the roles its declaration grants (the
gateway enforces the declaration; tests/e2e/test_role_matrix.py walks the table against the running stack)."""
import re
from pathlib import Path

from gateway import openapi
from gateway.service import GatewayService
from township_shared.auth import ROLES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
ROLE_SECTION = README.split("## Who may do what")[1].split("\n## ")[0]


def readme_rows() -> dict[tuple[str, str], set[str]]:
    rows = {}
    for method, path, roles in re.findall(r"^\| `(GET|POST|PATCH|PUT|DELETE) (\S+)` \| ([^|]+) \|$", ROLE_SECTION, re.M):
        granted = set(ROLES) if roles.startswith("everyone") else {r.strip() for r in roles.split(",")}
        assert (method, path) not in rows, f"{method} {path} is in the README's role table twice"
        rows[(method, path)] = granted
    return rows


def test_the_readme_role_table_is_the_gateways():
    declared = {(m, p): set(r) for m, p, r in openapi.role_rows(GatewayService)}
    assert len(declared) >= 40
    assert readme_rows() == declared, ("regenerate the README's role table: .venv/bin/python -m gateway.roles")


def test_every_role_in_the_table_is_a_known_role():
    for route, granted in readme_rows().items():
        assert granted <= set(ROLES), route
