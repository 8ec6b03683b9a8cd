"""Unit tests of the classifier: weights, weak hints, containment, negation, gaps, confidence and triage, English
words, the real catalogue, and its accuracy on the repository's labelled demands."""
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from dispatch.classify import Tuning, classify, confidences, negated_spans, normalise

_SPEC = importlib.util.spec_from_file_location("routing_data", Path(__file__).with_name("routing_data.py"))
routing_data = sys.modules.setdefault("routing_data", importlib.util.module_from_spec(_SPEC))
_SPEC.loader.exec_module(routing_data)
CATALOGUE_PATH = Path(__file__).resolve().parents[3] / "shared" / "township_shared" / "data" / "categories.yaml"
CATALOGUE = {c["code"]: {"keywords": c["keywords"], "terms": c.get("terms") or {}}
             for c in yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))}

SMALL = {
    "roads": {"keywords": ["道路", "road", "bridge"], "terms": {"strong": ["路灯不亮", "pothole"], "weak": ["灯"]}},
    "water": {"keywords": ["停水", "water"], "terms": {"strong": ["没水", "没...水"], "medium": ["水管"]}},
    "power": {"keywords": ["停电"], "terms": {"strong": ["没电"], "weak": ["灯"]}},
    "affairs": {"keywords": ["subsidy", "street light"], "terms": {}},
}


# ---- scoring ----------------------------------------------------------------------------------------------
def test_score_sums_the_weights_of_distinct_terms():
    result = classify("停水了，没水，停水三天，水管也破了", SMALL)
    assert result.scores["water"] == 2 + 3 + 2  # 停水 (keyword 2) once, 没水 (strong 3), 水管 (medium 2)
    assert result.category == "water"


def test_repeating_one_word_does_not_outweigh_distinct_ones():
    result = classify("water water water; the road by the bridge", SMALL)
    assert result.scores["water"] == 2 and result.scores["roads"] == 4
    assert result.candidates[0].category == "roads"


def test_a_weak_hint_alone_scores_nothing():
    assert classify("灯", SMALL).scores == {"roads": 0, "water": 0, "power": 0, "affairs": 0}
    assert classify("灯 没电", SMALL).scores["power"] == 3 + 1


def test_a_term_inside_a_longer_term_does_not_count():
    result = classify("村口路灯不亮", SMALL)
    assert result.scores["roads"] == 3 and result.scores["power"] == 0
    assert [e.term for e in result.evidence] == ["路灯不亮"]


def test_a_gap_term_allows_up_to_three_characters_of_one_clause():
    assert classify("没了几天水", SMALL).scores["water"] == 3
    assert classify("没了好几天水", SMALL).scores["water"] == 0
    assert classify("没，水", SMALL).scores["water"] == 0


# ---- negation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("不是停电，是停水", "water"),
    ("不是停电是停水", "water"),
    ("停水了，不是停电", "water"),
    ("it's not the street light, the road has a pothole", "roads"),
])
def test_a_negated_term_does_not_count(text, expected):
    result = classify(text, SMALL)
    assert result.category == expected
    assert any(e.negated for e in result.evidence)


@pytest.mark.parametrize("text", ["是不是停电了", "要不是停电我就不打了"])
def test_questions_and_conditionals_are_not_negations(text):
    assert negated_spans(normalise(text)) == []
    assert classify(text, SMALL).scores["power"] == 2


# ---- confidence and triage --------------------------------------------------------------------------------
def test_confidence_is_a_softmax_against_the_floor():
    conf = confidences({"a": 3.0, "b": 0.0}, 1.5)
    assert set(conf) == {"a"} and conf["a"] == pytest.approx(0.810, abs=1e-3)
    tie = confidences({"a": 2.0, "b": 2.0}, 1.5)
    assert tie["a"] == tie["b"] < 0.5


