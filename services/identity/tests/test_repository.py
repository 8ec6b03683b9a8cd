"""Identity's repository and use cases against the real MongoDB-compatible server: tokens, the demo county's
tokens, the audit trail and its paging."""
from datetime import datetime, timedelta, timezone

import pytest

from identity import demo, handlers
from identity.repository import IdentityRepository
from township_shared import auth
from township_shared.errors import NotFound, Unauthorized, ValidationFailed
from township_shared.events import load_event
from township_shared.schemas.identity import AuditQuerySchema, IssueTokenSchema, TokenQuerySchema
from township_shared.service import load
from township_shared.testing import token_for

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
OFFICE = auth.Principal(role="office", actor="office:wang", township_id="qingshui", county_id="lanxi",
                        townships=("qingshui",))
BAIYUN_OFFICE = auth.Principal(role="office", actor="office:demo_clerk", township_id="baiyun", county_id="lanxi",
                               townships=("baiyun",))


class FakeActors:
    """Dispatch's registry as a dict: ``(township, "<kind>:<id>") -> record``; records who was asked."""

    def __init__(self, records):
        self.records, self.asked = records, []

    def get(self, principal, kind, actor_id):
        self.asked.append((principal.township_id, f"{kind}:{actor_id}"))
        return self.records.get((principal.township_id, f"{kind}:{actor_id}"))


ACTORS = FakeActors({("qingshui", "unit:water_station"): {"kind": "unit", "id": "water_station", "active": True},
                     ("qingshui", "unit:old_depot"): {"kind": "unit", "id": "old_depot", "active": False},
                     ("qingshui", "social_org:so_sunshine_elderly"): {"kind": "social_org", "active": True}})


@pytest.fixture
def irepo(demo):
    return demo("identity")


def issue(repo, principal=OFFICE, **body):
    return handlers.issue(repo, ACTORS, NOW, principal, load(IssueTokenSchema(), body))


# the demo county -------------------------------------------------------------------------------------------------
def test_every_demo_actor_has_its_token(irepo):
    county, actors = demo.read_yaml(demo.DEFAULT_COUNTY), demo.read_yaml(demo.DEFAULT_ACTORS)
    expected = list(demo.demo_actors(county, actors))
    assert len(expected) > 100 and irepo.tokens.count_documents({}) == len(expected)
    for who in expected:
        principal = handlers.resolve(irepo, token_for(who["actor"], who["township_id"]))
        assert (principal.role, principal.actor, principal.township_id) == (who["role"], who["actor"],
                                                                           who["township_id"])
    water = handlers.resolve(irepo, token_for("unit:water_station"))
    assert water.townships == ("qingshui",) and water.county_id == "lanxi"


def test_the_demo_names_every_role_and_the_county_reads_its_townships(irepo):
    county = handlers.resolve(irepo, token_for("county:lanxi", None))
    assert county.role == "county" and county.township_id is None and county.county_id == "lanxi"
    assert set(county.townships) == {"qingshui", "baiyun"}
    assert county.may_read("baiyun") and not county.may_read("elsewhere")
    supervision = handlers.resolve(irepo, token_for("supervision:dongpo_residents"))
    assert supervision.villages == ("dongpo", "xihe") and supervision.organisation is None
    assert handlers.resolve(irepo, token_for("supervision:yunfeng_residents", "baiyun")).villages
    for actor in ("office:demo_clerk", "meeting:secretary", "party_member:pm001", "volunteer:v001",
                  "social_org:so_sunshine_elderly"):
        assert handlers.resolve(irepo, token_for(actor)).actor == actor
    with pytest.raises(Unauthorized):  # a qingshui actor has no baiyun token
        handlers.resolve(irepo, token_for("unit:water_station", "baiyun"))


def test_the_demo_loads_once_and_leaves_a_revoked_token_revoked(irepo):
    count = irepo.tokens.count_documents({})
    handlers.revoke(irepo, NOW, auth.token_id(token_for("unit:water_station")), "office:wang", "qingshui")
    assert demo.load_identity_data(irepo, demo.read_yaml(demo.DEFAULT_COUNTY),
                                   demo.read_yaml(demo.DEFAULT_ACTORS)) == 0
    assert irepo.tokens.count_documents({}) == count
    with pytest.raises(Unauthorized):
        handlers.resolve(irepo, token_for("unit:water_station"))
    assert irepo.tokens.count_documents({"outbox": {"$exists": True}}) == 1  # the revocation, not the demo


