"""Identity's rules and schemas, without backing services."""
from datetime import datetime, timedelta, timezone

import pytest

from identity import domain
from township_shared import auth
from township_shared.errors import Unauthorized, ValidationFailed
from township_shared.events import load_event, make_event
from township_shared.schemas.demands import DemandReceivedV1
from township_shared.schemas.identity import (IssuedTokenSchema, IssueTokenSchema, TokenIssuedV1, TokenQuerySchema,
                                              TokenViewSchema)
from township_shared.service import load

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
OFFICE = auth.Principal(role="office", actor="office:wang", township_id="qingshui", county_id="lanxi",
                        townships=("qingshui",))
VILLAGES = ("dongpo", "xihe", "nanshan")
ACTIVE = {"kind": "unit", "id": "water_station", "active": True}


def doc(token="tp_abc", **over):
    fields = {"role": "unit", "actor": "unit:water_station", "township_id": "qingshui", "county_id": "lanxi",
              "townships": ["qingshui"], "issued_by": "office:wang", "now": NOW, **over}
    return domain.token_document(token, **fields)


# tokens ------------------------------------------------------------------------------------------------------------
def test_a_token_is_stored_by_its_hash_never_itself():
    token = auth.new_token()
    stored = doc(token)
    assert stored["_id"] == auth.token_hash(token) and stored["token_id"] == stored["_id"][:16]
    assert token not in repr(stored)


def test_an_active_token_resolves_to_its_principal():
    principal = domain.principal_of(doc(villages=["dongpo"], organisation=None))
    assert principal == auth.Principal(role="unit", actor="unit:water_station", township_id="qingshui",
                                       county_id="lanxi", townships=("qingshui",), villages=("dongpo",),
                                       token_id=auth.token_id("tp_abc"))
    assert auth.Principal.from_dict(principal.to_dict()) == principal


@pytest.mark.parametrize("stored", [None, {**doc(), "revoked_at": NOW}])
def test_an_unknown_or_revoked_token_gets_one_answer(stored):
    with pytest.raises(Unauthorized) as err:
        domain.principal_of(stored)
    assert err.value.body["message"] == domain.UNKNOWN_TOKEN


@pytest.mark.parametrize("token", [None, 42, ["tp_x"], {"$ne": None}, "", "tp_", "Bearer tp_x", "abc",
                                   "tp_" + "x" * 300])
def test_a_malformed_token_is_not_looked_up(token):
    assert not domain.well_formed(token)


def test_well_formed_tokens():
    assert domain.well_formed(auth.new_token()) and domain.well_formed(auth.demo_token("qingshui", "office:x"))


def test_no_token_for_the_public():
    with pytest.raises(ValueError):
        doc(role="public", actor="public")


def test_revoking_twice_announces_once():
    stored = doc()
    first = domain.revoke(stored, "office:wang", NOW)
    assert [schema.event_type for schema, _ in first] == ["token_revoked"]
    assert stored["revoked_at"] == NOW and stored["revoked_by"] == "office:wang"
    assert domain.revoke(stored, "office:li", NOW + timedelta(hours=1)) == []
    assert stored["revoked_at"] == NOW and stored["revoked_by"] == "office:wang"


def test_token_events_carry_no_token_and_a_county_token_is_announced_in_its_county():
    token = auth.new_token()
    county = doc(token, role="county", actor="county:lanxi", township_id=None, townships=["qingshui", "baiyun"])
    assert domain.announced_township(county) == "lanxi" and domain.announced_township(doc()) == "qingshui"
    for schema, payload in domain.issued_facts(county) + domain.revoke(county, "service:identity-admin", NOW):
        event = make_event(schema, payload, source="identity", township_id="lanxi", correlation_id=None)
        assert token not in repr(event) and county["_id"] not in repr(event)
        assert event["payload"]["token_id"] == county["token_id"]


# who may be issued a token -------------------------------------------------------------------------------------
def command(**over):
    return load(IssueTokenSchema(), {"role": "unit", "actor": "unit:water_station", **over})


def test_a_registered_active_actor_gets_a_token():
    domain.check_issue(OFFICE, command(), VILLAGES, {"unit:water_station": ACTIVE})
    assert domain.registry_lookups(command()) == ["unit:water_station"]


@pytest.mark.parametrize("record, why", [(None, "is not"), ({**ACTIVE, "active": False}, "is deactivated")])
def test_an_actor_not_in_the_registry_or_deactivated_gets_none(record, why):
    with pytest.raises(ValidationFailed) as err:
        domain.check_issue(OFFICE, command(), VILLAGES, {"unit:water_station": record})
    assert why in err.value.body["fields"]["actor"][0]


def test_office_meeting_and_supervision_actors_are_not_looked_up():
    for role in ("office", "meeting"):
        assert domain.registry_lookups(command(role=role, actor=f"{role}:li")) == []
        domain.check_issue(OFFICE, command(role=role, actor=f"{role}:li"), VILLAGES, {})
    supervision = command(role="supervision", actor="supervision:dongpo_residents", villages=["dongpo"])
    assert domain.registry_lookups(supervision) == []
    domain.check_issue(OFFICE, supervision, VILLAGES, {})