def test_a_tie_goes_to_triage_with_both_candidates():
    result = classify("停水了，停电了", SMALL)
    assert result.category is None
    assert [c.category for c in result.candidates] == ["power", "water"]
    assert "not sure enough" in result.reason


def test_nothing_found_goes_to_triage_without_candidates():
    result = classify("今天天气很好 the weather is fine", SMALL)
    assert result.category is None and result.candidates == ()
    assert result.reason == "unclassified: no catalogue term found"


def test_the_margin_is_configuration():
    text = "没水了，水管也破了，路灯不亮"  # water 3 + 2 against roads 3: a lead of 2 points
    assert classify(text, SMALL, Tuning(margin=1.5)).category == "water"
    close = classify(text, SMALL, Tuning(margin=2.5))
    assert close.category is None
    assert close.reason == "unclassified: too close to call (water 5 against roads 3, margin under 2.5)"
    assert [c.category for c in close.candidates] == ["water", "roads"]


def test_the_threshold_is_configuration():
    text = "水管"  # one medium term: confidence 0.59
    assert classify(text, SMALL, Tuning(threshold=0.55)).category == "water"
    assert classify(text, SMALL, Tuning(threshold=0.6)).category is None


def test_the_explanation_names_words_confidence_runners_up_and_negations():
    text = classify("不是停电，是停水，没水三天了，路灯不亮", SMALL).explain()
    assert text.startswith("water (confidence 0.")
    assert "停水+2" in text and "没水+3" in text and "roads" in text and "negated: 停电" in text


# ---- English words ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, matches", [
    ("The Road, near the school", True), ("two roads are flooded", True), ("road-side ditch", True),
    ("railroads everywhere", False), ("a roadblock", False), ("村口的road坏了", True), ("ＲＯＡＤ", True),
])
def test_english_terms_match_whole_words(text, matches):
    assert (classify(text, SMALL).scores["roads"] > 0) is matches


@pytest.mark.parametrize("text, matches", [
    ("where are our subsidies?", True), ("the Street   Lights are out", True), ("street-light", False),
])
def test_plurals_and_phrases(text, matches):
    assert (classify(text, SMALL).scores["affairs"] > 0) is matches


# ---- the real catalogue -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("没水了", "drinking_water"),
    ("不是停电，是停水", "drinking_water"),
    ("村口的路灯坏了，路面还有个大坑", "roads_bridges"),
    ("独居老人无人探访", "elderly_care"),
    ("家里灯泡坏了需要维修", "small_repairs"),
    ("老板欠薪三个月，工资一直不发", "employment"),
    ("Blackout again, the power cable is down", "power_supply"),
    ("The garbage has not been collected and the public toilet is dirty", "sanitation_refuse"),
])
def test_catalogue_classifies_typical_demands(text, expected):
    assert classify(text, CATALOGUE).category == expected


@pytest.mark.parametrize("text", ["今天天气不错", "有事反映，请联系我", "Railroads and powerful tapestries"])
def test_catalogue_leaves_what_it_cannot_tell_to_triage(text):
    assert classify(text, CATALOGUE).category is None


def test_catalogue_terms_are_valid():
    """Every tier is known, no term is blank, and no term is listed twice in one category."""
    for code, entry in CATALOGUE.items():
        assert set(entry["terms"]) <= {"strong", "medium", "weak"}, code
        words = [normalise(w) for tier in entry["terms"].values() for w in tier or ()]
        assert all(w.strip() for w in words), code
        assert [w for w, n in Counter(words).items() if n > 1] == [], code


@pytest.mark.parametrize("name", ["dev", "dev2"])
def test_accuracy_on_the_labelled_sets_does_not_regress(name):
    """The figures bench/routing prints (docs/routing.md), with a margin: a change to the catalogue or the
    scoring that loses accuracy on the labelled demands fails here."""
    demands = routing_data.load_set(name)
    outcomes = Counter()
    for demand in demands:
        found = classify(demand.text, CATALOGUE).category
        outcomes["triage" if found is None else "exact" if found == demand.category else "misrouted"] += 1
    assert outcomes["exact"] / len(demands) >= 0.9
    assert outcomes["misrouted"] / len(demands) <= 0.05


