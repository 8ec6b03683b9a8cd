"""Integration tests of dispatch's repository and handlers against the real MongoDB-compatible server."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from dispatch import domain, handlers
from dispatch.calendar import WorkCalendar
from dispatch.repository import DispatchRepository
from township_shared.store import Stale as StaleCase
from township_shared.events import load_event, make_event
from township_shared.schemas.demands import DemandReceivedV1

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 local
POLICY = domain.Policy()
CALENDAR = WorkCalendar.default()


@pytest.fixture
def drepo(mongo_client, db_prefix):
    repo = DispatchRepository(mongo_client[f"{db_prefix}_dispatch"])
    repo.ensure_indexes()
    repo.save_township("qingshui", {"timezone": "Asia/Shanghai", "categories": {
        "drinking_water": {"handling_days": 5, "keywords": ["停水"], "community_service": False},
        "elderly_care": {"handling_days": 13, "keywords": ["老人"], "community_service": True}}})
    repo.replace_rules("qingshui", [
        {"category": "drinking_water", "villages": ["*"], "lead": "water_station", "co_handlers": ["vc_dongpo"]},
        {"category": "elderly_care", "villages": ["*"], "lead": "civil_affairs", "co_handlers": []}])
    for ident in ("water_station", "vc_dongpo", "civil_affairs"):
        repo.insert_actor("qingshui", {"kind": "unit", "id": ident, "unit_type": "department", "active": True,
                                       "names": {"zh": ident, "en": ident}})
    return repo


def received(case_id, category="drinking_water", village="dongpo", **over):
    payload = {"case_id": case_id, "case_number": f"QS-20261130-{case_id[-4:]}", "channel": "hotline",
               "reporter": {"name": "张三", "phone": "13812345678", "village": village}, "village": village,
               "location": None, "category": category, "title": "停水", "description": "停水两天",
               "urgency": "utilities", "attachments": [], "duplicate_of": None, "received_at": T0}
    payload.update(over)
    return load_event(make_event(DemandReceivedV1, payload, source="intake", township_id="qingshui",
                                 correlation_id=case_id))


def test_demand_is_routed_with_working_day_deadline_and_pending_events(drepo):
    case = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0001"))
    lead, co = case["tasks"]
    assert (lead["assignee_key"], co["assignee_key"]) == ("unit:water_station", "unit:vc_dongpo")
    assert lead["handling_deadline"] == CALENDAR.add_working_days(T0, 5)
    assert [e["type"] for e in case["outbox"]] == ["case_routed", "task_assigned", "task_assigned",
                                                   "case_status_changed"]
    assert case["outbox"][-1]["payload"]["status"] == "dispatched" and case["outbox"][-1]["payload"]["seq"] == 1
    assert drepo.due_alarms(T0 + timedelta(hours=1, minutes=31)) and not drepo.due_alarms(T0 + timedelta(hours=1))


def test_redelivery_stores_nothing_twice(drepo):
    event = received("case0002")
    assert handlers.receive_demand(drepo, T0, POLICY, CALENDAR, event) is not None
    assert handlers.receive_demand(drepo, T0, POLICY, CALENDAR, event) is None
    assert drepo.cases.count_documents({}) == 1


def test_stale_writes_are_refused(drepo):
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0003"))
    a = drepo.get_case("qingshui", "case0003")
    b = drepo.get_case("qingshui", "case0003")
    drepo.save_case(a, [])
    with pytest.raises(StaleCase):
        drepo.save_case(b, [])


def test_concurrent_commands_on_one_case_all_land(drepo):
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0004"))
    lead, co = (t["id"] for t in drepo.get_case("qingshui", "case0004")["tasks"])
    pool = eventlet.GreenPool(4)
    pool.spawn(handlers.act_on_task, drepo, T0, POLICY, "qingshui", "unit:water_station", lead, "sign", {})
    pool.spawn(handlers.act_on_task, drepo, T0, POLICY, "qingshui", "unit:vc_dongpo", co, "sign", {})
    pool.waitall()
    case = drepo.get_case("qingshui", "case0004")
    assert [t["status"] for t in case["tasks"]] == ["signed", "signed"] and case["rev"] == 3


def test_member_limit_holds_under_concurrent_routing(drepo):
    drepo.insert_actor("qingshui", {"kind": "party_member", "id": "pm1", "name": "李红梅", "branch": "县供电公司党支部",
                                    "home_village": "dongpo", "skills": ["elderly_care"], "availability": ["mon"],
                                    "open_task_limit": 2, "active": True})
    pool = eventlet.GreenPool(10)
    cases = list(pool.imap(lambda i: handlers.receive_demand(drepo, T0, POLICY, CALENDAR,
                                                             received(f"elder{i:04d}", "elderly_care")), range(6)))
    leads = [c["tasks"][0]["assignee_key"] for c in cases]
    assert leads.count("party_member:pm1") == 2 and leads.count("unit:civil_affairs") == 4
    assert drepo.get_actor("qingshui", "party_member", "pm1")["open_tasks"] == 2
    mine = handlers.tasks_of(drepo, "qingshui", "party_member:pm1", None, 10)
    handlers.act_on_task(drepo, T0, POLICY, "qingshui", "party_member:pm1", mine[0]["id"], "return",
                         {"reason": "生病"})
    assert drepo.get_actor("qingshui", "party_member", "pm1")["open_tasks"] == 1


def test_alarms_are_found_through_their_index_and_fire_once(drepo):
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0005"))
    later = T0 + timedelta(hours=2, minutes=1)
    changed = handlers.fire_due_alarms(drepo, later, POLICY)
    assert [c["_id"] for c in changed] == ["case0005"]
    assert [e["type"] for e in changed[0]["outbox"]][-4:] == ["task_reminder_due", "task_overdue"] * 2
    assert handlers.fire_due_alarms(drepo, later, POLICY) == []
    plan = drepo.cases.find({"next_alarm_at": {"$lte": later}}).explain()["queryPlanner"]["winningPlan"]
    assert "next_alarm" in str(plan)


def test_a_demand_without_category_is_classified_and_the_case_says_why(drepo):
    case = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0c01", category=None))
    assert case["category"] == "drinking_water" and case["classified_by"] == "keywords"
    assert case["classification"]["confidence"] >= POLICY.classification.threshold
    assert case["classification"]["words"] == [{"category": "drinking_water", "term": "停水", "weight": 2.0,
                                                "negated": False}]
    assert case["history"][0]["what"] == "classified as drinking_water" and "停水+2" in case["history"][0]["why"]
    assert case["status"] == "dispatched"


def test_an_unsure_classification_waits_in_triage_with_scored_candidates(drepo):
    case = handlers.receive_demand(drepo, T0, POLICY, CALENDAR,
                                   received("case0c03", category=None, title="老人", description="家里老人停水"))
    assert case["status"] == "triage" and case["category"] is None
    assert case["triage"]["candidates"] == ["drinking_water", "elderly_care"]
    assert [c["category"] for c in case["classification"]["candidates"]] == ["drinking_water", "elderly_care"]
    assert all(c["confidence"] < 0.6 for c in case["classification"]["candidates"])
    assert "not sure enough" in case["triage"]["reason"]