def test_a_supervision_group_has_villages_of_the_township_and_a_registered_organisation():
    cmd = command(role="supervision", actor="supervision:g1", villages=["dongpo", "yunfeng"],
                  organisation="social_org:so_sunshine_elderly")
    assert domain.registry_lookups(cmd) == ["social_org:so_sunshine_elderly"]
    with pytest.raises(ValidationFailed) as err:
        domain.check_issue(OFFICE, cmd, VILLAGES, {"social_org:so_sunshine_elderly": None})
    assert set(err.value.body["fields"]) == {"villages", "organisation"}
    assert "yunfeng" in err.value.body["fields"]["villages"][0]
    domain.check_issue(OFFICE, {**cmd, "villages": ["dongpo"]}, VILLAGES,
                       {"social_org:so_sunshine_elderly": {"kind": "social_org", "active": True}})


def test_only_a_townships_office_issues():
    county = auth.Principal(role="office", actor="office:x", township_id=None)
    with pytest.raises(ValidationFailed):
        domain.check_issue(county, command(role="office", actor="office:li"), VILLAGES, {})


@pytest.mark.parametrize("body, field", [
    ({"role": "county", "actor": "county:lanxi"}, "role"),
    ({"role": "public", "actor": "public:x"}, "role"),
    ({"role": "unit", "actor": "party_member:pm001"}, "actor"),
    ({"role": "unit", "actor": "water_station"}, "actor"),
    ({"role": "office", "actor": "office:Wang"}, "actor"),
    ({"role": "supervision", "actor": "supervision:g"}, "villages"),
    ({"role": "office", "actor": "office:li", "villages": ["dongpo"]}, "villages"),
    ({"role": "meeting", "actor": "meeting:s", "organisation": "social_org:so_x"}, "organisation"),
    ({"role": "supervision", "actor": "supervision:g", "villages": ["dongpo"], "organisation": "unit:x"},
     "organisation"),
    ({"role": "unit", "actor": "unit:water_station", "township_id": "baiyun"}, "township_id"),
])
def test_the_issue_schema_refuses(body, field):
    with pytest.raises(ValidationFailed) as err:
        load(IssueTokenSchema(), body)
    assert field in err.value.body["fields"]


def test_views_never_show_the_token_but_once():
    token = auth.new_token()
    stored = doc(token)
    view = TokenViewSchema().dump(stored)
    assert view["id"] == stored["token_id"] and view["active"] is True
    assert token not in repr(view) and stored["_id"] not in repr(view)
    assert IssuedTokenSchema().dump({**stored, "token": token})["token"] == token
    assert load(TokenQuerySchema(), {"active": "false"}) == {"active": False, "limit": 100}


# audit trail -------------------------------------------------------------------------------------------------------
def demand_received(**over):
    body = make_event(DemandReceivedV1, {
        "case_id": "c1", "case_number": "QS-20261201-0001", "channel": "hotline",
        "reporter": {"name": "张三", "phone": "13812345678", "village": "dongpo"}, "village": "dongpo",
        "location": None, "category": "drinking_water", "title": "t", "description": "d", "urgency": "general",
        "attachments": [], "duplicate_of": None, "received_at": NOW}, source="intake", township_id="qingshui",
        correlation_id="c1", time=NOW)
    return {**body, **over}


def test_an_audit_entry_is_the_envelope_without_the_payload():
    event = load_event(demand_received(actor="public"))
    assert domain.audit_entry(event, "intake.events") == {
        "_id": event.id, "time": NOW, "township_id": "qingshui", "actor": "public", "type": "demand_received",
        "source": "intake", "correlation_id": "c1"}


def test_an_event_from_another_source_than_its_publisher_or_exchange_is_refused():
    with pytest.raises(ValidationFailed) as err:
        domain.audit_entry(load_event(demand_received(source="dispatch")), "dispatch.events")
    assert "published by intake" in err.value.body["fields"]["source"][0]
    with pytest.raises(ValidationFailed) as err:
        domain.audit_entry(load_event(demand_received()), "dispatch.events")
    assert "intake.events" in err.value.body["fields"]["source"][0]


def test_cursors_round_trip_and_order_newest_first():
    entry = {"time": NOW, "_id": "e5"}
    cursor = domain.decode_cursor(domain.encode_cursor(entry))
    assert cursor == (NOW, "e5")
    assert domain.after_cursor({"time": NOW - timedelta(seconds=1), "_id": "z"}, cursor)
    assert domain.after_cursor({"time": NOW, "_id": "e4"}, cursor)
    assert not domain.after_cursor({"time": NOW, "_id": "e6"}, cursor)
    assert not domain.after_cursor({"time": NOW + timedelta(seconds=1), "_id": "a"}, cursor)


@pytest.mark.parametrize("cursor", ["x", "!!!", "W10", "WyJ4IiwgMV0", "WyIyMDI2LTEyLTAxVDAyOjAwOjAwIiwiZTUiXQ"])
def test_a_made_up_cursor_is_a_400(cursor):
    with pytest.raises(ValidationFailed) as err:
        domain.decode_cursor(cursor)
    assert "cursor" in err.value.body["fields"]
