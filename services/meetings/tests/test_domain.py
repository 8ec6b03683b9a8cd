"""Meeting and topic rules without backing services: candidates merge and resolve, the agenda is composed from open
candidates, closing needs every decision and freezes the minutes, decisions are followed, the decision payload
takes exactly its kind's part, and a topic runs its course in order."""
from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from meetings import domain
from township_shared.errors import Conflict, ValidationFailed
from township_shared.schemas import meetings as ms

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
ESCALATION = {"case_id": "c1", "case_number": "QS-20261201-0001", "reason": "overdue", "detail": "sign deadline",
              "units": [{"kind": "unit", "id": "water_station"}], "title": "停水三天", "village": "dongpo",
              "category": "drinking_water", "urgency": "utilities", "status": "dispatched"}
ASSIGN = {"decision": "assign", "reason": "供水站牵头", "assignment": {
    "lead": {"kind": "unit", "id": "water_station"}, "co_units": [], "deadline": NOW + timedelta(days=7)}}


def meeting():
    m, facts = domain.new_meeting("m-1", "qingshui", {
        "kind": "joint_meeting", "title": "第十二次党政联席会议", "starts_at": NOW, "place": "会议室",
        "convener": "书记", "attendees": [{"actor": "unit:water_station"}, {"actor": "party_member:pm001"}]},
        NOW, "meeting:secretary")
    assert [f[0].event_type for f in facts] == ["meeting_scheduled"]
    return m


def test_a_second_escalation_of_a_case_adds_its_reason_once():
    first = domain.from_escalation("c-a", "qingshui", ESCALATION, "e1", NOW)
    assert "停水三天" in first["summary"] and first["open_key"] == "qingshui|case:c1"
    again = domain.from_escalation("c-b", "qingshui", {**ESCALATION, "reason": "returned_twice"}, "e2", NOW)
    assert domain.merge_reason(first, again) is True
    assert domain.merge_reason(first, again) is False  # a redelivery
    assert [r["reason"] for r in first["reasons"]] == ["overdue", "returned_twice"]


def test_a_hotspot_is_resolved_when_all_its_cases_are_closed():
    spot = domain.from_hotspot("c-h", "qingshui", {"village": "dongpo", "category": "drinking_water", "count": 2,
                                                    "window_hours": 24.0, "first_at": NOW, "last_at": NOW,
                                                    "case_ids": ["c1", "c2"]}, "e3", NOW)
    assert domain.case_closed(spot, "c1", NOW, "resolved") and spot["state"] == "open"
    assert domain.case_closed(spot, "c2", NOW, "resolved") and spot["state"] == "resolved"
    assert spot["open_key"] is None and not domain.case_closed(spot, "c2", NOW, "resolved")


def test_the_meeting_closes_only_with_every_decision_and_then_is_frozen():
    m = meeting()
    cand = domain.from_escalation("c-a", "qingshui", ESCALATION, "e1", NOW)
    with pytest.raises(ValidationFailed):
        domain.compose(m, [{"candidate_id": "c-x", "minutes": 10}], {}, NOW, "s")
    domain.compose(m, [{"candidate_id": "c-a", "minutes": 10, "presenter": "供水站"}], {"c-a": cand}, NOW, "s")
    with pytest.raises(Conflict):
        domain.close(m, [], [], NOW, "s")  # not published
    domain.publish(m, [], NOW, "s")
    with pytest.raises(Conflict):
        domain.close(m, [], [], NOW, "s")  # an item without a decision
    with pytest.raises(ValidationFailed):  # a project's decision on a case
        domain.record(m, "c-a", {"decision": {"decision": "approve", "reason": "r",
                                              "funding": {"approved_fen": 1}}}, NOW, "s")
    domain.record(m, "c-a", {"decision": ASSIGN, "votes": {"yes": 5, "no": 0, "abstain": 0}}, NOW, "s")
    with pytest.raises(ValidationFailed):
        domain.close(m, ["unit:somebody_else"], [], NOW, "s")
    facts = domain.close(m, ["unit:water_station"], [], NOW, "s")
    assert [f[0].event_type for f in facts] == ["meeting_closed", "meeting_decision_made"]
    assert ms.MeetingDecisionMadeV1().load(ms.MeetingDecisionMadeV1().dump(facts[1][1]))["assignment"]
    assert [a["actor"] for a in m["minutes"]["absent"]] == ["party_member:pm001"]
    assert m["decisions"][0]["state"] == "announced" and m["followed"] == ["case:c1"]
    for change in (lambda: domain.record(m, "c-a", {"notes": "x"}, NOW, "s"),
                   lambda: domain.compose(m, [], {}, NOW, "s"), lambda: domain.publish(m, [], NOW, "s")):
        with pytest.raises(Conflict):
            change()
    frozen = dict(m["minutes"])
    domain.amend(m, "更正", "office:wang", NOW)
    assert m["minutes"] == frozen and m["addenda"][0]["by"] == "office:wang"


