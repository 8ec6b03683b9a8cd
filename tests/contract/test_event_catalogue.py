"""Contract: every event schema the code registers is in the catalogue, and every catalogued field exists."""
import re
from pathlib import Path

from township_shared.schemas import load_all
from township_shared.events import PAYLOAD_SCHEMAS, EnvelopeSchema

load_all()
CATALOGUE = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text(encoding="utf-8")


def section(event_type, version):
    match = re.search(rf"^### `{event_type}` v{version}\n(.*?)(?=^#|\Z)", CATALOGUE, re.M | re.S)
    assert match, f"docs/events.md has no section for {event_type} v{version}"
    return match.group(1)


def documented_fields(text):
    return set(re.findall(r"^\| `(\w+)`", text, re.M)) | {
        f for cell in re.findall(r"^\| `(\w+)`, `(\w+)`", text, re.M) for f in cell}


def test_every_registered_event_is_catalogued_with_its_fields():
    assert PAYLOAD_SCHEMAS
    for (event_type, version), schema_cls in PAYLOAD_SCHEMAS.items():
        assert f"| `{event_type}` | {version} |" in CATALOGUE
        assert documented_fields(section(event_type, version)) == set(schema_cls().fields)


def test_envelope_fields_are_catalogued():
    envelope = CATALOGUE.split("## Events")[0]
    assert documented_fields(envelope) == set(EnvelopeSchema().fields)


def catalogued_publishers():
    table = CATALOGUE.split("## Events")[1].split("###")[0]
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \| (\w+) \|", table, re.M)
    found: dict[str, set[str]] = {}
    for event_type, _, source in rows:
        found.setdefault(event_type, set()).add(source)
    return found


def test_no_event_type_has_two_publishers():
    """One authority per fact: the code registers each type with one publisher, and the catalogue agrees."""
    from township_shared.events import PUBLISHERS

    catalogued = catalogued_publishers()
    assert set(catalogued) == set(PUBLISHERS)
    two = {t: sorted(s) for t, s in catalogued.items() if len(s) != 1}
    assert not two, f"event types with several publishers: {two}"
    assert {t: s.pop() for t, s in catalogued.items()} == PUBLISHERS


def test_a_service_cannot_publish_another_services_event():
    import pytest

    from township_shared.events import NotThePublisher, make_event
    from township_shared.schemas.dispatch import CaseClosedV1

    with pytest.raises(NotThePublisher):
        make_event(CaseClosedV1, {"case_id": "c1", "outcome": "resolved", "reason": "r", "by": "callback"},
                   source="feedback", township_id="qingshui", correlation_id="c1")
