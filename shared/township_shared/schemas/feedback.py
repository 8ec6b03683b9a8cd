"""Schemas of the feedback service: callbacks (回访), completion reports of social organisations, assessment
queries, and its event payloads."""
from marshmallow import fields, validate, validates_schema, ValidationError

from ..events import register
from ..errors import RuleMessage
from .bounds import Boolean, DATE_PATTERN, YEAR, AwareDateTime, Float, Integer, Pattern
from .common import CODE, StrictSchema, url_field
from .dispatch import ActorRefSchema

SATISFACTION_LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
SATISFIED_LEVELS = SATISFACTION_LEVELS[:3]
REASON_CLASSES = ("unit", "policy", "unlawful_demand", "other_outside")
CALLBACK_STATUSES = ("due", "needs_review", "closed")
CALLBACK_OUTCOMES = ("resolved", "redo", "unresolved", "unreached")
REDO_STAGES = ("handling", "dispatch")
REPORT_KINDS = ("milestone", "completion")
MAX_PEOPLE_SERVED = 1_000_000  # a report's people served and hours: beyond these a number is a typo or forged
MAX_SERVICE_HOURS = 1_000_000
REPORT_STATUSES = ("submitted", "verified", "rejected")
DIMENSIONS = ("actor", "village", "category")
PERIODS = ("day", "month", "year")
RATES = ("response_rate", "on_time_completion_rate", "return_rate", "redo_rate", "resolution_rate",
         "satisfaction_rate", "reach_rate", "avg_handling_hours")


class CallbackAttemptSchema(StrictSchema):
    """The office tried to reach the resident and could not."""

    note = fields.String(validate=validate.Length(max=1000), allow_none=True)


class ResidentAnswerSchema(StrictSchema):
    """What the resident says: through the link (no login) or to the office on the phone."""

    resolved = Boolean(required=True)
    satisfaction = fields.String(required=True, validate=validate.OneOf(SATISFACTION_LEVELS))
    comment = fields.String(validate=validate.Length(max=2000), allow_none=True)


class OfficeAnswerSchema(ResidentAnswerSchema):
    """The office records the answer from the phone and, when it is not a satisfied resolution, why."""

    reason_class = fields.String(validate=validate.OneOf(REASON_CLASSES), allow_none=True)
    note = fields.String(validate=validate.Length(max=1000), allow_none=True)
    redo_stage = fields.String(validate=validate.OneOf(("handling", "dispatch")), load_default="handling")


class ClassifySchema(StrictSchema):
    """The office decides on whose side an unresolved or dissatisfied answer lies."""

    reason_class = fields.String(required=True, validate=validate.OneOf(REASON_CLASSES))
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    redo_stage = fields.String(validate=validate.OneOf(("handling", "dispatch")), load_default="handling")


class CallbackQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(CALLBACK_STATUSES), load_default="due")
    case_id = fields.String(validate=validate.Length(min=1, max=100),
                            metadata={"description": "only the callbacks of this case"})
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))


class ReportQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(REPORT_STATUSES),
                           metadata={"description": "only reports in this state"})


