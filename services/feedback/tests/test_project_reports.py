"""A report names an approved funds project of the reporting organisation (decision 66), on the real
MongoDB-compatible server with a fake funds: known from funds' project_approved, asked about once otherwise."""
from datetime import date, datetime, timezone

import pytest

from township_shared.errors import Unavailable, ValidationFailed
from township_shared.events import load_event, make_event
from township_shared.schemas.funds import ProjectApprovedV1

from feedback import handlers
from feedback.repository import FeedbackRepository

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 29, 3, tzinfo=timezone.utc)
SUNSHINE = "social_org:so_sunshine_elderly"
FACTS = {"project_id": "p1", "status": "approved", "proposer": {"kind": "social_org", "id": "so_sunshine_elderly"},
         "village": "dongpo", "milestones": ["first month"]}
REPORT = {"project": "p1", "kind": "milestone", "milestone": "first month", "text": "送餐", "people_served": 4,
          "hours": 6.0, "evidence_urls": ["https://example.org/p.jpg"]}


class FakeFunds:
    def __init__(self, *projects, down=False):
        self.projects = {p["project_id"]: p for p in projects}
        self.asked, self.down = 0, down

    def project_facts(self, township_id, project_id):
        self.asked += 1
        if self.down:
            raise Unavailable("funds did not answer within 5 s")
        return self.projects.get(project_id) if township_id == "qingshui" else None


@pytest.fixture
def repo(mongo_client, db_prefix):
    repo = FeedbackRepository(mongo_client[f"{db_prefix}_feedback"])
    repo.ensure_indexes()
    return repo


def test_a_project_funds_announced_needs_no_question(repo):
    handlers.note_project(repo, load_event(make_event(ProjectApprovedV1, {
        "project_id": "p1", "village": "dongpo", "proposer": FACTS["proposer"], "title": "t", "approved_fen": 100,
        "advance_percent": 30, "milestones": [{"name": "first month", "share_percent": 20, "due": date(2026, 12, 1)}],
        "decided_by": "office:wang", "reason": None}, source="funds", township_id="qingshui",
        correlation_id="p1")))
    funds = FakeFunds()
    project = handlers.check_project(repo, funds, "qingshui", SUNSHINE, REPORT)
    assert project["village"] == "dongpo" and funds.asked == 0
    report = handlers.submit_report(repo, NOW, "qingshui", SUNSHINE, REPORT, project)
    assert report["village"] == "dongpo" and report["project"] == "p1"


def test_a_project_not_heard_of_is_asked_about_once(repo):
    funds = FakeFunds(FACTS)
    for _ in range(2):
        handlers.check_project(repo, funds, "qingshui", SUNSHINE, REPORT)
    assert funds.asked == 1


@pytest.mark.parametrize("funds, who, changes, field", [
    (FakeFunds(), SUNSHINE, {}, "project"),                                      # funds has no such project
    (FakeFunds({**FACTS, "status": "proposed"}), SUNSHINE, {}, "project"),       # not approved
    (FakeFunds(FACTS), "social_org:so_handy_repairs", {}, "project"),            # another organisation's
    (FakeFunds(FACTS), SUNSHINE, {"milestone": "second month"}, "milestone"),     # not one of its milestones
    (FakeFunds(FACTS), SUNSHINE, {"village": "xihe"}, "village"),                 # not where the project is
])
def test_a_report_on_anything_else_is_refused_naming_the_field(repo, funds, who, changes, field):
    with pytest.raises(ValidationFailed) as refused:
        handlers.check_project(repo, funds, "qingshui", who, {**REPORT, **changes})
    assert field in refused.value.body["fields"]


def test_funds_unavailable_is_an_error_the_client_retries(repo):
    with pytest.raises(Unavailable):
        handlers.check_project(repo, FakeFunds(down=True), "qingshui", SUNSHINE, REPORT)
