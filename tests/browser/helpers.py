"""Steps the browser tests share: signing in as a demo actor, axe-core checks."""
from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

AXE = Axe()
SERIOUS = ("serious", "critical")


def sign_in(page, actor: str, township: str | None = "qingshui") -> None:
    from township_shared.testing import OFFICE_ACTOR, token_for

    page.goto("/console/signin")
    page.fill("#token", token_for(OFFICE_ACTOR if actor == "office" else actor, township))
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "/console/signin" not in page.url, page.content()[:2000]


def serious_violations(page) -> list[str]:
    """The page's axe-core violations of serious or critical impact, as ``rule: target`` lines."""
    results = AXE.run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in SERIOUS:
            for node in violation.get("nodes", []):
                found.append(f"{violation['id']} ({violation['impact']}): {node.get('target')} {violation['help']}")
    return found
