"""Tests of the assessment figures: what each event adds, rates and their empty denominators, local periods,
ranking, and a property test that folding a shuffled, partly redelivered event stream gives the figures
recomputed from the final case records."""
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback import assessment as a

UNIT = {"kind": "unit", "id": "water_station"}
MEMBER = {"kind": "party_member", "id": "li_hua"}


def fact(assignee=UNIT, category="drinking_water", village="dongpo", **extra):
    return {"case_id": "c1", "task_id": "c1.1", "assignee": assignee, "role": "lead", "category": category,
            "village": village, **extra}


def judged(unit=UNIT, category="drinking_water", village="dongpo", **extra):
    return {"case_id": "c1", "callback_id": "c1.1", "unit": unit, "village": village, "category": category, **extra}


def callback(reached=True, final=True, resolved=True, satisfaction="satisfied", **over):
    return judged(reached=reached, final=final, resolved=resolved, satisfaction=satisfaction, channel="phone",
                  outcome=None, **over)


def on_every_row(counters, actor="unit:water_station", village="dongpo", category="drinking_water"):
    """The contributions expected when ``counters`` go to each of the three rows."""
    return sorted((dimension, key, counter, delta)
                  for dimension, key in (("actor", actor), ("village", village), ("category", category))
                  for counter, delta in counters.items())


# ---- contributions -----------------------------------------------------------------------------------------------
def test_assignment_counts_one_dispatch_for_the_assignee_village_and_category():
    assert sorted(a.contributions("task_assigned", fact())) == on_every_row({"dispatched": 1})


def test_a_missing_category_counts_as_unclassified():
    result = a.contributions("task_assigned", fact(assignee=MEMBER, category=None))
    assert sorted(result) == on_every_row({"dispatched": 1}, actor="party_member:li_hua", category="unclassified")


def test_a_sign_within_the_deadline_counts_on_time():
    result = a.contributions("task_signed", fact(within_deadline=True, lead_now=False))
    assert sorted(result) == on_every_row({"signed": 1, "signed_on_time": 1})


def test_a_late_sign_counts_as_signed_only():
    result = a.contributions("task_signed", fact(within_deadline=False, lead_now=False))
    assert sorted(result) == on_every_row({"signed": 1})


def test_a_return_counts_returned():
    assert sorted(a.contributions("task_returned", fact(reason="not ours", returns=1))) == \
        on_every_row({"returned": 1})


def test_an_on_time_completion_counts_completed_on_time_and_handling_seconds():
    result = a.contributions("task_completed", fact(on_time=True, handling_seconds=5400.0))
    assert sorted(result) == on_every_row({"completed": 1, "completed_on_time": 1, "handling_seconds": 5400.0})


def test_a_late_completion_counts_its_handling_seconds_but_not_on_time():
    result = a.contributions("task_completed", fact(on_time=False, handling_seconds=90000))
    assert sorted(result) == on_every_row({"completed": 1, "handling_seconds": 90000.0})


def test_a_redo_counts_for_the_unit_whose_completion_was_rejected():
    result = a.contributions("case_reopened", judged(unit=MEMBER, category=None, reason="still leaking",
                                                     stage="handling"))
    assert sorted(result) == on_every_row({"redone": 1}, actor="party_member:li_hua", category="unclassified")


def test_a_satisfied_resolved_callback_counts_reached_resolved_rated_and_satisfied():
    result = a.contributions("callback_recorded", callback(satisfaction="basically_satisfied"))
    assert sorted(result) == on_every_row({"callbacks_reached": 1, "resolved": 1, "rated": 1, "satisfied": 1})


def test_a_dissatisfied_unresolved_callback_counts_reached_and_rated_only():
    result = a.contributions("callback_recorded", callback(resolved=False, satisfaction="dissatisfied"))
    assert sorted(result) == on_every_row({"callbacks_reached": 1, "rated": 1})


def test_a_reached_callback_without_an_answer_counts_reached_only():
    result = a.contributions("callback_recorded", callback(resolved=None, satisfaction=None))
    assert sorted(result) == on_every_row({"callbacks_reached": 1})


def test_the_final_failed_attempt_counts_one_unreached_callback():
    result = a.contributions("callback_recorded", callback(reached=False, final=True, resolved=None,
                                                           satisfaction=None))
    assert sorted(result) == on_every_row({"callbacks_unreached": 1})


def test_an_earlier_failed_attempt_counts_nothing():
    assert a.contributions("callback_recorded", callback(reached=False, final=False, resolved=None,
                                                         satisfaction=None)) == []


@pytest.mark.parametrize("event_type", ["case_routed", "case_closed", "task_overdue", "task_extension_requested",
                                        "hotspot_detected"])