class ReportSchema(StrictSchema):
    """A social organisation reports a milestone or the completion of a service project."""

    project = fields.String(required=True, validate=CODE)
    village = fields.String(validate=CODE, allow_none=True,
                            metadata={"description": "where the work was done: its supervision group may review"})
    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))
    milestone = fields.String(validate=validate.Length(min=1, max=200), allow_none=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    people_served = Integer(validate=validate.Range(min=0, max=MAX_PEOPLE_SERVED), load_default=0)
    hours = Float(validate=validate.Range(min=0, max=MAX_SERVICE_HOURS), load_default=0.0)
    evidence_urls = fields.List(url_field(), validate=validate.Length(min=1, max=20), required=True)

    @validates_schema
    def _milestone_named(self, data, **kwargs):
        if data.get("kind") == "milestone" and not data.get("milestone"):
            raise ValidationError(RuleMessage("name the milestone"), "milestone")


class ReviewSchema(StrictSchema):
    verified = Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


# a year, a month or a day from 1970 to 2100-01-01 (which of them the period says: a rule between fields)
AT_PATTERN = rf"^(?:{YEAR}|2100|{YEAR}-(?:0[1-9]|1[0-2])|2100-01|{DATE_PATTERN[1:-1]})$"


class AssessmentQuerySchema(StrictSchema):
    dimension = fields.String(load_default="actor", validate=validate.OneOf(DIMENSIONS))
    period = fields.String(load_default="month", validate=validate.OneOf(PERIODS))
    at = fields.String(validate=Pattern(AT_PATTERN, error="YYYY, YYYY-MM or YYYY-MM-DD, from 1970 to 2100-01-01"),
                       metadata={"description": "the year, month or day (as period says) to read; default: now"})
    kind = fields.String(validate=validate.OneOf(("unit", "party_member", "volunteer", "social_org")))
    by = fields.String(load_default="response_rate", validate=validate.OneOf(RATES))
    limit = Integer(query=True, load_default=5, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _at_matches_period(self, data, **kwargs):
        at, period = data.get("at"), data.get("period", "month")
        if at and len(at) != {"year": 4, "month": 7, "day": 10}[period]:
            written = {"year": "YYYY", "month": "YYYY-MM", "day": "YYYY-MM-DD"}[period]
            raise ValidationError(RuleMessage(f"a {period} is written {written}"), "at")


# ---- event payloads ------------------------------------------------------------------------------------------
class _CaseOfUnit(StrictSchema):
    case_id = fields.String(required=True)
    callback_id = fields.String(required=True)
    unit = fields.Nested(ActorRefSchema, required=True, metadata={"description": "the lead whose work is rated"})
    village = fields.String(required=True)
    category = fields.String(required=True, allow_none=True)


@register("callback_recorded", 1, "feedback")
class CallbackRecordedV1(_CaseOfUnit):
    """A callback attempt or answer. ``final`` with ``reached`` false: the last attempt failed (unreached)."""

    reached = Boolean(required=True)
    final = Boolean(required=True)
    resolved = Boolean(required=True, allow_none=True)
    satisfaction = fields.String(required=True, allow_none=True, validate=validate.OneOf(SATISFACTION_LEVELS))
    channel = fields.String(required=True, validate=validate.OneOf(("phone", "link")))
    outcome = fields.String(required=True, allow_none=True,
                            validate=validate.OneOf(CALLBACK_OUTCOMES + ("needs_review",)))

    @validates_schema
    def _answer_only_when_reached(self, data, **kwargs):
        if data.get("reached") is False:
            for name in ("resolved", "satisfaction"):
                if data.get(name) is not None:
                    raise ValidationError(RuleMessage("must be null when the resident was not reached"), name)


@register("callback_concluded", 1, "feedback")
class CallbackConcludedV1(_CaseOfUnit):
    """The callback of a completion reached its conclusion; dispatch acts on it (closes or reopens the case).
    ``resolved``: a satisfied resolution, or resolved by the resident's word with a reason outside the unit;
    ``unresolved``: not resolved, for a reason outside the unit; ``unreached``: the last allowed attempt failed;
    ``redo``: not satisfactory for a reason on the unit's side (重办), ``stage`` says where it goes back to."""

    outcome = fields.String(required=True, validate=validate.OneOf(CALLBACK_OUTCOMES))
    reason = fields.String(required=True)
    stage = fields.String(required=True, allow_none=True, validate=validate.OneOf(REDO_STAGES))

    @validates_schema
    def _stage_with_redo(self, data, **kwargs):
        if (data.get("outcome") == "redo") != (data.get("stage") is not None):
            raise ValidationError(RuleMessage("a stage is given with a redo, and only then"), "stage")


@register("milestone_verified", 1, "feedback")
class MilestoneVerifiedV1(StrictSchema):
    """A project milestone reported by a social organisation was verified: funds may pay against it."""

    report_id = fields.String(required=True)
    project = fields.String(required=True)
    organisation = fields.Nested(ActorRefSchema, required=True)
    milestone = fields.String(required=True)
    people_served = Integer(required=True, validate=validate.Range(min=0, max=MAX_PEOPLE_SERVED))
    hours = Float(required=True, validate=validate.Range(min=0, max=MAX_SERVICE_HOURS))
    verified_by = fields.String(required=True)


@register("project_completed", 1, "feedback")
class ProjectCompletedV1(StrictSchema):
    """A social organisation's project completion was verified: the rest of the allocation may be paid."""

    report_id = fields.String(required=True)
    project = fields.String(required=True)
    organisation = fields.Nested(ActorRefSchema, required=True)
    people_served = Integer(required=True, validate=validate.Range(min=0, max=MAX_PEOPLE_SERVED))
    hours = Float(required=True, validate=validate.Range(min=0, max=MAX_SERVICE_HOURS))
    verified_by = fields.String(required=True)


@register("report_submitted", 1, "feedback")
class ReportSubmittedV1(StrictSchema):
    """A social organisation submitted a milestone or completion report; it waits for review."""

    report_id = fields.String(required=True)
    project = fields.String(required=True)
    organisation = fields.Nested(ActorRefSchema, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))
    village = fields.String(required=True, allow_none=True)


@register("report_rejected", 1, "feedback")
class ReportRejectedV1(StrictSchema):
    report_id = fields.String(required=True)
    project = fields.String(required=True)
    organisation = fields.Nested(ActorRefSchema, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))
    reason = fields.String(required=True)
    rejected_by = fields.String(required=True)


