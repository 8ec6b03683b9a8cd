"""Unit tests of the keyword classifier: scoring, ties and no match going to triage, word boundaries for English
keywords, substrings for Chinese ones, and the real category catalogue."""
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dispatch.classify import classify

CATALOGUE_PATH = Path(__file__).resolve().parents[3] / "shared" / "township_shared" / "data" / "categories.yaml"
CATALOGUE = {c["code"]: c["keywords"] for c in yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))}

SMALL = {
    "roads": ["道路", "路灯", "road", "bridge"],
    "water": ["停水", "水管", "water", "tap"],
    "affairs": ["subsidy", "bus", "street light"],
}


# ---- scoring ----------------------------------------------------------------------------------------------
def test_score_is_the_number_of_distinct_keywords_found():
    result = classify("路灯坏了，道路也坏了，路灯一直不亮", SMALL)
    assert result.scores == {"roads": 2, "water": 0, "affairs": 0}
    assert result.category == "roads"
    assert result.candidates == ("roads",)


def test_repeating_one_keyword_does_not_outweigh_two_distinct_ones():
    result = classify("water water water; the road by the bridge", SMALL)
    assert result.scores["water"] == 1
    assert result.scores["roads"] == 2
    assert result.category == "roads"


def test_a_tie_decides_nothing_and_names_the_candidates_sorted():
    result = classify("停水了，路灯也不亮", SMALL)
    assert result.category is None
    assert result.candidates == ("roads", "water")


def test_no_match_decides_nothing_and_has_no_candidates():
    result = classify("今天天气很好 the weather is fine", SMALL)
    assert result.category is None
    assert result.candidates == ()
    assert set(result.scores.values()) == {0}


def test_empty_text_and_empty_keyword_lists_score_zero():
    assert classify("", SMALL).candidates == ()
    result = classify("road", {"other": [], "roads": ["road"], "blank": ["", "  "]})
    assert result.scores == {"other": 0, "roads": 1, "blank": 0}
    assert result.category == "roads"


# ---- English keywords: case-insensitive words -------------------------------------------------------------
@pytest.mark.parametrize("text, matches", [
    ("The Road, near the school", True),
    ("ROAD closed", True),
    ("two roads are flooded", True),
    ("road-side ditch", True),
    ("railroads everywhere", False),
    ("a roadblock", False),
    ("crossroad", False),
    ("road2", False),
    ("村口的road坏了", True),  # Chinese characters are boundaries
    ("ＲＯＡＤ", True),  # full-width letters
])
def test_english_keyword_matches_whole_words_only(text, matches):
    assert (classify(text, {"roads": ["road"]}).category == "roads") is matches


@pytest.mark.parametrize("keyword, text, matches", [
    ("tap", "the taps are dry", True),
    ("tap", "old tapes", False),
    ("bus", "no buses today", True),
    ("bus", "busy line", False),
    ("subsidy", "where are our subsidies?", True),
    ("subsidy", "the Subsidy list", True),
    ("street light", "the Street   Lights are out", True),
    ("street light", "street-light", False),
    ("neighbour", "my neighbour's dog", True),
])
def test_simple_plurals_and_phrases(keyword, text, matches):
    assert (classify(text, {"c": [keyword]}).scores["c"] == 1) is matches


def test_keyword_spelling_variants_count_once():
    assert classify("ROAD", {"c": ["road", "Road", "ROAD"]}).scores["c"] == 1


# ---- Chinese keywords: substrings -------------------------------------------------------------------------
def test_chinese_keywords_match_inside_longer_text():
    result = classify("我们村东头的水管昨晚爆了，到现在还停水", SMALL)
    assert result.scores["water"] == 2
    assert result.category == "water"


def test_chinese_keyword_needs_all_its_characters():
    assert classify("道边有一盏灯", SMALL).scores["roads"] == 0


# ---- the real catalogue -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("村口的路灯坏了，路面还有个大坑", "roads_bridges"),
    ("停水三天了，水管破裂，水质也差", "drinking_water"),
    ("独居老人无人探访", "elderly_care"),
    ("我家邻居天天吵架，希望调解", "neighbour_dispute"),
    ("宅基地确权有争议", "land_housing_dispute"),
    ("化工厂排污，河水有异味", "environmental_pollution"),
    ("家里灯泡坏了需要维修", "small_repairs"),
    ("老板欠薪三个月，工资一直不发", "employment"),
    ("村里发生塌方，暴雨还在下", "disaster_emergency"),
    ("There is a pothole on the road by the bridge", "roads_bridges"),
    ("Blackout again, the power cable is down", "power_supply"),
    ("The garbage has not been collected and the public toilet is dirty", "sanitation_refuse"),
    ("My neighbours quarrel every night; we need mediation", "neighbour_dispute"),
    ("The village accounts and subsidies are never made public (transparency!)", "village_affairs"),
])
def test_catalogue_classifies_typical_demands(text, expected):
    result = classify(text, CATALOGUE)
    assert result.category == expected
    assert result.candidates == (expected,)


def test_catalogue_tie_goes_to_triage():
    result = classify("河边有人焚烧垃圾", CATALOGUE)
    assert result.category is None
    assert result.candidates == ("environmental_pollution", "sanitation_refuse")


def test_catalogue_no_match_goes_to_triage():
    result = classify("今天天气不错", CATALOGUE)
    assert result.category is None
    assert result.candidates == ()
    assert set(result.scores) == set(CATALOGUE)


def test_catalogue_english_words_do_not_fire_inside_other_words():
    result = classify("Railroads and powerful tapestries", CATALOGUE)
    assert result.scores["roads_bridges"] == 0
    assert result.scores["power_supply"] == 0
    assert result.scores["drinking_water"] == 0


# ---- invariants -------------------------------------------------------------------------------------------
WORDS = ["road", "water", "tap", "路灯", "停水", "老人", "bus", "subsidy"]


@given(text=st.lists(st.sampled_from(WORDS + ["x", " ", "，", "roadside", "天"]), max_size=12).map(" ".join),
       keywords=st.dictionaries(st.sampled_from("abcde"), st.lists(st.sampled_from(WORDS), max_size=4),
                                max_size=5))
def test_decision_invariants(text, keywords):
    result = classify(text, keywords)
    assert set(result.scores) == set(keywords)
    top = max(result.scores.values(), default=0)
    assert all(result.scores[c] == top > 0 for c in result.candidates)
    assert list(result.candidates) == sorted(result.candidates)
    assert len(result.candidates) == sum(1 for s in result.scores.values() if s == top > 0)
    assert (result.category is not None) == (len(result.candidates) == 1)
    if result.category is not None:
        assert result.candidates == (result.category,)
