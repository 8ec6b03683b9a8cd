"""Contract: the README's table of console pages is the console's own registry (every page with its roles)."""
import re
from pathlib import Path

from gateway.console.web import PAGES, page_table
from township_shared.auth import ROLES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Console pages and who may open them")[1].split("\n## ")[0]


def test_the_readme_lists_every_console_page_with_its_roles():
    assert page_table() in SECTION, "regenerate it: .venv/bin/python -m gateway.roles console"


def test_every_page_declares_known_roles_and_menu_pages_are_gets():
    assert len(PAGES.pages) >= 5
    for p in PAGES.pages:
        assert set(p.roles) <= set(ROLES), p.rule
        if p.nav:
            assert "GET" in p.methods and "<" not in p.rule, f"{p.rule}: a menu entry must be a plain GET page"


def test_no_two_pages_share_a_rule_and_method():
    seen = set()
    for p in PAGES.pages:
        for method in p.methods:
            key = (method, re.sub(r"<[^>]+>", "<>", p.rule))
            assert key not in seen, key
            seen.add(key)
