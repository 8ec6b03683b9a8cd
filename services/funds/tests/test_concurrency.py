"""Allocations racing for one pool on the real MongoDB-compatible server (200 green threads, as nameko's workers
run): the pool never commits more than its budget, the sum granted is what fits, none is lost, and every caller
is told: granted, or refused with what was available."""
import uuid
from datetime import datetime, timezone

import eventlet
import pytest

from township_shared import auth
from township_shared.errors import Conflict
from township_shared.schemas import funds as fs

from funds import handlers, ledger
from funds.domain import Act
from funds.repository import FundsRepository

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
OFFICE = Act("office:clerk", NOW)


@pytest.fixture
def funds_repo(mongo_client, db_prefix):
    repo = FundsRepository(mongo_client[f"{db_prefix}_funds"])
    repo.ensure_indexes()
    repo.save_township("qingshui", ["dongpo"])
    return repo


def approved_projects(repo, count, requested):
    ids = []
    for n in range(count):
        who = auth.Principal(role="social_org", actor=f"social_org:so{n}", township_id="qingshui")
        body = fs.ProjectProposalSchema().load({"title": f"p{n}", "village": "dongpo", "category": "elderly_care",
                                                "requested_fen": requested, "advance_percent": 0})
        project = handlers.propose(repo, Act(who.actor, NOW), who, body, "k", 30)
        handlers.review(repo, OFFICE, "qingshui", project["_id"], {"decision": "approve", "reason": None}, 10**9)
        ids.append(project["_id"])
    return ids


def race(repo, project_ids, amount_of):
    outcomes = {}

    def one(project_id):
        try:
            _, result = handlers.allocate(repo, OFFICE, "qingshui", project_id,
                                          {"parts": [{"pool": "contended", "amount_fen": amount_of(project_id)}]},
                                          uuid.uuid4().hex)
            outcomes[project_id] = ("granted", result["amount_fen"])
        except Conflict as exc:
            outcomes[project_id] = ("refused", exc.body)

    pool = eventlet.GreenPool(len(project_ids))
    for project_id in project_ids:
        pool.spawn(one, project_id)
    pool.waitall()
    return outcomes


def test_200_concurrent_allocations_grant_exactly_what_fits(funds_repo):
    handlers.create_pool(funds_repo, OFFICE, "qingshui", {"code": "contended", "name": "c", "year": 2026,
                                                          "source": "venture_philanthropy", "owner_village": None,
                                                          "budget_fen": 1_000_000, "reason": "opening"})
    ids = approved_projects(funds_repo, 200, 7_000)
    outcomes = race(funds_repo, ids, lambda _: 7_000)
    assert len(outcomes) == 200, "a caller got no answer"
    granted = [o[1] for o in outcomes.values() if o[0] == "granted"]
    refused = [o[1] for o in outcomes.values() if o[0] == "refused"]
    assert sum(granted) == 1_000_000 // 7_000 * 7_000 == 994_000
    assert len(refused) == 200 - 142
    assert all(r["pool"] == "contended" and r["asked_fen"] == 7_000 and r["available_fen"] < 7_000 for r in refused)
    pool = funds_repo.get_pool("qingshui", "contended")
    assert pool["available_fen"] == 6_000 and pool["pending_n"] == 0
    funds_repo.flush_township("qingshui")
    figures = ledger.pool_figures(funds_repo.totals("qingshui"))["contended"]
    assert figures["committed_fen"] == 994_000 and figures["available_fen"] == 6_000


def test_uneven_requests_never_overspend_and_refusals_say_what_was_available(funds_repo):
    handlers.create_pool(funds_repo, OFFICE, "qingshui", {"code": "contended", "name": "c", "year": 2026,
                                                          "source": "venture_philanthropy", "owner_village": None,
                                                          "budget_fen": 300_000, "reason": "opening"})
    ids = approved_projects(funds_repo, 120, 20_000)
    amounts = {project_id: 1_000 + (n * 7_919) % 19_000 for n, project_id in enumerate(ids)}
    outcomes = race(funds_repo, ids, amounts.get)
    granted = sum(o[1] for o in outcomes.values() if o[0] == "granted")
    pool = funds_repo.get_pool("qingshui", "contended")
    assert granted + pool["available_fen"] == 300_000 and pool["available_fen"] >= 0
    smallest_refused = min(amounts[p] for p, o in outcomes.items() if o[0] == "refused")
    assert pool["available_fen"] < smallest_refused, "something that fitted was refused"
    for project_id, (state, body) in outcomes.items():
        if state == "refused":
            assert body["available_fen"] < amounts[project_id]