def test_a_decision_is_followed_to_done_and_late_is_overdue():
    m = meeting()
    cand = domain.from_escalation("c-a", "qingshui", ESCALATION, "e1", NOW)
    domain.compose(m, [{"candidate_id": "c-a", "minutes": 10}], {"c-a": cand}, NOW, "s")
    domain.publish(m, [], NOW, "s")
    domain.record(m, "c-a", {"decision": ASSIGN}, NOW, "s")
    domain.close(m, [], [], NOW, "s")
    d = m["decisions"][0]
    assert domain.record_outcome(m, d, "ev1", "in_progress", "tasks c1.2", NOW, task_ids=["c1.2"])
    assert not domain.record_outcome(m, d, "ev1", "in_progress", "again", NOW)
    assert domain.is_overdue(d, NOW + timedelta(days=8)) and not domain.is_overdue(d, NOW)
    assert [x["id"] for x in domain.open_decisions([m], NOW)] == ["m-1.c-a"]
    domain.record_outcome(m, d, "ev2", "done", "replied", NOW)
    assert domain.open_decisions([m], NOW) == [] and m["followed"] == []


@pytest.mark.parametrize("body, field", [
    ({"decision": "assign", "reason": "r"}, "assignment"),
    ({"decision": "approve", "reason": "r"}, "funding"),
    ({"decision": "reject", "reason": "r", "closing": {"outcome": "resolved"}}, "closing"),
    ({"decision": "approve", "reason": "r", "funding": {"approved_fen": 100, "pools": [
        {"pool": "fiscal-2026", "amount_fen": 60}]}}, "funding"),
])
def test_a_decision_takes_exactly_its_kinds_part(body, field):
    with pytest.raises(ValidationError) as err:
        ms.DecisionSchema().load(body)
    assert field in str(err.value.messages)


def test_a_topic_runs_its_course_in_order():
    topic, facts = domain.new_topic("t-1", "qingshui", {"village": "nanshan", "title": "停车难", "description": "d",
                                                        "cases": []}, domain.proposer_of("public", "public", "王五"),
                                    NOW, "public")
    with pytest.raises(Conflict):
        domain.topic_command(topic, "result", {"result": "x"}, NOW, "office")
    steps = [("accept", {"reason": "r"}), ("negotiation", {"positions": [{"stakeholder": "a", "position": "b"}]}),
             ("result", {"result": "建停车场"}), ("feedback", {"text": "好"}), ("conclude", {"summary": "完成"})]
    kinds = [f[0].event_type for f in facts]
    for command, args in steps:
        kinds += [f[0].event_type for f in domain.topic_command(topic, command, args, NOW, "office")]
    assert kinds == ["topic_proposed", "topic_accepted", "topic_negotiated", "topic_agreed", "topic_feedback_given",
                     "topic_concluded"]
    public = domain.public_topic(topic)
    assert public["result"] == "建停车场" and [s["step"] for s in public["steps"]][-1] == "concluded"
    assert "王五" not in str(ms.PublicTopicViewSchema().dump(public))


def test_money_reads_as_yuan():
    assert domain.fen_text(12345678) == "¥123,456.78" and domain.fen_text(5) == "¥0.05"
