"""Unit and property tests of the choice by skills, distance and load (decision 86): the shipped rules, who may
take a community task, the points and their order, the choice among several leads, the explanation, and the
invariants that hold whatever the candidates."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch import choice
from dispatch.choice import Candidate, ChoiceRules

RULES = ChoiceRules.default()
# The demo county's qingshui villages (deploy/demo/county.yaml): xihe 2.6 km and beiling 2.5 km from liushu, huaxi
# 4.7 km; zhenjie has no coordinates here.
PLACES = {"liushu": {"lat": 29.2240, "long": 119.4333}, "xihe": {"lat": 29.2033, "long": 119.4455},
          "beiling": {"lat": 29.2287, "long": 119.4580}, "huaxi": {"lat": 29.1820, "long": 119.4400},
          "dongpo": {"lat": 29.2101, "long": 119.4702}}
MONDAY = 0


def member(ident, kind="party_member", village="liushu", skills=("elderly_care",), days=("mon",), load=0, limit=3,
           active=True):
    return {"id": ident, "kind": kind, "home_village": village, "skills": list(skills), "availability": list(days),
            "open_tasks": load, "open_task_limit": limit, "active": active}


def unit(ident, categories=("environmental_pollution",), villages=("*",), load=0):
    return Candidate("unit", ident, tuple(categories), None, tuple(villages), load, None)


def test_the_shipped_rules_are_the_yaml_and_keep_party_members_first_in_a_village():
    assert RULES.party_member >= RULES.load  # a Party member under the limit outranks any volunteer of the village
    assert RULES.member_radius_km == 3 and RULES.min_lead == 0.5


def test_a_township_overrides_some_rules_and_a_typo_is_refused():
    mine = RULES.overridden({"member_radius_km": 0, "weights": {"per_km": 2}})
    assert (mine.member_radius_km, mine.per_km, mine.skill) == (0, 2, RULES.skill)
    with pytest.raises(ValueError, match="unknown unit choice settings: radius"):
        RULES.overridden({"radius": 5})
    with pytest.raises(ValueError):
        RULES.overridden({"weights": {"load": -1}})


def test_distances_between_village_centres():
    assert choice.village_distance("liushu", "liushu", {}) == 0.0
    assert choice.village_distance("xihe", "liushu", PLACES) == pytest.approx(2.6, abs=0.1)
    assert choice.village_distance("zhenjie", "liushu", PLACES) is None
    assert choice.villages_within("liushu", PLACES, 3.0) == ["liushu", "beiling", "xihe"]
    assert choice.villages_within("liushu", PLACES, 0.0) == ["liushu"]


def test_who_may_take_a_community_task():
    members = [member("idle"), member("busy", load=2), member("full", load=3), member("away", days=("tue",)),
               member("unskilled", skills=("small_repairs",)), member("retired", active=False),
               member("near", village="xihe"), member("far", village="huaxi"), member("unknown", village="zhenjie"),
               member("vol", kind="volunteer")]
    eligible = choice.eligible_members(members, "elderly_care", "liushu", MONDAY, PLACES, RULES)
    assert sorted(c.id for c in eligible) == ["busy", "idle", "near", "vol"]
    local_only = choice.eligible_members(members, "elderly_care", "liushu", MONDAY, PLACES,
                                         RULES.overridden({"member_radius_km": 0}))
    assert sorted(c.id for c in local_only) == ["busy", "idle", "vol"]


def test_members_are_ranked_by_points_party_members_first_in_the_village():
    """A Party member 2.6 km away comes after the village's own volunteer (per_km 1: the village's people first)
    and before one 2.6 km away who is busier."""
    members = [member("busy", load=2), member("idle"), member("vol", kind="volunteer"), member("near", village="xihe"),
               member("near_busy", village="xihe", load=2)]
    ranked = choice.rank([Candidate.of_actor(m) for m in members], "elderly_care", "liushu", PLACES, RULES)
    assert [s.candidate.id for s in ranked] == ["idle", "busy", "vol", "near", "near_busy"]
    idle, near = ranked[0], ranked[3]
    assert idle.total == pytest.approx(RULES.skill + RULES.party_member)
    assert near.total == pytest.approx(RULES.skill + RULES.party_member - RULES.per_km * 2.6, abs=0.1)
    assert [p.name for p in idle.parts] == ["skill", "party_member", "distance", "load"]
    assert str(idle) == "party_member:idle 5.00 (skill elderly_care +3.00, Party member +2.00, 0.0 km +0.00, " \
                        "load 0/3 +0.00)"


def test_a_member_at_the_limit_meanwhile_is_skipped_and_named():
    ranked = choice.rank([Candidate.of_actor(member("a")), Candidate.of_actor(member("b", load=1))],
                         "elderly_care", "liushu", PLACES, RULES)
    picked = choice.first_taken(ranked, lambda c: c.id != "a")
    assert picked.chosen.candidate.id == "b" and picked.skipped == ("party_member:a",)
    assert "skipped (at their limit): party_member:a" in picked.explain()
    nobody = choice.first_taken(ranked, lambda c: False)
    assert nobody.chosen is None and nobody.reason == "every candidate reached its limit"


def test_among_several_leads_the_best_only_when_it_clearly_leads():
    busy, idle = unit("sanitation", load=10), unit("agri_centre", load=0)
    ranked = choice.rank([busy, idle], "environmental_pollution", "huaxi", PLACES, RULES)
    picked = choice.choose_lead(ranked, RULES)
    assert picked.chosen.candidate.id == "agri_centre"
    assert picked.reason == "leads unit:sanitation by 1.00 (at least 0.5)"
    tie = choice.choose_lead(choice.rank([unit("sanitation", load=1), idle], "environmental_pollution", "huaxi",
                                         PLACES, RULES), RULES)
    assert tie.chosen is None and "the office decides" in tie.reason
    assert [c["actor"] for c in tie.as_dict()["candidates"]] == ["unit:agri_centre", "unit:sanitation"]


def test_a_unit_with_the_skill_or_serving_the_village_outranks_one_without():
    ranked = choice.rank([unit("general", categories=()), unit("local", villages=("huaxi",)), unit("skilled")],
                         "environmental_pollution", "huaxi", PLACES, RULES)
    assert [s.candidate.id for s in ranked] == ["local", "skilled", "general"]
    assert "serves huaxi +1.00" in str(ranked[0])


# ---- invariants -------------------------------------------------------------------------------------------
VILLAGES = sorted(PLACES) + ["zhenjie"]
members_st = st.lists(st.builds(
    member, ident=st.text("abcdefgh", min_size=1, max_size=4), kind=st.sampled_from(["party_member", "volunteer"]),
    village=st.sampled_from(VILLAGES), skills=st.sets(st.sampled_from(["elderly_care", "small_repairs"])),
    days=st.sets(st.sampled_from(["mon", "tue"])), load=st.integers(0, 4), limit=st.integers(0, 4),
    active=st.booleans()), max_size=12, unique_by=lambda m: (m["kind"], m["id"]))


@settings(max_examples=200, deadline=None)
@given(members=members_st, village=st.sampled_from(VILLAGES), radius=st.floats(0, 6),
       order=st.randoms(use_true_random=False))
def test_community_choice_invariants(members, village, radius, order):
    rules = RULES.overridden({"member_radius_km": radius})
    eligible = choice.eligible_members(members, "elderly_care", village, MONDAY, PLACES, rules)
    by_id = {(m["kind"], m["id"]): m for m in members}
    for c in eligible:
        m = by_id[(c.kind, c.id)]
        assert m["active"] and "elderly_care" in m["skills"] and "mon" in m["availability"]
        assert m["open_tasks"] < m["open_task_limit"]
        assert choice.village_distance(m["home_village"], village, PLACES) <= radius
    ranked = choice.rank(eligible, "elderly_care", village, PLACES, rules)
    assert [s.total for s in ranked] == sorted((s.total for s in ranked), reverse=True)
    shuffled = list(eligible)
    order.shuffle(shuffled)
    assert [s.candidate for s in choice.rank(shuffled, "elderly_care", village, PLACES, rules)] == \
        [s.candidate for s in ranked]  # the database's order never matters
    for s in ranked:
        assert s.total == pytest.approx(sum(p.points for p in s.parts))
    locals_ = [s for s in ranked if s.candidate.village == village]
    first_volunteer = next((i for i, s in enumerate(locals_) if s.candidate.kind == "volunteer"), len(locals_))
    assert all(s.candidate.kind == "volunteer" for s in locals_[first_volunteer:])


@settings(max_examples=200, deadline=None)
@given(loads=st.lists(st.integers(0, 40), min_size=1, max_size=5), min_lead=st.floats(0, 3))
def test_lead_choice_invariants(loads, min_lead):
    rules = RULES.overridden({"min_lead": min_lead})
    units = [unit(f"u{i}", load=load) for i, load in enumerate(loads)]
    picked = choice.choose_lead(choice.rank(units, "environmental_pollution", "huaxi", PLACES, rules), rules)
    if picked.chosen is not None:
        assert picked.chosen.candidate.open_tasks == min(loads) or min(loads) >= RULES.unit_full_load
        assert picked.chosen.total == max(s.total for s in picked.ranked)
        assert all(picked.chosen.total - s.total >= min_lead - 1e-9 for s in picked.ranked if s is not picked.chosen)
    else:
        assert len(loads) > 1 and picked.ranked[0].total - picked.ranked[1].total < min_lead
    assert picked.explain().startswith("chose" if picked.chosen else "no choice made")
