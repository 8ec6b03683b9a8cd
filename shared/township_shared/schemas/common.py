"""Vocabulary every service uses: channels, urgencies, case statuses, and small reusable schemas."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .bounds import Float

CHANNELS = ("hotline", "walk_in", "online", "grid_patrol", "village_committee")
URGENCIES = ("emergency", "utilities", "general")
# The one status of a case, decided by dispatch (intake shows it from ``case_status_changed``):
# received: stored, not yet seen by dispatch; duplicate: linked to an open case, waits for the office, never
# dispatched by itself; triage: waits for the office to route it; dispatched: tasks assigned, the lead has not
# signed; in_progress: the lead signed; completed: the lead replied, the callback is not under way yet;
# callback: the office is calling the resident back (or reviewing the answer); closed: with an outcome.
CASE_STATUSES = ("received", "duplicate", "triage", "dispatched", "in_progress", "completed", "callback", "closed")
OPEN_STATUSES = ("received", "triage", "dispatched", "in_progress", "completed", "callback")  # a duplicate links to these

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$", error="must be a lower-case code (a-z, 0-9, _ or -)")


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
            raise ValidationError("lat and long must be given together", "lat" if has_long else "long")
        if not has_lat and not data.get("address"):
            raise ValidationError("give lat and long, an address, or both", "_schema")