def test_other_events_count_nothing(event_type):
    assert a.contributions(event_type, fact()) == []


# ---- rates -------------------------------------------------------------------------------------------------------
def test_rates_of_nothing_are_all_none_with_every_counter_zero():
    row = a.rates({})
    assert {name: row[name] for name in a.COUNTERS} == dict.fromkeys(a.COUNTERS, 0)
    assert {name: row[name] for name in a.RATE_NAMES} == dict.fromkeys(a.RATE_NAMES, None)


def test_each_rate_is_none_only_when_its_own_denominator_is_zero():
    row = a.rates({"dispatched": 3, "signed": 2, "signed_on_time": 1, "callbacks_unreached": 2})
    assert row["response_rate"] == 0.3333
    assert row["return_rate"] == 0.0
    assert row["reach_rate"] == 0.0
    assert row["on_time_completion_rate"] is None and row["redo_rate"] is None
    assert row["avg_handling_hours"] is None
    assert row["resolution_rate"] is None and row["satisfaction_rate"] is None


def test_unreached_callbacks_weigh_only_on_the_reach_rate():
    row = a.rates({"callbacks_reached": 4, "callbacks_unreached": 4, "resolved": 2, "rated": 4, "satisfied": 3})
    assert row["reach_rate"] == 0.5
    assert row["resolution_rate"] == 0.5
    assert row["satisfaction_rate"] == 0.75


def test_completion_rates_and_average_handling_hours():
    row = a.rates({"completed": 3, "completed_on_time": 2, "redone": 1, "handling_seconds": 3 * 5400.0})
    assert row["on_time_completion_rate"] == 0.6667
    assert row["redo_rate"] == 0.3333
    assert row["avg_handling_hours"] == 1.5


def test_a_rate_is_capped_at_one_when_facts_straddle_the_period_but_counters_are_kept():
    row = a.rates({"dispatched": 1, "signed": 2, "signed_on_time": 2})
    assert row["response_rate"] == 1.0
    assert row["signed_on_time"] == 2 and row["dispatched"] == 1


def test_rates_ignore_keys_that_are_not_counters():
    row = a.rates({"dispatched": 2, "returned": 1, "key": "unit:x", "return_rate": 0.9})
    assert row["return_rate"] == 0.5
    assert "key" not in row


# ---- periods -----------------------------------------------------------------------------------------------------
def test_half_past_four_utc_is_already_the_next_day_in_shanghai():
    moment = datetime(2026, 11, 29, 16, 30, tzinfo=timezone.utc)
    assert a.period_keys(moment) == {"day": "2026-11-30", "month": "2026-11", "year": "2026"}


def test_just_before_local_midnight_is_still_the_same_day():
    moment = datetime(2026, 11, 29, 15, 59, 59, tzinfo=timezone.utc)
    assert a.period_keys(moment) == {"day": "2026-11-29", "month": "2026-11", "year": "2026"}


def test_local_midnight_on_new_year_moves_month_and_year():
    moment = datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)
    assert a.period_keys(moment) == {"day": "2027-01-01", "month": "2027-01", "year": "2027"}


def test_the_township_time_zone_is_a_parameter():
    moment = datetime(2026, 11, 29, 16, 30, tzinfo=timezone.utc)
    assert a.period_keys(moment, "UTC")["day"] == "2026-11-29"


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError):
        a.period_keys(datetime(2026, 11, 29, 16, 30))


# ---- merge and fold ----------------------------------------------------------------------------------------------
def test_merge_adds_day_documents_into_a_month_without_touching_them():
    day1 = {"actor": {"unit:a": {"dispatched": 2, "handling_seconds": 10.5}}, "village": {"dongpo": {"dispatched": 2}}}
    day2 = {"actor": {"unit:a": {"dispatched": 1}, "unit:b": {"returned": 1}}}
    month = a.merge({}, day1)
    result = a.merge(month, day2)
    assert result is month
    assert month == {"actor": {"unit:a": {"dispatched": 3, "handling_seconds": 10.5}, "unit:b": {"returned": 1}},
                     "village": {"dongpo": {"dispatched": 2}}}
    assert day1["actor"]["unit:a"] == {"dispatched": 2, "handling_seconds": 10.5}


def test_fold_counts_a_redelivered_event_once():
    assigned = {"id": "e1", "type": "task_assigned", "payload": fact()}
    signed = {"id": "e2", "type": "task_signed", "payload": fact(within_deadline=True, lead_now=False)}
    figures = a.fold([assigned, signed, assigned, signed, assigned])
    assert figures["actor"]["unit:water_station"] == {"dispatched": 1, "signed": 1, "signed_on_time": 1}
    assert figures["category"]["drinking_water"]["dispatched"] == 1


