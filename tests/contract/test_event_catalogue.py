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
