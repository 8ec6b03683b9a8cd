"""Who sees and who reviews a completion report: pure rules (decision 38)."""
from township_shared.auth import Principal
from feedback import domain

REPORT = {"township_id": "qingshui", "organisation_key": "social_org:so_sun", "village": "dongpo",
          "organisation": {"kind": "social_org", "id": "so_sun"}}


def p(role, actor, township="qingshui", **kw):
    return Principal(role=role, actor=actor, township_id=township, **kw)


def test_who_sees_a_report():
    assert domain.may_see_report(p("office", "office:wang"), REPORT)
    assert not domain.may_see_report(p("office", "office:li", "baiyun"), REPORT)
    assert domain.may_see_report(p("social_org", "social_org:so_sun"), REPORT)
    assert not domain.may_see_report(p("social_org", "social_org:so_rain"), REPORT)
    assert domain.may_see_report(p("supervision", "supervision:g", villages=("dongpo",)), REPORT)
    assert not domain.may_see_report(p("supervision", "supervision:g", villages=("xihe",)), REPORT)
    assert not domain.may_see_report(p("unit", "unit:water_station"), REPORT)


def test_who_reviews_a_report():
    assert domain.may_review(p("office", "office:wang"), REPORT) is None
    assert domain.may_review(p("supervision", "supervision:g", villages=("dongpo",)), REPORT) is None
    own = p("supervision", "supervision:g", villages=("dongpo",), organisation="social_org:so_sun")
    assert "own" in domain.may_review(own, REPORT)
    same_id = p("supervision", "supervision:so_sun", villages=("dongpo",))
    assert "own" in domain.may_review(same_id, REPORT)
    assert domain.may_review(p("supervision", "supervision:g", villages=("xihe",)), REPORT)
    assert domain.may_review(p("social_org", "social_org:so_sun"), REPORT)