@pytest.fixture(scope="module")
def shipped_model():
    from dispatch.learning import seed_examples, seeded_model

    return seeded_model(seed_examples())


@pytest.mark.parametrize("name", ["holdout", "holdout2", "holdout3"])
def test_as_shipped_the_held_out_sets_meet_the_issue_targets(name, shipped_model):
    """Issue 14's targets on each held-out set (docs/routing.md), with the catalogue and the seed examples as a new
    township gets them: at least 90% exact on everyday and medium demands, 70% on hard ones, at most 5% misrouted.
    A guard against regressions, not a tuning aid: these sets are never read to choose anything."""
    outcomes: dict[str, Counter] = {"em": Counter(), "hard": Counter(), "all": Counter()}
    for demand in routing_data.load_set(name):
        found = classify(demand.text, CATALOGUE, Tuning(), shipped_model).category
        outcome = "triage" if found is None else "exact" if found == demand.category else "misrouted"
        outcomes["hard" if demand.difficulty == "hard" else "em"][outcome] += 1
        outcomes["all"][outcome] += 1
    share = {k: {o: n / sum(c.values()) for o, n in c.items()} for k, c in outcomes.items()}
    assert share["em"]["exact"] >= 0.90
    assert share["hard"]["exact"] >= 0.70
    assert share["all"].get("misrouted", 0.0) <= 0.05


# ---- invariants -------------------------------------------------------------------------------------------
WORDS = ["road", "water", "停水", "没水", "停电", "灯", "路灯不亮", "不是", "，", "是", " ", "x", "subsidy"]


@given(text=st.lists(st.sampled_from(WORDS), max_size=12).map("".join),
       threshold=st.floats(min_value=0.05, max_value=0.95), margin=st.floats(min_value=0.0, max_value=4.0))
def test_decision_invariants(text, threshold, margin):
    result = classify(text, SMALL, Tuning(threshold=threshold, margin=margin))
    assert set(result.scores) == set(SMALL)
    assert all(score >= 0 for score in result.scores.values())
    ranked = [c.category for c in result.candidates]
    assert len(ranked) == len(set(ranked)) <= 3
    assert all(result.scores[c] > 0 for c in ranked)
    assert [c.score for c in result.candidates] == sorted((c.score for c in result.candidates), reverse=True)
    assert sum(c.confidence for c in result.candidates) <= 1.0 + 1e-6
    lead = (result.candidates[0].score - (result.candidates[1].score if len(ranked) > 1 else 0.0)
            if ranked else 0.0)
    if result.category is not None:
        assert result.category == ranked[0] and result.confidence >= threshold
        assert lead >= margin - 1e-6
    elif ranked:
        assert result.candidates[0].confidence < threshold or lead < margin + 1e-6


@given(text=st.text(max_size=200))
def test_any_text_is_classified_without_error(text):
    result = classify(text, CATALOGUE)
    assert result.category is None or result.category in CATALOGUE
    assert isinstance(result.explain(), str)


def test_a_catalogue_is_compiled_once_and_a_new_one_again():
    from dispatch.classify import lexicon

    first = lexicon(SMALL)
    assert lexicon(SMALL) is first
    changed = {**SMALL, "water": {"keywords": ["停水", "water"], "terms": {"strong": ["断水"]}}}
    assert classify("断水了", changed).category == "water"
    assert classify("断水了", SMALL).category is None
    assert lexicon(dict(SMALL)) is first  # the same content compiles to the same lexicon


@pytest.mark.parametrize("text, expected", [("the road has potholes 路面", "roads"), ("路灯不亮", "roads"),
                                            ("停水 water", "water")])
def test_english_words_are_found_in_mixed_and_only_in_texts_that_have_them(text, expected):
    assert classify(text, SMALL).category == expected
