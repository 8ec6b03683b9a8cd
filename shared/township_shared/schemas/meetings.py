"""Schemas of the joint Party-government meeting (党政联席会议), the meetings service of a later issue.

Only the contract other services already consume is here: ``meeting_decision_made``, one event per decided agenda
item. Funds acts on the decisions about a project it referred (``project_referred``); the meetings service adds
its commands, views and further facts to this module (decision 67)."""
from marshmallow import ValidationError, fields, validate, validates_schema

from ..events import register
from ..errors import RuleMessage
from .bounds import AwareDateTime, Integer
from .common import StrictSchema

SUBJECT_KINDS = ("project", "case", "topic", "other")
DECISIONS = ("approve", "reject", "defer", "assign", "close")


class SubjectSchema(StrictSchema):
    """What the agenda item was about: a funds project, a dispatch case, a consultation topic, ..."""

    kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class FundingDecisionSchema(StrictSchema):
    """The funding part of an approval: how much of the requested amount the meeting approved."""

    approved_fen = Integer(strict=True, required=True, validate=validate.Range(min=1, max=10**15))


@register("meeting_decision_made", 1, "meetings")
class MeetingDecisionMadeV1(StrictSchema):
    """The joint meeting decided one agenda item. ``funding`` is given with ``approve`` of a ``project`` (and
    only then)."""

    meeting_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    item_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    decided_at = AwareDateTime(required=True)
    subject = fields.Nested(SubjectSchema, required=True)
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    funding = fields.Nested(FundingDecisionSchema, required=True, allow_none=True)

    @validates_schema
    def _funding_with_approval(self, data, **kwargs):
        approving = data.get("decision") == "approve" and (data.get("subject") or {}).get("kind") == "project"
        if approving != (data.get("funding") is not None):
            raise ValidationError(RuleMessage("funding is given with the approval of a project, and only then"), "funding")
