"""Unit tests of dispatch's rules: responsibility list, member balancing, the task state machine (with a property
test that no command sequence reaches an illegal state), and deadline chasing."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import domain
from township_shared.errors import Conflict, NotFound, ValidationFailed

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Asia/Shanghai
POLICY = domain.Policy()
RULES = [
    {"category": "drinking_water", "villages": ["*"], "lead": "water_station", "co_handlers": []},
    {"category": "neighbour_dispute", "villages": ["dongpo"], "lead": "vc_dongpo", "co_handlers": ["judicial"]},
    {"category": "neighbour_dispute", "villages": ["*"], "lead": "judicial", "co_handlers": []},
    {"category": "environmental_pollution", "villages": ["huaxi"], "lead": "sanitation", "co_handlers": []},
    {"category": "environmental_pollution", "villages": ["huaxi"], "lead": "agri_centre", "co_handlers": []},
]


def new_case(urgency="general", **over):
    case = {"_id": "c1", "township_id": "qingshui", "case_number": "QS-20261130-0001", "village": "dongpo",
            "category": "neighbour_dispute", "urgency": urgency, "status": "received", "tasks": [], "history": [],
            "returns": 0, "reporter": {"name": "张三", "phone": "13812345678"}}
    case.update(over)
    return case


def routed(co=("judicial",), urgency="general"):
    case = new_case(urgency)
    route = domain.Route({"kind": "unit", "id": "vc_dongpo"}, [{"kind": "unit", "id": c} for c in co], "rule")
    domain.assign(case, route, T0, POLICY, T0 + timedelta(days=17), "system", "reporter")
    return case


def test_village_rule_beats_general_rule_and_brings_co_handlers():
    route = domain.match_rules(RULES, "neighbour_dispute", "dongpo")
    assert route.lead == {"kind": "unit", "id": "vc_dongpo"}
    assert route.co_handlers == [{"kind": "unit", "id": "judicial"}]
    assert domain.match_rules(RULES, "neighbour_dispute", "xihe").lead["id"] == "judicial"


def test_no_rule_and_ambiguous_rules_go_to_triage():
    assert isinstance(domain.match_rules(RULES, "education", "dongpo"), domain.Triage)
    ambiguous = domain.match_rules(RULES, "environmental_pollution", "huaxi")
    assert isinstance(ambiguous, domain.Triage)
    assert ambiguous.candidates == ("unit:agri_centre", "unit:sanitation")


def test_a_chosen_lead_among_ambiguous_rules_brings_its_own_co_handlers():
    rules = RULES + [{"category": "environmental_pollution", "villages": ["huaxi"], "lead": "agri_centre",
                      "co_handlers": ["vc_huaxi"]}]
    route = domain.match_rules(rules, "environmental_pollution", "huaxi", lead="agri_centre")
    assert route.lead == {"kind": "unit", "id": "agri_centre"}
    assert route.co_handlers == [{"kind": "unit", "id": "vc_huaxi"}]
    assert isinstance(domain.match_rules(rules, "environmental_pollution", "huaxi", lead="nobody"), domain.Triage)


def test_assignment_sets_deadlines_by_urgency_and_announces():
    case = new_case("emergency")
    route = domain.Route({"kind": "unit", "id": "vc_dongpo"}, [{"kind": "unit", "id": "judicial"}], "rule")
    events = domain.assign(case, route, T0, POLICY, T0 + timedelta(days=3), "system", "reporter")
    assert [e[0].event_type for e in events] == ["case_routed", "task_assigned", "task_assigned"]
    lead, co = case["tasks"]
    assert lead["sign_deadline"] == T0 + timedelta(hours=1) and lead["role"] == "lead" and co["role"] == "co_handler"
    assert case["open_assignees"] == ["unit:judicial", "unit:vc_dongpo"]
    assert case["next_alarm_at"] == T0 + timedelta(minutes=45)


@pytest.mark.parametrize("urgency, hours", [("emergency", 1), ("utilities", 2), ("general", 24)])
def test_dispatch_deadlines(urgency, hours):
    assert routed(urgency=urgency)["tasks"][0]["sign_deadline"] == T0 + timedelta(hours=hours)


def test_happy_path_sign_start_complete():
    case = routed(co=())
    tid = case["tasks"][0]["id"]
    domain.act(case, tid, "unit:vc_dongpo", "sign", {}, T0 + timedelta(hours=1), POLICY)
    assert case["status"] == "in_progress"
    domain.act(case, tid, "unit:vc_dongpo", "start", {}, T0 + timedelta(hours=2), POLICY)
    events = domain.act(case, tid, "unit:vc_dongpo", "complete", {"reply": "已调解"}, T0 + timedelta(days=2), POLICY)
    assert case["status"] == "completed" and events[0][1]["on_time"] is True
    assert [h["what"] for h in case["history"]][-3:] == ["signed", "started", "completed"]
    assert case["next_alarm_at"] is None and case["open_assignees"] == []


def test_illegal_transition_is_a_conflict_listing_allowed_commands():
    case = routed()
    tid = case["tasks"][0]["id"]
    with pytest.raises(Conflict) as err:
        domain.act(case, tid, "unit:vc_dongpo", "complete", {"reply": "x"}, T0, POLICY)
    assert err.value.body["allowed"] == ["return", "sign"]


def test_others_cannot_see_or_act_on_a_task():
    case = routed()
    tid = case["tasks"][0]["id"]
    with pytest.raises(NotFound):
        domain.act(case, tid, "unit:judicial", "sign", {}, T0, POLICY)
    with pytest.raises(NotFound):
        domain.act(case, tid, "unit:vc_dongpo", "decide_extension", {"approved": True, "reason": "x"}, T0, POLICY)


def test_lead_return_without_signed_co_handler_goes_back_to_triage():
    case = routed()
    lead = case["tasks"][0]["id"]
    events = domain.act(case, lead, "unit:vc_dongpo", "return", {"reason": "不属于本村"}, T0, POLICY)
    assert case["status"] == "triage" and "不属于本村" in case["triage"]["reason"]
    assert [t["status"] for t in case["tasks"]] == ["returned", "cancelled"]
    assert [e[0].event_type for e in events] == ["task_returned", "case_triaged"]


def test_first_receiver_leads_when_the_lead_returns():
    case = routed()
    lead, co = (t["id"] for t in case["tasks"])
    domain.act(case, co, "unit:judicial", "sign", {}, T0 + timedelta(minutes=5), POLICY)
    domain.act(case, lead, "unit:vc_dongpo", "return", {"reason": "司法所牵头"}, T0 + timedelta(minutes=9), POLICY)
    assert case["tasks"][1]["role"] == "lead" and case["status"] == "in_progress"


def test_second_return_escalates():
    case = routed(co=())
    domain.act(case, case["tasks"][0]["id"], "unit:vc_dongpo", "return", {"reason": "a"}, T0, POLICY)
    route = domain.Route({"kind": "unit", "id": "judicial"}, [], "office re-route")
    domain.assign(case, route, T0, POLICY, T0 + timedelta(days=17), "office", "reporter")
    events = domain.act(case, case["tasks"][1]["id"], "unit:judicial", "return", {"reason": "b"}, T0, POLICY)
    assert "case_escalated" in [e[0].event_type for e in events]
    assert case["escalations"][0]["reason"] == "returned_twice"


def test_extension_must_come_before_the_deadline_and_moves_it_when_approved():
    case = routed(co=())
    tid = case["tasks"][0]["id"]
    deadline = case["tasks"][0]["handling_deadline"]
    domain.act(case, tid, "unit:vc_dongpo", "sign", {}, T0, POLICY)
    with pytest.raises(ValidationFailed):
        domain.act(case, tid, "unit:vc_dongpo", "request_extension", {"until": deadline, "reason": "x"}, T0, POLICY)
    later = deadline + timedelta(days=5)
    domain.act(case, tid, "unit:vc_dongpo", "request_extension", {"until": later, "reason": "等材料"}, T0, POLICY)
    domain.act(case, tid, "office", "decide_extension", {"approved": True, "reason": "同意"}, T0, POLICY)
    assert case["tasks"][0]["handling_deadline"] == later and case["tasks"][0]["status"] == "in_progress"
    with pytest.raises(Conflict):
        domain.act(case, tid, "unit:vc_dongpo", "request_extension", {"until": later + timedelta(days=1),
                                                                     "reason": "x"}, later, POLICY)


def test_alarms_fire_once_each_in_order():
    case = routed(co=())
    lead = case["tasks"][0]
    assert domain.fire_alarms(case, T0 + timedelta(hours=17), POLICY) == []
    kinds = lambda evs: [e[0].event_type for e in evs]  # noqa: E731
    assert kinds(domain.fire_alarms(case, T0 + timedelta(hours=18), POLICY)) == ["task_reminder_due"]
    assert domain.fire_alarms(case, T0 + timedelta(hours=18), POLICY) == []
    assert kinds(domain.fire_alarms(case, T0 + timedelta(hours=24), POLICY)) == ["task_overdue"]
    assert kinds(domain.fire_alarms(case, T0 + timedelta(hours=48), POLICY)) == ["case_escalated"]
    assert case["escalations"][0]["reason"] == "overdue" and case["next_alarm_at"] is None
    domain.act(case, lead["id"], "unit:vc_dongpo", "sign", {}, T0 + timedelta(hours=49), POLICY)
    assert case["next_alarm_at"] == lead["handling_deadline"] - (lead["handling_deadline"] - T0) * 0.25


def test_whistle_records_who_reported_when():
    case = routed()
    events = domain.whistle(case, [{"kind": "unit", "id": "police"}, {"kind": "unit", "id": "judicial"}],
                            "需要执法", T0, POLICY)
    assert events[0][1]["reason"] == "whistle"
    assert domain.report(case, "unit:police", T0 + timedelta(minutes=20))["on_time"] is True
    assert domain.report(case, "unit:judicial", T0 + timedelta(minutes=31))["on_time"] is False
    with pytest.raises(Conflict):
        domain.report(case, "unit:police", T0 + timedelta(minutes=40))
    with pytest.raises(NotFound):
        domain.report(case, "unit:water_station", T0)


def test_closing_cancels_open_tasks_and_forbids_more_work():
    case = routed()
    events = domain.close(case, "withdrawn", "居民撤回", "office", T0, POLICY)
    assert events[0][1]["outcome"] == "withdrawn" and case["status"] == "closed"
    assert {t["status"] for t in case["tasks"]} == {"cancelled"}
    with pytest.raises(Conflict):
        domain.close(case, "resolved", "again", "office", T0, POLICY)


ACTORS = ["unit:vc_dongpo", "unit:judicial", "office"]
COMMANDS = [("sign", {}), ("return", {"reason": "r"}), ("start", {}), ("complete", {"reply": "done"}),
            ("request_extension", {"until": T0 + timedelta(days=60), "reason": "r"}),
            ("decide_extension", {"approved": True, "reason": "ok"}),
            ("decide_extension", {"approved": False, "reason": "no"})]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ACTORS), st.integers(0, 5), st.sampled_from(COMMANDS),
                          st.integers(0, 60 * 24 * 3)), max_size=25))
def test_no_command_sequence_reaches_an_illegal_state(steps):
    case = routed()
    now = T0
    for actor, task_index, (command, args), minutes in steps:
        now = now + timedelta(minutes=minutes)
        tasks = case["tasks"]
        task = tasks[task_index % len(tasks)]
        before = task["status"]
        try:
            domain.act(case, task["id"], actor, command, args, now, POLICY)
        except (Conflict, NotFound, ValidationFailed):
            assert task["status"] == before
            continue
        assert task["status"] == domain.TRANSITIONS[before][command]
        domain.fire_alarms(case, now, POLICY)
    statuses = [t["status"] for t in case["tasks"]]
    assert set(statuses) <= set(domain.TRANSITIONS) | {"completed", "returned", "cancelled"}
    assert sum(t["role"] == "lead" and t["status"] in domain.OPEN_TASK_STATES for t in case["tasks"]) <= 1
    if case["status"] == "triage":
        assert domain.open_tasks(case) == []
    assert case["open_assignees"] == sorted({t["assignee_key"] for t in domain.open_tasks(case)})
    assert all(t.get("signed_at") for t in case["tasks"] if t["status"] in ("signed", "in_progress", "completed"))


def test_every_task_command_of_the_shared_table_has_one_rule_and_every_rule_a_command():
    from township_shared.schemas.dispatch import TASK_COMMANDS

    names = [c.name for c in TASK_COMMANDS]
    assert len(set(names)) == len(names) and len({c.path for c in TASK_COMMANDS}) == len(names)
    assert set(domain.TASK_COMMAND_RULES) == set(names)
    assert {command for moves in domain.TRANSITIONS.values() for command in moves} == set(names)
    assert domain.OFFICE_COMMANDS == {"decide_extension"}


def test_an_office_command_is_the_offices_and_an_assignees_command_is_the_assignees():
    case = routed()
    task = case["tasks"][0]
    with pytest.raises(NotFound):
        domain.act(case, task["id"], domain.OFFICE, "sign", {}, T0, POLICY)
    domain.act(case, task["id"], task["assignee_key"], "sign", {}, T0, POLICY)
    domain.act(case, task["id"], task["assignee_key"], "request_extension",
               {"until": task["handling_deadline"] + timedelta(days=2), "reason": "parts"}, T0, POLICY)
    with pytest.raises(NotFound):
        domain.act(case, task["id"], task["assignee_key"], "decide_extension", {"approved": True, "reason": "ok"},
                   T0, POLICY)
    domain.act(case, task["id"], domain.OFFICE, "decide_extension", {"approved": True, "reason": "ok"}, T0, POLICY)
    assert task["status"] == "in_progress"