# issuing, listing, revoking ----------------------------------------------------------------------------------------
def test_an_issued_token_resolves_and_its_event_waits_in_the_outbox(irepo):
    doc, token = issue(irepo, role="unit", actor="unit:water_station", label="station tablet")
    assert token.startswith(auth.TOKEN_PREFIX) and len(token) > 40
    stored = irepo.tokens.find_one({"token_id": auth.token_id(token)})
    assert stored["_id"] == auth.token_hash(token) and token not in repr(stored)
    assert stored["issued_by"] == "office:wang" and stored["label"] == "station tablet"
    (event,) = [load_event(e) for e in stored["outbox"]]
    assert (event.type, event.actor, event.township_id) == ("token_issued", "office:wang", "qingshui")
    assert event.payload["token_id"] == doc["token_id"] and token not in repr(stored["outbox"])
    principal = handlers.resolve(irepo, token)
    assert (principal.role, principal.actor, principal.township_id, principal.townships, principal.token_id) == (
        "unit", "unit:water_station", "qingshui", ("qingshui",), doc["token_id"])


def test_an_office_issues_only_for_registered_active_actors_of_its_township(irepo):
    with pytest.raises(ValidationFailed) as err:
        issue(irepo, role="unit", actor="unit:old_depot")
    assert "deactivated" in err.value.body["fields"]["actor"][0]
    with pytest.raises(ValidationFailed):  # baiyun's registry (here: empty) has no water station
        issue(irepo, BAIYUN_OFFICE, role="unit", actor="unit:water_station")
    assert ("baiyun", "unit:water_station") in ACTORS.asked
    with pytest.raises(ValidationFailed) as err:  # the villages are identity's copy of the county file
        issue(irepo, BAIYUN_OFFICE, role="supervision", actor="supervision:g", villages=["dongpo"])
    assert "dongpo" in err.value.body["fields"]["villages"][0]
    doc, token = issue(irepo, role="supervision", actor="supervision:g2", villages=["nanshan"],
                       organisation="social_org:so_sunshine_elderly")
    principal = handlers.resolve(irepo, token)
    assert principal.villages == ("nanshan",) and principal.organisation == "social_org:so_sunshine_elderly"


def test_the_office_lists_its_own_townships_tokens(irepo):
    issue(irepo, role="office", actor="office:li")
    doc, _ = issue(irepo, role="office", actor="office:zhao")
    handlers.revoke(irepo, NOW, doc["token_id"], "office:wang", "qingshui")

    def listed(principal=OFFICE, **query):
        return handlers.list_tokens(irepo, principal, load(TokenQuerySchema(), query))

    offices = listed(role="office")
    assert {t["actor"] for t in offices} == {"office:demo_clerk", "office:li", "office:zhao"}
    assert {t["actor"] for t in listed(role="office", active="true")} == {"office:demo_clerk", "office:li"}
    assert [t["actor"] for t in listed(active="false")] == ["office:zhao"]
    assert [t["actor"] for t in listed(actor="office:li")] == ["office:li"]
    assert all(t["township_id"] == "qingshui" for t in listed(limit=500))
    assert not any(t["actor"].startswith("office:") and t["actor"] != "office:demo_clerk"
                   for t in listed(BAIYUN_OFFICE, limit=500))
    assert len(listed(limit=3)) == 3


def test_revoking_is_for_the_own_township_once(irepo):
    doc, token = issue(irepo, role="meeting", actor="meeting:clerk2")
    with pytest.raises(NotFound):
        handlers.revoke(irepo, NOW, doc["token_id"], "office:demo_clerk", "baiyun")
    with pytest.raises(NotFound):
        handlers.revoke(irepo, NOW, "0123456789abcdef", "office:wang", "qingshui")
    with pytest.raises(NotFound):
        handlers.revoke(irepo, NOW, {"$ne": None}, "office:wang", "qingshui")
    handlers.resolve(irepo, token)
    first = handlers.revoke(irepo, NOW, doc["token_id"], "office:wang", "qingshui")
    again = handlers.revoke(irepo, NOW + timedelta(hours=1), doc["token_id"], "office:li", "qingshui")
    assert first["revoked_at"] == again["revoked_at"] == NOW and again["revoked_by"] == "office:wang"
    stored = irepo.tokens.find_one({"token_id": doc["token_id"]})
    assert [e["type"] for e in stored["outbox"]] == ["token_issued", "token_revoked"]
    assert stored["outbox"][1]["actor"] == "office:wang"
    with pytest.raises(Unauthorized) as err:
        handlers.resolve(irepo, token)
    assert err.value.body["message"] == "the token is unknown, revoked or malformed"


