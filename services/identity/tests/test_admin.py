"""``python -m identity.admin``: a deployment's first office token and a county's, from the command line."""
import io
import os
import re
import subprocess
import sys

import pytest

from identity import admin, handlers
from identity.demo import DEFAULT_COUNTY
from identity.repository import IdentityRepository
from township_shared import auth
from township_shared.errors import NotFound, Unauthorized
from township_shared.events import load_event

pytestmark = pytest.mark.integration
LINE = re.compile(r"^api_key=(tp_\S+) role=(\w+) actor=(\S+) township=(\S+)$")


@pytest.fixture
def irepo(mongo_client, db_prefix):
    """An empty identity database: a real deployment, no demo."""
    repo = IdentityRepository(mongo_client[f"{db_prefix}_identity"])
    repo.ensure_indexes()
    return repo


def run(repo, *argv):
    out = io.StringIO()
    assert admin.run(repo, list(argv), out) == 0
    return out.getvalue()


def test_the_first_office_token_of_a_township(irepo):
    with pytest.raises(NotFound):  # the township must be known first
        run(irepo, "issue", "--township", "qingshui", "--actor", "office:wang")
    assert run(irepo, "townships", str(DEFAULT_COUNTY)) == "townships loaded: qingshui, baiyun\n"
    printed = run(irepo, "issue", "--township", "qingshui", "--actor", "office:wang", "--label", "first")
    token, role, actor, township = LINE.match(printed.strip()).groups()
    assert (role, actor, township) == ("office", "office:wang", "qingshui")
    principal = handlers.resolve(irepo, token)
    assert (principal.role, principal.township_id, principal.county_id) == ("office", "qingshui", "lanxi")
    stored = irepo.tokens.find_one({"token_id": auth.token_id(token)})
    assert token not in repr(stored)
    (event,) = [load_event(e) for e in stored["outbox"]]  # published by the service's relay
    assert (event.type, event.actor) == ("token_issued", "service:identity-admin")


def test_a_county_token_reads_the_countys_townships(irepo):
    run(irepo, "townships", str(DEFAULT_COUNTY))
    token, role, actor, township = LINE.match(run(irepo, "issue", "--county", "lanxi").strip()).groups()
    assert (role, actor, township) == ("county", "county:lanxi", "-")
    principal = handlers.resolve(irepo, token)
    assert principal.township_id is None and set(principal.townships) == {"qingshui", "baiyun"}
    assert load_event(irepo.tokens.find_one({"token_id": principal.token_id})["outbox"][0]).township_id == "lanxi"
    with pytest.raises(NotFound):
        run(irepo, "issue", "--county", "elsewhere")


def test_revoke_from_the_command_line(irepo):
    run(irepo, "townships", str(DEFAULT_COUNTY))
    token = LINE.match(run(irepo, "issue", "--township", "baiyun", "--actor", "office:li").strip()).group(1)
    printed = run(irepo, "revoke", auth.token_id(token))
    assert printed.startswith(f"revoked token {auth.token_id(token)} of office:li at ")
    with pytest.raises(Unauthorized):
        handlers.resolve(irepo, token)
    with pytest.raises(NotFound):
        run(irepo, "revoke", "0123456789abcdef")


@pytest.mark.parametrize("argv", [
    ("issue", "--township", "qingshui", "--actor", "unit:water_station"),
    ("issue", "--township", "qingshui", "--role", "county"),
    ("issue", "--township", "qingshui"),
    ("issue", "--township", "Qingshui", "--actor", "office:wang"),
    ("issue", "--township", "qingshui", "--county", "lanxi"),
    ("issue", "--township", "qingshui", "--role", "unit", "--actor", "unit:water_station"),
])
def test_what_the_command_line_refuses(irepo, argv, capsys):
    run(irepo, "townships", str(DEFAULT_COUNTY))
    with pytest.raises(SystemExit) as exit_:
        admin.run(irepo, list(argv), io.StringIO())
    assert exit_.value.code not in (0, None)
    assert irepo.tokens.count_documents({}) == 0


def test_python_m_identity_admin(mongo_uri, db_prefix, irepo):
    env = {**os.environ, "MONGODB_URI": mongo_uri, "MONGODB_DB_PREFIX": db_prefix}
    command = [sys.executable, "-m", "identity.admin"]
    loaded = subprocess.run(command + ["townships", str(DEFAULT_COUNTY)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    issued = subprocess.run(command + ["issue", "--township", "qingshui", "--actor", "office:wang"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert issued.returncode == 0, issued.stderr
    token = LINE.match(issued.stdout.strip()).group(1)
    assert handlers.resolve(irepo, token).actor == "office:wang"
    unknown = subprocess.run(command + ["revoke", "0123456789abcdef"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 1 and "no token" in unknown.stderr
