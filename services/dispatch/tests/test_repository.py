"""Integration tests of dispatch's repository and handlers against the real MongoDB-compatible server."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from dispatch import domain, handlers
from dispatch.calendar import WorkCalendar
from dispatch.repository import DispatchRepository
from township_shared.errors import NotFound, Refused
from township_shared.store import Stale as StaleCase
from township_shared.events import load_event, make_event
from township_shared.schemas import dispatch as s
from township_shared.schemas.demands import DemandReceivedV1
from township_shared.service import load

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 local
POLICY = domain.Policy()
CALENDAR = WorkCalendar.default()


@pytest.fixture
def drepo(mongo_client, db_prefix):
    repo = DispatchRepository(mongo_client[f"{db_prefix}_dispatch"])
    repo.use_seeds = False  # the counts below are the office's examples alone
    repo.ensure_indexes()
    repo.save_township("qingshui", {"timezone": "Asia/Shanghai", "categories": {
        "drinking_water": {"handling_days": 5, "keywords": ["停水"], "community_service": False},
        "elderly_care": {"handling_days": 13, "keywords": ["老人"], "community_service": True}}})
    repo.replace_rules("qingshui", [
        {"category": "drinking_water", "villages": ["*"], "lead": "water_station", "co_handlers": ["vc_dongpo"]},
        {"category": "elderly_care", "villages": ["*"], "lead": "civil_affairs", "co_handlers": []}])
    for ident in ("water_station", "vc_dongpo", "civil_affairs"):
        repo.insert_actor("qingshui", {"kind": "unit", "id": ident, "unit_type": "department", "active": True,
                                       "names": {"zh": ident, "en": ident}}, [], T0)
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
                                    "open_task_limit": 2, "active": True}, [], T0)
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


def _routed_event(case, index=-1):
    routed = [e for e in case["outbox"] if e["type"] == "case_routed"][index]
    return load_event(routed, "case_routed")


def test_the_office_routing_a_triaged_case_teaches_the_township_and_can_be_undone(drepo):
    case = handlers.receive_demand(drepo, T0, POLICY, CALENDAR,
                                   received("case0l01", category=None, title="光纤", description="光纤断了没人修"))
    assert case["status"] == "triage"
    assert handlers.learn_from_routing(drepo, _routed_event(handlers.receive_demand(
        drepo, T0, POLICY, CALENDAR, received("case0l00")))) is None  # routed by the rules: teaches nothing
    routed = handlers.route_case(drepo, T0, POLICY, CALENDAR, "qingshui", "case0l01",
                                 {"lead": "unit:water_station", "co_handlers": [], "category": "drinking_water",
                                  "reason": "光纤 cut the water main"}, "office")
    event = _routed_event(routed)
    example = handlers.learn_from_routing(drepo, event)
    assert (example["category"], example["machine"], example["active"]) == ("drinking_water", None, True)
    assert example["text"] == "光纤 光纤断了没人修"
    assert handlers.learn_from_routing(drepo, event) is None  # redelivered
    model = drepo.refresh_model("qingshui")
    assert model.total == 1 and dict(model.per_category) == {"drinking_water": 1}

    rerouted = handlers.route_case(drepo, T0 + timedelta(minutes=5), POLICY, CALENDAR, "qingshui", "case0l01",
                                   {"lead": "unit:civil_affairs", "co_handlers": [], "category": "elderly_care",
                                    "reason": "an old man's line"}, "office")
    later = _routed_event(rerouted)
    assert handlers.learn_from_routing(drepo, later)["category"] == "elderly_care"
    assert handlers.learn_from_routing(drepo, event) is None  # an older routing arriving late changes nothing
    model = drepo.refresh_model("qingshui")
    assert dict(model.per_category) == {"elderly_care": 1}

    listed = handlers.routing_examples(drepo, "qingshui", {"limit": 10})
    assert [e["case_id"] for e in listed["items"]] == ["case0l01"] and listed["examples"] == 1
    undone = handlers.set_example_active(drepo, T0, "qingshui", "case0l01", False, "office", "mistake")
    assert undone["active"] is False and undone["undone"]["reason"] == "mistake"
    assert drepo.learned_model("qingshui").total == 0
    assert handlers.routing_examples(drepo, "qingshui", {"limit": 10, "active": True})["items"] == []
    handlers.set_example_active(drepo, T0, "qingshui", "case0l01", True, "office", None)
    assert dict(drepo.learned_model("qingshui").per_category) == {"elderly_care": 1}
    with pytest.raises(Exception, match="no routing example"):
        handlers.set_example_active(drepo, T0, "qingshui", "nope", False, "office", None)


def test_another_process_sees_what_was_learned(drepo, mongo_client, db_prefix):
    other = DispatchRepository(mongo_client[f"{db_prefix}_dispatch"])
    seeds = other.learned_model("qingshui").total
    assert seeds > 500  # a township starts from the seed examples shipped with dispatch
    drepo.record_example("qingshui", {"case_id": "c9", "case_number": "QS-1", "text": "光纤断了", "category":
                                      "drinking_water", "machine": None, "candidates": [], "classified_by": "office",
                                      "by": "office", "at": T0, "event_id": "e9"})
    assert other.refresh_model("qingshui").total == seeds + 1


def completed_case(drepo, case_id):
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received(case_id))
    lead = next(t for t in drepo.get_case("qingshui", case_id)["tasks"] if t["role"] == "lead")
    handlers.act_on_task(drepo, T0, POLICY, "qingshui", "unit:water_station", lead["id"], "sign", {})
    handlers.act_on_task(drepo, T0, POLICY, "qingshui", "unit:water_station", lead["id"], "complete",
                         {"reply": "修好了", "attachments": []})
    return drepo.get_case("qingshui", case_id), lead["id"]


def test_task_facts_are_what_dispatch_has_or_not_found(drepo):
    case, lead = completed_case(drepo, "case0101")
    assert handlers.task_facts(drepo, "qingshui", case["_id"], lead) == {
        "case_id": case["_id"], "task_id": lead, "assignee": {"kind": "unit", "id": "water_station"},
        "role": "lead", "status": "completed"}
    for township, case_id, task_id in (("baiyun", case["_id"], lead), ("qingshui", "case9999", lead),
                                       ("qingshui", case["_id"], f"{case['_id']}.9")):
        with pytest.raises(NotFound):
            handlers.task_facts(drepo, township, case_id, task_id)


def test_a_callback_event_about_a_task_dispatch_does_not_have_is_refused(drepo):
    """Decision 51: the case, the callback's task and its unit must be dispatch's; nothing is written."""
    from township_shared.schemas.feedback import CallbackConcludedV1, CallbackRecordedV1

    case, lead = completed_case(drepo, "case0102")
    fact = {"case_id": case["_id"], "callback_id": lead, "unit": {"kind": "unit", "id": "water_station"},
            "village": "dongpo", "category": "drinking_water"}

    def concluded(township="qingshui", **changes):
        return load_event(make_event(CallbackConcludedV1, {**fact, "outcome": "resolved", "reason": "满意",
                                                           "stage": None, **changes},
                                     source="feedback", township_id=township, correlation_id=case["_id"]))

    def recorded(**changes):
        return load_event(make_event(CallbackRecordedV1, {
            **fact, "reached": False, "final": False, "resolved": None, "satisfaction": None, "channel": "phone",
            "outcome": None, **changes}, source="feedback", township_id="qingshui", correlation_id=case["_id"]))

    for event, field in ((concluded(case_id="case9999"), "payload.case_id"),
                         (concluded(township="atlantis"), "township_id"),
                         (concluded(callback_id=f"{case['_id']}.9"), "payload.callback_id"),
                         (concluded(unit={"kind": "unit", "id": "vc_dongpo"}), "payload.unit")):
        with pytest.raises(Refused) as refused:
            handlers.conclude_callback(drepo, T0, POLICY, CALENDAR, event)
        assert refused.value.body["field"] == field
    with pytest.raises(Refused):
        handlers.callback_under_way(drepo, T0, recorded(unit={"kind": "unit", "id": "vc_dongpo"}))
    assert drepo.get_case("qingshui", case["_id"])["status"] == "completed"
    assert handlers.callback_under_way(drepo, T0, recorded())["status"] == "callback"
    assert handlers.conclude_callback(drepo, T0, POLICY, CALENDAR, concluded())["status"] == "closed"


# ---- the choice by skills, distance and load (decision 86) ------------------------------------------------------
VILLAGES = {"dongpo": {"lat": 29.2101, "long": 119.4702}, "taoyuan": {"lat": 29.2150, "long": 119.4851},
            "huaxi": {"lat": 29.1820, "long": 119.4400}}


def _with_villages(drepo, **extra):
    settings = dict(drepo.settings("qingshui"))
    settings.pop("_id")
    settings["categories"]["environmental_pollution"] = {"handling_days": 13, "keywords": ["污染"],
                                                         "community_service": False}
    drepo.save_township("qingshui", {**settings, "villages": VILLAGES, **extra})


def test_a_community_task_goes_to_the_best_member_near_and_the_history_says_why(drepo):
    """Dongpo has nobody with the skill free on a Monday; taoyuan (1.55 km) has two, huaxi (4.3 km) is beyond the
    3 km radius. The less loaded of taoyuan's takes the task; the case keeps every candidate's points."""
    _with_villages(drepo)
    for ident, village, load in (("pm_busy", "taoyuan", 1), ("pm_idle", "taoyuan", 0), ("pm_far", "huaxi", 0),
                                 ("pm_home", "dongpo", 0)):
        drepo.insert_actor("qingshui", {"kind": "party_member", "id": ident, "name": ident, "branch": "县委党支部",
                                        "home_village": village, "skills": ["elderly_care"],
                                        "availability": ["sun"] if ident == "pm_home" else ["mon"],
                                        "open_task_limit": 2, "active": True, "open_tasks": load}, [], T0)
    case = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("choice01", "elderly_care"))
    assert case["tasks"][0]["assignee_key"] == "party_member:pm_idle"
    assert case["choice"]["chosen"] == "party_member:pm_idle"
    assert [c["actor"] for c in case["choice"]["candidates"]] == ["party_member:pm_idle", "party_member:pm_busy"]
    why = case["history"][-1]["why"]
    assert why.startswith("community service in dongpo: chose party_member:pm_idle 3.45") and "1.5 km" in why
    assert "other candidates: party_member:pm_busy 2.45" in why
    assert drepo.get_actor("qingshui", "party_member", "pm_idle")["open_tasks"] == 1
    assert load_event(case["outbox"][0], "case_routed").payload["reason"] == why

    _with_villages(drepo, unit_choice={"member_radius_km": 0})
    fallback = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("choice02", "elderly_care"))
    assert fallback["tasks"][0]["assignee_key"] == "unit:civil_affairs" and "choice" not in fallback


def test_several_leads_are_chosen_between_by_load_or_left_to_the_office(drepo):
    _with_villages(drepo)
    rules = list(drepo.rules.find({"township_id": "qingshui"}, {"_id": 0, "township_id": 0}))
    drepo.replace_rules("qingshui", rules + [
        {"category": "environmental_pollution", "villages": ["huaxi"], "lead": "sanitation", "co_handlers": []},
        {"category": "environmental_pollution", "villages": ["huaxi"], "lead": "agri", "co_handlers": ["vc_dongpo"]}])
    for ident in ("sanitation", "agri"):
        drepo.insert_actor("qingshui", {"kind": "unit", "id": ident, "unit_type": "department", "active": True,
                                        "categories": ["environmental_pollution"], "villages": ["*"],
                                        "names": {"zh": ident, "en": ident}}, [], T0)
    pollution = dict(category="environmental_pollution", village="huaxi", title="河水发臭", description="河水发臭")
    tie = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("choice11", **pollution))
    assert tie["status"] == "triage" and tie["triage"]["candidates"] == ["unit:agri", "unit:sanitation"]
    assert "the office decides" in tie["triage"]["reason"] and tie["choice"]["chosen"] is None
    assert [c["score"] for c in tie["choice"]["candidates"]] == [3.0, 3.0]

    for i in range(5):  # the office gives the sanitation office five open cases: 0.5 point of load
        other = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received(f"choice2{i}"))
        handlers.route_case(drepo, T0, POLICY, CALENDAR, "qingshui", other["_id"],
                            {"lead": "unit:sanitation", "co_handlers": [], "reason": "test load", "category": None},
                            "office")
    assert drepo.open_cases_of("qingshui", "unit:sanitation") == 5
    chosen = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("choice12", **pollution))
    assert [t["assignee_key"] for t in chosen["tasks"]] == ["unit:agri", "unit:vc_dongpo"]
    assert chosen["choice"]["chosen"] == "unit:agri"
    assert "leads unit:sanitation by 0.50" in chosen["history"][-2]["why"]


# ---- the office's board of cases (decision 95) ----------------------------------------------------------------

def board(drepo, now, **query):
    return handlers.board(drepo, "qingshui", load(s.CaseBoardQuerySchema(), query), now)


def test_board_lists_escalated_then_overdue_then_newest_with_counts_filters_and_pages(drepo):
    for i in range(6):
        handlers.receive_demand(drepo, T0 + timedelta(minutes=i), POLICY, CALENDAR,
                                received(f"case{i:04d}", village="xihe" if i % 2 else "dongpo",
                                         received_at=T0 + timedelta(minutes=i)))
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0099", category=None, title="无关",
                                                                   description="说不清"))
    now = T0 + timedelta(hours=3)  # past the 2 h sign deadline of every task: overdue, not escalated yet
    handlers.whistle_case(drepo, now, POLICY, "qingshui", "case0001",
                          {"units": ["unit:civil_affairs"], "reason": "需要多部门"})
    handlers.fire_due_alarms(drepo, now, POLICY)
    on_time = ["case0000", "case0002", "case0004"]
    drepo.cases.update_many({"_id": {"$in": on_time}}, {"$set": {"tasks.$[].alarms": []}})
    for case_id in on_time:  # back to on time: the next write recomputes the band
        handlers.mutate(drepo, lambda c=case_id: drepo.get_case("qingshui", c), lambda case: ([], None), now, "x")

    page = board(drepo, now, status="dispatched")
    order = [(c["id"], c["attention"]) for c in page["items"]]
    assert order == [("case0001", "escalated"), ("case0005", "overdue"), ("case0003", "overdue"),
                     ("case0004", None), ("case0002", None), ("case0000", None)]
    assert page["counts"]["dispatched"] == 6 and page["counts"]["triage"] == 1 and page["counts"]["closed"] == 0
    assert page["items"][0]["lead"] == "unit:water_station" and page["items"][0]["deadline_kind"] == "sign"
    assert [c["id"] for c in board(drepo, now, status="triage")["items"]] == ["case0099"]

    xihe = board(drepo, now, status="dispatched", village="xihe")["items"]
    assert [c["id"] for c in xihe] == ["case0001", "case0005", "case0003"]
    assert board(drepo, now, status="dispatched", category="elderly_care")["items"] == []

    seen, cursor = [], None
    while True:
        page = board(drepo, now, status="dispatched", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [cid for cid, _ in order]

    handlers.close_case(drepo, now, POLICY, "qingshui", "case0001", {"outcome": "withdrawn", "reason": "撤回"},
                        "office:demo_clerk")
    after = board(drepo, now, status="closed")
    assert [(c["id"], c["attention"]) for c in after["items"]] == [("case0001", None)]
    assert after["counts"]["dispatched"] == 5 and after["counts"]["closed"] == 1
    assert drepo.recount_board("qingshui") == {"dispatched": 5, "closed": 1, "triage": 1}


def test_attention_of_a_case():
    case = {"status": "dispatched", "tasks": [{"status": "assigned", "alarms": ["sign_reminder"]}]}
    assert domain.attention(case) is None
    case["tasks"][0]["alarms"].append("sign_overdue")
    assert domain.attention(case) == 1
    case["escalations"] = [{"reason": "whistle"}]
    assert domain.attention(case) == 2
    case["status"] = "closed"
    assert domain.attention(case) is None


def test_an_actors_task_list_reads_its_cases_without_history_or_classification(drepo):
    """bench/console: a unit with hundreds of open tasks fetched every case whole for its task list; the list needs
    neither the history nor the classification, the largest parts of a case."""
    first = handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0101"))
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("case0102", category="elderly_care"))
    assert first["history"]
    found = drepo.cases_of("qingshui", "unit:water_station", open_only=True)
    assert [c["_id"] for c in found] == ["case0101"]
    assert "history" not in found[0] and "classification" not in found[0] and "outbox" not in found[0]
    assert found[0]["reporter"] == {"name": "张三"}  # the name the list shows, never the phone
    listed = handlers.tasks_of(drepo, "qingshui", "unit:water_station", "open", 10)
    assert [(t["id"], t["case"]["case_number"], t["case"]["reporter_name"]) for t in listed] == [
        (first["tasks"][0]["id"], first["case_number"], "张三")]
    assert handlers.tasks_of(drepo, "qingshui", "unit:vc_dongpo", None, 10)[0]["role"] == "co_handler"


def test_the_triage_queue_is_oldest_first_across_triage_and_duplicates(drepo):
    for i, (case_id, minutes) in enumerate((("tq03", 30), ("tq01", 0), ("tq02", 10))):
        handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received(
            f"case{case_id}", category=None, title="无关", description=f"说不清 {i}",
            received_at=T0 + timedelta(minutes=minutes), **({"duplicate_of": "caseX"} if case_id == "tq02" else {})))
    handlers.receive_demand(drepo, T0, POLICY, CALENDAR, received("caserouted", received_at=T0 - timedelta(days=3)))
    queue = drepo.triage_queue("qingshui", 10, T0)
    assert [(c["_id"], c["status"]) for c in queue] == [("casetq01", "triage"), ("casetq02", "duplicate"),
                                                         ("casetq03", "triage")]
    assert [c["_id"] for c in drepo.triage_queue("qingshui", 2, T0)] == ["casetq01", "casetq02"]
    old = {**drepo.get_case("qingshui", "casetq01"), "_id": "caseold", "received_at": T0 - timedelta(days=700)}
    drepo.cases.insert_one(old)  # written behind dispatch's back: never counted, older than its first case
    assert [c["_id"] for c in drepo.triage_queue("qingshui", 2, T0)] == ["caseold", "casetq01"]
