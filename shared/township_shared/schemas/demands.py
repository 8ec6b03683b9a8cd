"""Schemas of a resident's demand: the submission (HTTP body and RPC argument), its stored view, the listing
query, and the ``demand_received`` event payload."""
from marshmallow import ValidationError, fields, validate, validates_schema

from .. import phones
from ..events import register
from ..errors import RuleMessage
from .bounds import AwareDateTime, Integer, Pattern
from .common import CASE_STATUSES, CHANNELS, CODE, URGENCIES, LocationSchema, StrictSchema, url_field



# how a phone number is written (the OpenAPI document states it); whether the numbering plan has it is a rule the
# document cannot state: a 422 (decision 70)
PHONE = [validate.Length(max=phones.MAX_LENGTH), Pattern(phones.WRITTEN.pattern, error="must be a phone number: "
                                                         "digits with spaces or dashes, optionally +86 or 0086 first")]
MAX_DESCRIPTION = 4000
MAX_ATTACHMENTS = 10


class ReporterSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(required=True, validate=PHONE)
    village = fields.String(required=True, validate=CODE)

    @validates_schema
    def _plausible_phone(self, data, **kwargs):
        """A valid number, or a landline without its area code, which intake completes with the township's
        (``township_shared.phones``; intake stores the number in E.164 form)."""
        if not phones.plausible(data["phone"]):
            raise ValidationError(RuleMessage(
                "not a number of the numbering plan: a mobile (13812345678, +86 138 1234 5678, 0086 ...) or a "
                "landline (0579-8212 3456, or 8212 3456 in the township's area)"), "phone")


class DemandSubmissionSchema(StrictSchema):
    """Body of ``POST /api/v1/demands`` and argument of intake's ``submit_demand``."""

    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    reporter = fields.Nested(ReporterSchema, required=True)
    village = fields.String(required=True, validate=CODE)
    location = fields.Nested(LocationSchema, allow_none=True)
    category = fields.String(validate=CODE, allow_none=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=MAX_DESCRIPTION))
    urgency = fields.String(validate=validate.OneOf(URGENCIES), allow_none=True)
    attachments = fields.List(url_field(), validate=validate.Length(max=MAX_ATTACHMENTS), load_default=list)


class ReporterViewSchema(StrictSchema):
    name = fields.String()
    phone = fields.String(metadata={"description": "masked (138****5678) outside the office"})
    village = fields.String()


class DemandSchema(StrictSchema):
    """A stored demand (one case) as the API shows it."""

    id = fields.String()
    case_number = fields.String(metadata={"description": "readable aloud: township prefix, date, sequence"})
    township_id = fields.String()
    channel = fields.String()
    reporter = fields.Nested(ReporterViewSchema)
    village = fields.String()
    location = fields.Nested(LocationSchema, allow_none=True)
    category = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    urgency = fields.String()
    attachments = fields.List(fields.String())
    status = fields.String(validate=validate.OneOf(CASE_STATUSES),
                           metadata={"description": "the one status of the case, as dispatch decided it"})
    outcome = fields.String(allow_none=True, metadata={"description": "how a closed case ended"})
    status_since = AwareDateTime(allow_none=True)
    duplicate_of = fields.String(allow_none=True)
    received_at = AwareDateTime()


class DemandAcceptedSchema(StrictSchema):
    """Answer to a submission (201)."""

    id = fields.String()
    case_number = fields.String()
    status = fields.String()
    duplicate_of = fields.String(allow_none=True)
    received_at = AwareDateTime()
    secret = fields.String(metadata={"description": "with the case number, lets the resident follow this case "
                                                    "(header X-Case-Secret); shown in this answer only"})


class DemandQuerySchema(StrictSchema):
    """Filters and page of ``GET /api/v1/demands``; newest first, ``cursor`` from the previous page."""

    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    village = fields.String(validate=CODE)
    category = fields.String(validate=CODE)
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    received_from = AwareDateTime()
    received_to = AwareDateTime()
    limit = Integer(query=True, load_default=20, validate=validate.Range(min=1, max=100))
    cursor = Integer(query=True, validate=validate.Range(min=1))


class DemandPageSchema(StrictSchema):
    items = fields.List(fields.Nested(DemandSchema))
    next_cursor = Integer(allow_none=True)


@register("demand_received", 1, "intake")
class DemandReceivedV1(StrictSchema):
    """A demand was accepted and stored. ``duplicate_of`` set: linked to that open case, not to be dispatched.
    ``category`` null: dispatch classifies. The reporter's phone is in full: the bus is internal."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    reporter = fields.Nested(ReporterSchema, required=True)
    village = fields.String(required=True)
    location = fields.Nested(LocationSchema, allow_none=True, load_default=None)
    category = fields.String(required=True, allow_none=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    attachments = fields.List(fields.String(), required=True)
    duplicate_of = fields.String(required=True, allow_none=True)
    received_at = AwareDateTime(required=True)
