"""The principal contract: signed by the gateway, verified and role-checked by every service."""
import pytest
from hypothesis import given, strategies as st

from township_shared import auth
from township_shared.auth import Principal, Unauthorized
from township_shared.errors import Forbidden
from township_shared.events import load_event, make_event

KEY = "test-key"
OFFICE = Principal(role="office", actor="office:wang", township_id="qingshui")


def test_a_signed_principal_verifies_to_itself():
    unit = Principal(role="supervision", actor="supervision:dongpo_group", township_id="qingshui",
                     villages=("dongpo", "xihe"), organisation="so_sunshine_elderly")
    assert auth.verify(auth.sign(unit, KEY), KEY) == unit


@given(field=st.sampled_from(["role", "actor", "township_id", "townships", "villages"]),
       value=st.one_of(st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3)))
def test_any_change_to_a_signed_principal_is_refused(field, value):
    wire = auth.sign(OFFICE, KEY)
    if wire[field] == value:
        return
    with pytest.raises(Unauthorized):
        auth.verify({**wire, field: value}, KEY)


def test_another_key_or_no_signature_is_refused():
    with pytest.raises(Unauthorized):
        auth.verify(auth.sign(OFFICE, "other-key"), KEY)
    with pytest.raises(Unauthorized):
        auth.verify(OFFICE.to_dict(), KEY)
    with pytest.raises(Unauthorized):
        auth.verify("office", KEY)


class FakeService:
    config = {"PRINCIPAL_KEY": KEY}

    @auth.authorized("office")
    def close(self, principal, case_id):
        return principal, case_id, auth.current()


def test_authorized_checks_the_role_and_sets_the_acting_principal():
    principal, case_id, acting = FakeService().close(auth.sign(OFFICE, KEY), "c1")
    assert (principal, case_id, acting) == (OFFICE, "c1", OFFICE)
    assert auth.current() is None
    unit = Principal(role="unit", actor="unit:water_station", township_id="qingshui")
    with pytest.raises(Forbidden):
        FakeService().close(auth.sign(unit, KEY), "c1")
    with pytest.raises(Unauthorized):
        FakeService().close({"role": "office", "actor": "office", "township_id": "qingshui"}, "c1")


def test_events_record_the_acting_actor_else_the_service():
    from datetime import datetime, timezone

    from township_shared.schemas.dispatch import CaseStatusChangedV1 as schema_cls

    payload = {"case_id": "c1", "case_number": "QS-20261201-0001", "status": "triage", "outcome": None,
               "seq": 1, "since": datetime(2026, 12, 1, 8, tzinfo=timezone.utc)}
    plain = make_event(schema_cls, payload, source="dispatch", township_id="qingshui", correlation_id="c1")
    assert plain["actor"] == "service:dispatch"

    class Dispatch:
        config = {"PRINCIPAL_KEY": KEY}

        @auth.authorized("office")
        def act(self, principal):
            return make_event(schema_cls, payload, source="dispatch", township_id="qingshui", correlation_id="c1")

    event = Dispatch().act(auth.sign(OFFICE, KEY))
    assert event["actor"] == "office:wang"
    assert load_event(event).actor == "office:wang"


def test_tokens_are_random_and_stored_by_hash():
    first, second = auth.new_token(), auth.new_token()
    assert first != second and len(first) >= 40
    assert auth.token_hash(first) != first and len(auth.token_hash(first)) == 64
    assert auth.demo_token("qingshui", "office:demo") == auth.demo_token("qingshui", "office:demo")
    assert auth.demo_token("qingshui", "office:demo") != auth.demo_token("baiyun", "office:demo")