# the audit trail ---------------------------------------------------------------------------------------------------
def entry(i, at, township="qingshui", actor="office:wang", type_="case_routed", case="c1"):
    return {"_id": f"e{i:04d}", "time": at, "township_id": township, "actor": actor, "type": type_,
            "source": "dispatch", "correlation_id": case}


def pages(repo, principal=OFFICE, now=NOW, **query):
    q = load(AuditQuerySchema(), query)
    seen = []
    while True:
        items, cursor = handlers.list_audit(repo, now, principal, q)
        seen.append([i["_id"] for i in items])
        if cursor is None:
            return seen
        q = load(AuditQuerySchema(), {**query, "cursor": cursor})


def test_an_event_is_recorded_once(irepo):
    assert irepo.record(entry(1, NOW)) is True
    assert irepo.record(entry(1, NOW)) is False
    assert irepo.audit.count_documents({}) == 1


def test_the_audit_trail_pages_newest_first_across_years_and_filters(irepo):
    # spread over three years, with ties in time, another township, another actor and another case
    times = [NOW - timedelta(minutes=7 * i ** 2) for i in range(60)]
    for i, at in enumerate(times):
        irepo.record(entry(i, at, actor="office:wang" if i % 3 else "unit:water_station",
                           type_="task_signed" if i % 5 == 0 else "case_routed", case=f"c{i % 4}"))
    irepo.record(entry(100, times[10], case="c9"))  # a tie with e0010
    irepo.record(entry(101, NOW, township="baiyun"))
    irepo.record(entry(102, NOW + timedelta(minutes=5), case="c9"))  # dated after "now": a service's clock ahead
    newest_first = sorted([(t, f"e{i:04d}") for i, t in enumerate(times)] + [(times[10], "e0100"),
                                                                              (NOW + timedelta(minutes=5), "e0102")],
                          reverse=True)
    expected = [e for _, e in newest_first]
    got = pages(irepo, limit=7)
    assert [e for page in got for e in page] == expected
    assert all(len(page) == 7 for page in got[:-1]) and 0 < len(got[-1]) <= 7
    assert [e for p in pages(irepo, limit=200) for e in p] == expected
    actor = [e for p in pages(irepo, limit=4, actor="unit:water_station") for e in p]
    assert actor == [e for e in expected if e not in ("e0100", "e0102") and int(e[1:]) % 3 == 0]
    case = [e for p in pages(irepo, limit=3, case="c1") for e in p]
    assert case == [e for e in expected if e not in ("e0100", "e0102") and int(e[1:]) % 4 == 1]
    both = [e for p in pages(irepo, limit=5, type="task_signed", actor="unit:water_station") for e in p]
    assert both == [e for e in expected if e not in ("e0100", "e0102") and int(e[1:]) % 15 == 0]
    assert pages(irepo, BAIYUN_OFFICE) == [["e0101"]]


def test_an_empty_audit_trail_is_one_empty_page(irepo):
    assert pages(irepo) == [[]]


def test_a_deactivated_actor_loses_its_tokens_once(irepo):
    from township_shared.events import make_event
    from township_shared.schemas.dispatch import ActorUpdatedV1

    doc, token = issue(irepo, role="unit", actor="unit:water_station")

    def updated(active, actor="office:wang", township="qingshui"):
        body = make_event(ActorUpdatedV1, {"kind": "unit", "id": "water_station", "fields_changed": ["active"],
                                           "active": active}, source="dispatch", township_id=township,
                          correlation_id=None)
        return load_event({**body, "actor": actor})

    assert handlers.revoke_tokens_of_inactive_actor(irepo, NOW, updated(True)) == []
    assert handlers.resolve(irepo, token).actor == "unit:water_station"
    assert handlers.revoke_tokens_of_inactive_actor(irepo, NOW, updated(False, township="baiyun")) == []
    revoked = handlers.revoke_tokens_of_inactive_actor(irepo, NOW, updated(False))
    assert {d["token_id"] for d in revoked} == {doc["token_id"], auth.token_id(token_for("unit:water_station"))}
    assert {d["revoked_by"] for d in revoked} == {"office:wang"}
    for gone in (token, token_for("unit:water_station")):
        with pytest.raises(Unauthorized):
            handlers.resolve(irepo, gone)
    assert handlers.revoke_tokens_of_inactive_actor(irepo, NOW, updated(False)) == []  # a redelivery
    assert handlers.resolve(irepo, token_for("unit:vc_dongpo")).actor == "unit:vc_dongpo"  # only that actor's