@register("hotspot_detected", 1, "feedback")
class HotspotDetectedV1(StrictSchema):
    """N or more demands of one category in one village within the window: raised once per cluster."""

    village = fields.String(required=True)
    category = fields.String(required=True)
    count = Integer(required=True, validate=validate.Range(min=1))
    window_hours = Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    first_at = AwareDateTime(required=True)
    last_at = AwareDateTime(required=True)
    case_ids = fields.List(fields.String(), required=True)


# ---- views (API answers) -------------------------------------------------------------------------------------
class _View(StrictSchema):
    pass


class AttemptViewSchema(_View):
    at = AwareDateTime()
    by = fields.String()
    reached = Boolean()
    note = fields.String(allow_none=True)


class AnswerViewSchema(_View):
    resolved = Boolean()
    satisfaction = fields.String()
    comment = fields.String(allow_none=True)
    channel = fields.String()
    at = AwareDateTime()


class CallbackViewSchema(_View):
    id = fields.String(attribute="_id")
    case_id = fields.String()
    unit = fields.Nested(ActorRefSchema)
    village = fields.String()
    category = fields.String(allow_none=True)
    reply = fields.String()
    status = fields.String()
    outcome = fields.String()
    reason_class = fields.String()
    created_at = AwareDateTime()
    closed_at = AwareDateTime()
    attempts = fields.List(fields.Nested(AttemptViewSchema))
    answer = fields.Nested(AnswerViewSchema)
    link = fields.Method("_link", metadata={"description": "one-time link for the resident (the console's page "
                                                          "/console/callback/{token}); office only"})
    api_link = fields.Method("_api_link", metadata={"description": "the same link's JSON route "
                                                                  "/api/v1/callback-links/{token}; office only"})

    def _link(self, obj):
        return f"/console/callback/{obj['token']}" if obj.get("token") else None

    def _api_link(self, obj):
        return f"/api/v1/callback-links/{obj['token']}" if obj.get("token") else None


class PublicCallbackSchema(_View):
    """What the resident sees behind the link: no personal data, no internals."""

    case_id = fields.String()
    reply = fields.String()
    village = fields.String()
    category = fields.String(allow_none=True)
    satisfaction_levels = fields.Constant(list(SATISFACTION_LEVELS))


class ReviewViewSchema(_View):
    at = AwareDateTime()
    by = fields.String()
    reason = fields.String()


class ReportViewSchema(_View):
    id = fields.String(attribute="_id")
    organisation = fields.Nested(ActorRefSchema)
    project = fields.String()
    village = fields.String(allow_none=True)
    kind = fields.String()
    milestone = fields.String(allow_none=True)
    text = fields.String()
    people_served = Integer()
    hours = Float()
    evidence_urls = fields.List(fields.String())
    status = fields.String()
    submitted_at = AwareDateTime()
    review = fields.Nested(ReviewViewSchema)


class FigureRowSchema(_View):
    key = fields.String()
    period = fields.String()
    at = fields.String()
    dispatched = Integer()
    signed = Integer()
    signed_on_time = Integer()
    returned = Integer()
    completed = Integer()
    completed_on_time = Integer()
    redone = Integer()
    callbacks_reached = Integer()
    callbacks_unreached = Integer()
    resolved = Integer()
    rated = Integer()
    satisfied = Integer()
    handling_seconds = Float()
    response_rate = Float(allow_none=True)
    on_time_completion_rate = Float(allow_none=True)
    return_rate = Float(allow_none=True)
    redo_rate = Float(allow_none=True)
    resolution_rate = Float(allow_none=True)
    satisfaction_rate = Float(allow_none=True)
    reach_rate = Float(allow_none=True)
    avg_handling_hours = Float(allow_none=True)


class ClusterViewSchema(_View):
    first_at = AwareDateTime()
    last_at = AwareDateTime()
    count = Integer()
    case_ids = fields.List(fields.String())


class HotspotViewSchema(_View):
    village = fields.String()
    category = fields.String()
    raised_at = AwareDateTime()
    active_until = AwareDateTime()
    cluster = fields.Nested(ClusterViewSchema)
