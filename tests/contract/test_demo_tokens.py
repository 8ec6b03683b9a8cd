"""Contract: the demo tokens the README lists are the lines ``make run`` prints, one per role, and each is a token
the demo loads for that role, actor and township (issue 11: scripts read them from the README)."""
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^api_key=(\S+) role=(\w+) actor=(\S+) township=(\S+)$")


def readme_lines():
    return [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("api_key=")]


def test_the_readme_lists_what_make_run_prints_one_line_per_role():
    from township_shared.auth import ROLES

    spec = importlib.util.spec_from_file_location("deploy_run", ROOT / "deploy" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)

    lines = readme_lines()
    assert lines == run.demo_token_lines().splitlines()
    assert all(LINE.match(line) for line in lines)
    assert [LINE.match(line).group(2) for line in lines] == [r for r in ROLES if r != "public"]


@pytest.mark.integration
def test_each_readme_token_is_the_demos(demo):
    from identity import handlers

    repo = demo("identity")
    for line in readme_lines():
        token, role, actor, township = LINE.match(line).groups()
        principal = handlers.resolve(repo, token)
        assert (principal.role, principal.actor, principal.township_id or "-") == (role, actor, township)


def test_the_readmes_console_sign_in_table_gives_the_same_codes():
    """The README starts with the console's address and its demo sign-ins (issue 16): the same codes, role by role."""
    import re

    from identity.demo import shown_lines

    head = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## ")[0]
    assert "http://127.0.0.1:8000/" in head
    table = {(role, actor): code for role, actor, code in
             re.findall(r"^\| (\w+)[^|]* \| (\S+)[^|]* \| `(tp_\w+)` \|$", head, re.M)}
    shown = {}
    for line in shown_lines():
        fields = dict(part.split("=", 1) for part in line.split())
        shown[(fields["role"], fields["actor"])] = fields["api_key"]
    assert table == shown
