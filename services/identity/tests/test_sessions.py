"""Console sessions (decision 90): opened with an active token, ended by sign-out, expiry or the token's revocation."""
from datetime import datetime, timedelta, timezone

import pytest

from identity import handlers
from identity.demo import DEFAULT_COUNTY
from identity.repository import IdentityRepository
from township_shared import auth
from township_shared.errors import Unauthorized

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def issued(mongo_client, db_prefix):
    repo = IdentityRepository(mongo_client[f"{db_prefix}_identity"])
    repo.ensure_indexes()
    import yaml

    handlers.load_townships(repo, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")))
    doc, token = handlers.issue_by_admin(repo, NOW, role="office", actor="office:wang", township_id="qingshui",
                                         county_id=None, label=None, issued_by="admin")
    return repo, doc, token


def test_a_session_resolves_to_its_tokens_principal_and_is_stored_only_as_a_hash(issued):
    repo, doc, token = issued
    session, principal = handlers.open_session(repo, token, NOW, 3600)
    assert session.startswith("ts_") and principal.actor == "office:wang"
    assert handlers.resolve_session(repo, session, NOW + timedelta(minutes=59)).actor == "office:wang"
    stored = repo.sessions.find_one({})
    assert stored["_id"] == auth.token_hash(session) and session not in str(stored) and token not in str(stored)


def test_a_session_ends_with_sign_out_expiry_and_the_tokens_revocation(issued):
    repo, doc, token = issued
    first, _ = handlers.open_session(repo, token, NOW, 3600)
    with pytest.raises(Unauthorized):
        handlers.resolve_session(repo, first, NOW + timedelta(hours=1, seconds=1))
    second, _ = handlers.open_session(repo, token, NOW, 3600)
    assert handlers.close_session(repo, second, NOW) is True
    assert handlers.close_session(repo, second, NOW) is False
    with pytest.raises(Unauthorized):
        handlers.resolve_session(repo, second, NOW)
    third, _ = handlers.open_session(repo, token, NOW, 3600)
    handlers.revoke(repo, NOW, doc["token_id"], "office:li", "qingshui")
    with pytest.raises(Unauthorized):
        handlers.resolve_session(repo, third, NOW)


@pytest.mark.parametrize("bad", [None, "", "tp_not_a_session", "ts_unknown", "ts_" + "x" * 300, 42])
def test_anything_else_is_refused_with_the_one_message(issued, bad):
    repo, _, _ = issued
    with pytest.raises(Unauthorized):
        handlers.resolve_session(repo, bad, NOW)
    with pytest.raises(Unauthorized):
        handlers.open_session(repo, bad, NOW, 60)