def test_recompute_counts_a_case_record():
    case = {"village": "dongpo", "category": None,
            "tasks": [{"assignee": UNIT, "assigned": True, "signed": True, "signed_within_deadline": False,
                       "returned": False, "completed": True, "completed_on_time": True, "handling_seconds": 7200.0},
                      {"assignee": MEMBER, "assigned": True, "signed": False, "signed_within_deadline": False,
                       "returned": True, "completed": False, "completed_on_time": False, "handling_seconds": 0}],
            "redos": [{"unit": UNIT}],
            "callbacks": [{"unit": UNIT, "reached": False, "resolved": None, "satisfaction": None},
                          {"unit": UNIT, "reached": True, "resolved": False, "satisfaction": "very_satisfied"}]}
    figures = a.recompute([case])
    assert figures["actor"]["unit:water_station"] == {
        "dispatched": 1, "signed": 1, "completed": 1, "completed_on_time": 1, "handling_seconds": 7200.0,
        "redone": 1, "callbacks_unreached": 1, "callbacks_reached": 1, "rated": 1, "satisfied": 1}
    assert figures["actor"]["party_member:li_hua"] == {"dispatched": 1, "returned": 1}
    assert figures["category"]["unclassified"]["dispatched"] == 2


# ---- rank --------------------------------------------------------------------------------------------------------
ROWS = {
    "unit:c": {"dispatched": 4, "signed_on_time": 2, "returned": 1},     # response 0.5, return 0.25
    "unit:a": {"dispatched": 4, "signed_on_time": 4},                    # response 1.0, return 0.0
    "unit:b": {"dispatched": 2, "signed_on_time": 1, "returned": 2},     # response 0.5, return 1.0
    "unit:z": {},                                                        # no dispatch: None
    "unit:y": {"completed": 1},                                          # no dispatch: None
}


def test_rank_puts_the_best_first_and_breaks_ties_by_key():
    assert [key for key, _ in a.rank(ROWS, "response_rate", 10)] == ["unit:a", "unit:b", "unit:c", "unit:y",
                                                                       "unit:z"]


def test_rank_lowest_puts_the_worst_first_and_none_still_last():
    assert [key for key, _ in a.rank(ROWS, "response_rate", 10, lowest=True)] == ["unit:b", "unit:c", "unit:a",
                                                                                    "unit:y", "unit:z"]


def test_rank_limits_and_returns_the_rates_of_each_row():
    ranked = a.rank(ROWS, "response_rate", 2)
    assert [key for key, _ in ranked] == ["unit:a", "unit:b"]
    assert ranked[0][1]["response_rate"] == 1.0 and ranked[0][1]["dispatched"] == 4


def test_for_a_rate_where_less_is_better_the_best_is_the_lowest():
    assert [key for key, _ in a.rank(ROWS, "return_rate", 3)] == ["unit:a", "unit:c", "unit:b"]
    assert [key for key, _ in a.rank(ROWS, "return_rate", 3, lowest=True)] == ["unit:b", "unit:c", "unit:a"]


def test_rank_accepts_rows_that_already_carry_rates():
    rows = {key: {"key": key, **a.rates(row)} for key, row in ROWS.items()}
    assert a.rank(rows, "response_rate", 10) == a.rank(ROWS, "response_rate", 10)


def test_rank_refuses_an_unknown_rate():
    with pytest.raises(ValueError):
        a.rank(ROWS, "dispatched", 3)


# ---- property: events and case records agree --------------------------------------------------------------------
ACTORS = [{"kind": "unit", "id": i} for i in ("water_station", "roads_office", "dongpo_committee")] + \
         [{"kind": "party_member", "id": i} for i in ("li_hua", "wang_fang", "zhao_lei")]
VILLAGES = ["dongpo", "xiwan", "nanshan"]
CATEGORIES = ["drinking_water", "roads", "sanitation", None]

task_plans = st.fixed_dictionaries({
    "assignee": st.sampled_from(ACTORS),
    "fate": st.sampled_from(["signed_on_time", "signed_late", "returned", "left"]),
    "completion": st.sampled_from([None, "on_time", "late"]),
    "handling_seconds": st.integers(60, 10**6),
})
callback_plans = st.fixed_dictionaries({
    "task": st.integers(0, 2),
    "reached": st.booleans(),
    "resolved": st.sampled_from([True, False, None]),
    "satisfaction": st.sampled_from(list(a.LEVELS) + [None]),
    "failed_attempts_before": st.integers(0, 2),
})
case_plans = st.fixed_dictionaries({
    "village": st.sampled_from(VILLAGES),
    "category": st.sampled_from(CATEGORIES),
    "tasks": st.lists(task_plans, min_size=1, max_size=3),
    "redos": st.lists(st.integers(0, 2), max_size=2, unique=True),
    "callbacks": st.lists(callback_plans, max_size=3),
})


