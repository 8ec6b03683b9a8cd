"""Vocabulary every service uses: channels, urgencies, case statuses, and small reusable schemas."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..errors import RuleMessage
from .bounds import Float, Pattern

CHANNELS = ("hotline", "walk_in", "online", "grid_patrol", "village_committee")
URGENCIES = ("emergency", "utilities", "general")
# The one status of a case, decided by dispatch (intake shows it from ``case_status_changed``):
# received: stored, not yet seen by dispatch; duplicate: linked to an open case, waits for the office, never
# dispatched by itself; triage: waits for the office to route it; dispatched: tasks assigned, the lead has not
# signed; in_progress: the lead signed; completed: the lead replied, the callback is not under way yet;
# callback: the office is calling the resident back (or reviewing the answer); closed: with an outcome.
CASE_STATUSES = ("received", "duplicate", "triage", "dispatched", "in_progress", "completed", "callback", "closed")
OPEN_STATUSES = ("received", "triage", "dispatched", "in_progress", "completed", "callback")  # a duplicate links to these

CODE = Pattern(r"^[a-z0-9][a-z0-9_-]{0,63}$", error="must be a lower-case code (a-z, 0-9, _ or -)")
# an http(s) URL: a host name with its top-level domain, an optional port, then a path or query of the characters
# RFC 3986 allows (anything else percent-encoded); the OpenAPI document states this very pattern (decision 70)
_URL_CHARACTER = r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]"
URL_PATTERN = (r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?::[0-9]{1,5})?"
               rf"(?:/{_URL_CHARACTER}*|\?{_URL_CHARACTER}+)?$")
MAX_URL = 2000
URL = [validate.Length(max=MAX_URL), Pattern(URL_PATTERN, error="must be an http(s) URL with a host name, other "
                                                                "characters than RFC 3986's percent-encoded")]


def url_field(**kwargs) -> fields.String:
    """An http(s) URL (:data:`URL_PATTERN`, at most :data:`MAX_URL` characters)."""
    return fields.String(validate=URL, **kwargs)


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE
        ordered = True


class LocationSchema(StrictSchema):
    lat = Float(validate=validate.Range(min=-90, max=90), allow_none=True)
    long = Float(validate=validate.Range(min=-180, max=180), allow_none=True)
    address = fields.String(validate=validate.Length(min=1, max=500), allow_none=True)

    @validates_schema
    def _coordinates_in_pairs(self, data, **kwargs):
        has_lat, has_long = data.get("lat") is not None, data.get("long") is not None
        if has_lat != has_long:
            raise ValidationError(RuleMessage("lat and long must be given together"), "lat" if has_long else "long")
        if not has_lat and not data.get("address"):
            raise ValidationError(RuleMessage("give lat and long, an address, or both"), "_schema")
