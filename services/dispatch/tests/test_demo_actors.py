"""Consistency of the demo actors (deploy/demo/actors.yaml) with the demo county and the category catalogue,
read as plain YAML: enough actors to demonstrate routing, every reference resolving, every category routable
in every village, and exactly one deliberately ambiguous responsibility."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
ACTORS = yaml.safe_load((ROOT / "deploy" / "demo" / "actors.yaml").read_text(encoding="utf-8"))["townships"]
COUNTY = yaml.safe_load((ROOT / "deploy" / "demo" / "county.yaml").read_text(encoding="utf-8"))
CATALOGUE = yaml.safe_load((ROOT / "shared" / "township_shared" / "data" / "categories.yaml")
                           .read_text(encoding="utf-8"))
CATEGORIES = {c["code"] for c in CATALOGUE} | {"small_repairs"}
VILLAGES = {t["id"]: {v["code"] for v in t["villages"]} for t in COUNTY["townships"]}
PER_VILLAGE = ("neighbour_dispute", "village_affairs", "elderly_care", "small_repairs", "sanitation_refuse")
SECTIONS = ("units", "party_members", "volunteers", "social_orgs")
WEEKDAYS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
ID = re.compile(r"^[a-z0-9_]+$")
TOWNSHIPS = sorted(ACTORS)


def members(township):
    return ACTORS[township]["party_members"] + ACTORS[township].get("volunteers", [])


def unit_ids(township):
    return {u["id"] for u in ACTORS[township]["units"]}


def resolve(rules, category, village):
    """The leads the responsibility list yields: rules naming the village beat "*" rules."""
    specific = [r for r in rules if r["category"] == category and village in r["villages"]]
    general = [r for r in rules if r["category"] == category and "*" in r["villages"]]
    return {r["lead"] for r in (specific or general)}


def test_townships_are_those_of_the_county():
    assert set(ACTORS) == set(VILLAGES)


@pytest.mark.parametrize("township, minimum", [
    ("qingshui", {"units": 10, "party_members": 30, "volunteers": 6, "social_orgs": 5}),
    ("baiyun", {"units": 5, "party_members": 6, "social_orgs": 1}),
])
def test_enough_actors_for_the_demo(township, minimum):
    for section, count in minimum.items():
        assert len(ACTORS[township].get(section, [])) >= count, section


def test_qingshui_party_members_are_spread_over_the_villages():
    covered = {m["home_village"] for m in ACTORS["qingshui"]["party_members"]}
    assert len(covered) >= 8


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_ids_are_codes_and_unique_in_the_township(township):
    ids = [a["id"] for section in SECTIONS for a in ACTORS[township].get(section, [])]
    assert all(ID.match(i) for i in ids), [i for i in ids if not ID.match(i)]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_units_are_departments_and_one_committee_per_village(township):
    units = ACTORS[township]["units"]
    assert {u["unit_type"] for u in units} == {"department", "village_committee"}
    committees = [u for u in units if u["unit_type"] == "village_committee"]
    assert sorted(v for c in committees for v in c["villages"]) == sorted(VILLAGES[township])
    assert all(len(c["villages"]) == 1 for c in committees)
    for unit in units:
        assert unit["names"]["zh"] and unit["names"]["en"], unit["id"]
        assert set(unit["categories"]) <= CATEGORIES, unit["id"]
        assert set(unit["villages"]) <= VILLAGES[township] | {"*"}, unit["id"]


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_members_and_volunteers_live_in_the_township_with_catalogue_skills(township):
    for member in members(township):
        assert member["home_village"] in VILLAGES[township], member["id"]
        assert member["skills"] and set(member["skills"]) <= CATEGORIES, member["id"]
        assert member["availability"] and set(member["availability"]) <= WEEKDAYS, member["id"]
        assert member["open_task_limit"] >= 1, member["id"]
        assert member["service_hours"] >= 0, member["id"]
    for member in ACTORS[township]["party_members"]:
        assert member["branch"], member["id"]


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_social_orgs_serve_villages_of_the_township(township):
    for org in ACTORS[township]["social_orgs"]:
        assert org["registered_name"] and org["names"]["zh"] and org["names"]["en"], org["id"]
        assert org["service_areas"] and set(org["service_areas"]) <= VILLAGES[township], org["id"]
        assert set(org["categories"]) <= CATEGORIES, org["id"]


def test_community_skills_are_represented():
    skills = {s for t in TOWNSHIPS for m in members(t) for s in m["skills"]}
    assert {"elderly_care", "neighbour_dispute", "small_repairs"} <= skills


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_every_lead_and_co_handler_is_a_unit_of_the_township(township):
    units = unit_ids(township)
    for rule in ACTORS[township]["responsibilities"]:
        assert rule["lead"] in units, rule
        assert set(rule["co_handlers"]) <= units, rule
        assert rule["lead"] not in rule["co_handlers"], rule
        assert rule["category"] in CATEGORIES, rule
        assert rule["villages"] and set(rule["villages"]) <= VILLAGES[township] | {"*"}, rule


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_every_category_has_a_rule_and_routes_in_every_village(township):
    rules = ACTORS[township]["responsibilities"]
    assert {r["category"] for r in rules} == CATEGORIES
    for category in CATEGORIES:
        for village in VILLAGES[township]:
            assert resolve(rules, category, village), (category, village)


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_village_categories_are_led_by_the_village_committee(township):
    committee = {u["villages"][0]: u["id"] for u in ACTORS[township]["units"]
                 if u["unit_type"] == "village_committee"}
    rules = ACTORS[township]["responsibilities"]
    for category in PER_VILLAGE:
        for village in VILLAGES[township]:
            assert resolve(rules, category, village) == {committee[village]}, (category, village)


def test_exactly_one_deliberately_ambiguous_responsibility():
    ambiguous = [(t, c, v) for t in TOWNSHIPS for c in sorted(CATEGORIES) for v in sorted(VILLAGES[t])
                 if len(resolve(ACTORS[t]["responsibilities"], c, v)) > 1]
    assert ambiguous == [("qingshui", "environmental_pollution", "huaxi")]
    assert resolve(ACTORS["qingshui"]["responsibilities"], "environmental_pollution", "huaxi") == {
        "sanitation_office", "agri_centre"}


@pytest.mark.parametrize("township", TOWNSHIPS)
def test_every_village_has_coordinates_for_the_choice_by_distance(township):
    """Decision 86: dispatch measures members' distance between village centres, which the demo loader copies
    from the county into the township's dispatch settings; a village without them would keep its tasks local."""
    from dispatch.demo import DEFAULT_ACTORS, DEFAULT_COUNTY, load_dispatch_data

    class Recorder:
        def __init__(self):
            self.settings = {}

        def save_township(self, tid, settings):
            self.settings[tid] = settings

        def upsert_actor(self, tid, actor):
            pass

        def replace_rules(self, tid, rules):
            pass

    recorder = Recorder()
    load_dispatch_data(recorder, yaml.safe_load(DEFAULT_COUNTY.read_text(encoding="utf-8")),
                       yaml.safe_load(DEFAULT_ACTORS.read_text(encoding="utf-8")))
    places = recorder.settings[township]["villages"]
    assert set(places) == VILLAGES[township]
    assert all(20 < p["lat"] < 40 and 100 < p["long"] < 125 for p in places.values())