def build(plans):
    """The case records and the event envelopes of the same histories.

    A redo names a completed task, at most once each: in the domain a redo rejects one completion, so an actor
    never has more redos than completions. Failed attempts before a callback's outcome are events that must count
    nothing; the records keep no trace of them."""
    cases, events = [], []

    def emit(event_type, payload):
        events.append({"id": f"e{len(events)}", "type": event_type, "payload": payload, "version": 1})

    for n, plan in enumerate(plans):
        case_id, where = f"c{n}", {"village": plan["village"], "category": plan["category"]}
        record = {**where, "tasks": [], "redos": [], "callbacks": []}
        for t, task in enumerate(plan["tasks"]):
            signed = task["fate"] in ("signed_on_time", "signed_late")
            completed = signed and task["completion"] is not None
            record["tasks"].append({
                "assignee": task["assignee"], "assigned": True, "signed": signed,
                "signed_within_deadline": task["fate"] == "signed_on_time", "returned": task["fate"] == "returned",
                "completed": completed, "completed_on_time": completed and task["completion"] == "on_time",
                "handling_seconds": task["handling_seconds"] if completed else 0})
            base = {"case_id": case_id, "task_id": f"{case_id}.{t}", "assignee": task["assignee"],
                    "role": "lead" if t == 0 else "co_handler", **where}
            emit("task_assigned", {**base, "urgency": "general"})
            if signed:
                emit("task_signed", {**base, "within_deadline": task["fate"] == "signed_on_time", "lead_now": False})
            if task["fate"] == "returned":
                emit("task_returned", {**base, "reason": "not ours", "returns": 1})
            if completed:
                emit("task_completed", {**base, "reply": "done", "attachments": [],
                                        "on_time": task["completion"] == "on_time",
                                        "handling_seconds": float(task["handling_seconds"])})
        done = [t for t in record["tasks"] if t["completed"]]
        for pick in (p for p in plan["redos"] if p < len(done)):
            unit = done[pick]["assignee"]
            record["redos"].append({"unit": unit})
            emit("case_reopened", {"case_id": case_id, "callback_id": f"{case_id}.r{pick}", "unit": unit, **where,
                                   "reason": "still broken", "stage": "handling"})
        for k, cb in enumerate(plan["callbacks"]):
            unit = record["tasks"][cb["task"] % len(record["tasks"])]["assignee"]
            resolved, satisfaction = (cb["resolved"], cb["satisfaction"]) if cb["reached"] else (None, None)
            record["callbacks"].append({"unit": unit, "reached": cb["reached"], "resolved": resolved,
                                        "satisfaction": satisfaction})
            fact_of_callback = {"case_id": case_id, "callback_id": f"{case_id}.cb{k}", "unit": unit, **where,
                                "channel": "phone"}
            for _ in range(cb["failed_attempts_before"]):
                emit("callback_recorded", {**fact_of_callback, "reached": False, "final": False, "resolved": None,
                                           "satisfaction": None, "outcome": None})
            emit("callback_recorded", {**fact_of_callback, "reached": cb["reached"], "final": True,
                                       "resolved": resolved, "satisfaction": satisfaction,
                                       "outcome": None if cb["reached"] else "unreached"})
        cases.append(record)
    return cases, events


@st.composite
def histories(draw):
    cases, events = build(draw(st.lists(case_plans, min_size=1, max_size=30)))
    redelivered = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    stream = draw(st.permutations(events + redelivered))
    return cases, stream


@settings(max_examples=200, deadline=None)
@given(histories())
def test_folding_shuffled_redelivered_events_gives_the_figures_of_the_case_records(history):
    cases, stream = history
    folded = a.fold(stream)
    assert folded == a.recompute(cases)
    for dimension in a.DIMENSIONS:
        for key, counters in folded[dimension].items():
            row = a.rates(counters)
            for name in a.RATE_NAMES[:-1]:
                assert row[name] is None or 0.0 <= row[name] <= 1.0, (dimension, key, name, row)
            # the cap in rates() must never be what keeps a whole-history rate within 0..1
            assert row["signed_on_time"] <= row["signed"] and row["returned"] <= row["dispatched"]
            assert row["signed"] + row["returned"] <= row["dispatched"]
            assert row["completed_on_time"] <= row["completed"] and row["redone"] <= row["completed"]
            assert row["resolved"] <= row["callbacks_reached"] and row["satisfied"] <= row["rated"]
            assert row["rated"] <= row["callbacks_reached"]
            assert row["avg_handling_hours"] is None or row["avg_handling_hours"] >= 60 / 3600 - 0.005
