"""Schemas of the joint Party-government meeting (党政联席会议) and of consultation topics (协商议题): the meetings
service's commands, views and events (decisions 67, 75).

``meeting_decision_made`` is one event per decided agenda item. Its payload is versioned per decision kind: the
common fields, ``decision`` naming the kind, and exactly that kind's part (``assignment``, ``funding``,
``closing``, ``deferral`` or ``topic``; the others absent or null), each a schema of its own that can grow a version
without touching the others. Dispatch acts on ``assign`` and ``close`` of a case and announces what it did
(``case_decision_applied``); funds acts on ``approve``, ``reject`` and ``close`` of a project it referred."""
from datetime import datetime

from marshmallow import ValidationError, fields, validate, validates_schema

from ..errors import RuleMessage
from ..events import register
from .bounds import AwareDateTime, Boolean, Integer
from .common import CODE, StrictSchema

MEETING_KINDS = ("joint_meeting", "village_consultation", "hearing")
MEETING_STATUSES = ("draft", "published", "closed")
SUBJECT_KINDS = ("project", "case", "topic", "hotspot", "other")
DECISIONS = ("approve", "reject", "defer", "assign", "close", "open_topic")
DECISION_STATES = ("announced", "in_progress", "done", "refused", "deferred", "superseded")
OPEN_DECISION_STATES = ("announced", "in_progress", "refused", "deferred")
CANDIDATE_SOURCES = ("case_escalated", "hotspot_detected", "project_referred", "topic", "office",
                     "decision_refused")
CANDIDATE_STATES = ("open", "decided", "resolved", "dismissed")
CLOSE_OUTCOMES = ("resolved", "unresolved", "withdrawn")
TOPIC_STEPS = ("proposed", "accepted", "declined", "negotiated", "agreed", "applied", "feedback", "concluded")
TOPIC_PROPOSERS = ("villager", "village_committee", "party_member", "office", "meeting")
MAX_FEN = 10**15

ACTOR = validate.Regexp(r"^[a-z_]{1,20}:[a-z0-9][a-z0-9_-]{0,63}$", error="must be an actor: <kind>:<id>")
ID = validate.Length(min=1, max=64)
TITLE = validate.Length(min=1, max=200)
TEXT = validate.Length(min=1, max=4000)
NAME = validate.Length(min=1, max=100)


def _text(required=True, limit=TEXT, **kw):
    return fields.String(required=required, validate=limit, **kw)


class SubjectSchema(StrictSchema):
    """What an agenda item is about: a funds project, a dispatch case, a consultation topic, a hotspot, ..."""

    kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    id = fields.String(required=True, validate=ID)


class UnitRefSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(("unit",)))
    id = fields.String(required=True, validate=CODE)


class PoolPartSchema(StrictSchema):
    pool = fields.String(required=True, validate=CODE)
    amount_fen = Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_FEN))


# ---- decision parts, one per kind ------------------------------------------------------------------------------
class AssignmentSchema(StrictSchema):
    """``assign``: the lead unit, co-units and the deadline the meeting set."""

    lead = fields.Nested(UnitRefSchema, required=True)
    co_units = fields.List(fields.Nested(UnitRefSchema), load_default=list, validate=validate.Length(max=10))
    deadline = AwareDateTime(required=True)


class FundingDecisionSchema(StrictSchema):
    """``approve`` of a project: how much of the requested amount the meeting approved and, optionally, from
    which pools (each part's amount; they add up to ``approved_fen``)."""

    approved_fen = Integer(strict=True, required=True, validate=validate.Range(min=1, max=MAX_FEN))
    pools = fields.List(fields.Nested(PoolPartSchema), load_default=list, validate=validate.Length(max=10))

    @validates_schema
    def _pools_add_up(self, data, **kwargs):
        pools = data.get("pools") or []
        if pools and sum(p["amount_fen"] for p in pools) != data.get("approved_fen"):
            raise ValidationError(RuleMessage("the pools' amounts must add up to approved_fen"), "pools")


class ClosingSchema(StrictSchema):
    """``close``: the outcome the case closes with (a project closed is rejected)."""

    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES))


class DeferralSchema(StrictSchema):
    """``defer``: to a later meeting; the item goes back among the candidates."""

    until = AwareDateTime(load_default=None, allow_none=True)


class TopicOpeningSchema(StrictSchema):
    """``open_topic``: the consultation topic the meeting opens (accepted at once, proposed by the meeting)."""

    title = _text(limit=TITLE)
    village = fields.String(required=True, validate=CODE)
    description = _text(required=False, load_default=None, allow_none=True)


PARTS = {"assign": "assignment", "approve": "funding", "close": "closing", "defer": "deferral",
         "open_topic": "topic", "reject": None}
SUBJECTS_OF = {"assign": ("case",), "approve": ("project",), "reject": ("project",),
               "close": ("case", "project", "topic", "hotspot", "other"), "defer": SUBJECT_KINDS,
               "open_topic": SUBJECT_KINDS}


class DecisionSchema(StrictSchema):
    """A decision as the secretary records it for an item (the item's subject is the agenda's)."""

    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = _text()
    assignment = fields.Nested(AssignmentSchema, load_default=None, allow_none=True)
    funding = fields.Nested(FundingDecisionSchema, load_default=None, allow_none=True)
    closing = fields.Nested(ClosingSchema, load_default=None, allow_none=True)
    deferral = fields.Nested(DeferralSchema, load_default=None, allow_none=True)
    topic = fields.Nested(TopicOpeningSchema, load_default=None, allow_none=True)
    for_topic = fields.String(load_default=None, allow_none=True, validate=ID,
                              metadata={"description": "the consultation topic whose agreed result this applies"})

    @validates_schema
    def _one_part_per_kind(self, data, **kwargs):
        kind = data.get("decision")
        if kind not in PARTS:
            return
        wanted = PARTS[kind]
        for part in ("assignment", "funding", "closing", "deferral", "topic"):
            given = data.get(part) is not None
            if part == wanted and not given and part not in ("deferral",):
                raise ValidationError(RuleMessage(f"{kind} needs {part}"), part)
            if part != wanted and given:
                owner = [k for k, v in PARTS.items() if v == part][0]
                raise ValidationError(RuleMessage(f"{part} goes with {owner}, not {kind}"), part)


@register("meeting_decision_made", 1, "meetings")
class MeetingDecisionMadeV1(DecisionSchema):
    """The joint meeting decided one agenda item (announced when the meeting closes). ``funding`` is given with
    ``approve`` of a ``project`` (and only then); each other kind has its own part (module docstring)."""

    meeting_id = fields.String(required=True, validate=ID)
    item_id = fields.String(required=True, validate=ID)
    decision_id = fields.String(load_default=None, allow_none=True, validate=ID,
                                metadata={"description": "<meeting_id>.<item_id>"})
    decided_at = AwareDateTime(required=True)
    subject = fields.Nested(SubjectSchema, required=True)

    @validates_schema
    def _subject_fits(self, data, **kwargs):
        kind, subject = data.get("decision"), data.get("subject") or {}
        if kind in SUBJECTS_OF and subject.get("kind") not in SUBJECTS_OF[kind]:
            raise ValidationError(RuleMessage(f"{kind} is decided on a {' or '.join(SUBJECTS_OF[kind])}"), "subject")


# ---- other facts of the meetings service -----------------------------------------------------------------------
@register("meeting_scheduled", 1, "meetings")
class MeetingScheduledV1(StrictSchema):
    meeting_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(MEETING_KINDS))
    title = fields.String(required=True)
    starts_at = AwareDateTime(required=True)
    attendees = fields.List(fields.String(), required=True)


@register("agenda_changed", 1, "meetings")
class AgendaChangedV1(StrictSchema):
    """The secretary composed the agenda or recorded an item (notes, votes, decision) before the meeting closed."""

    meeting_id = fields.String(required=True)
    change = fields.String(required=True, validate=validate.OneOf(("composed", "recorded")))
    item_ids = fields.List(fields.String(), required=True)


@register("agenda_published", 1, "meetings")
class AgendaPublishedV1(StrictSchema):
    """The agenda went to the attendees, opening with the open decisions of earlier meetings."""

    meeting_id = fields.String(required=True)
    title = fields.String(required=True)
    starts_at = AwareDateTime(required=True)
    attendees = fields.List(fields.String(), required=True)
    items = fields.List(fields.Nested(SubjectSchema), required=True)
    open_decisions = fields.List(fields.String(), required=True)


@register("meeting_closed", 1, "meetings")
class MeetingClosedV1(StrictSchema):
    """The minutes are frozen; each decision follows as ``meeting_decision_made``."""

    meeting_id = fields.String(required=True)
    closed_at = AwareDateTime(required=True)
    present = fields.List(fields.String(), required=True)
    absent = fields.List(fields.String(), required=True)
    decisions = fields.List(fields.String(), required=True)


@register("minutes_amended", 1, "meetings")
class MinutesAmendedV1(StrictSchema):
    """A dated addendum by a named actor; the frozen minutes stay as they were."""

    meeting_id = fields.String(required=True)
    addendum_id = fields.String(required=True)
    by = fields.String(required=True)
    at = AwareDateTime(required=True)


@register("agenda_item_proposed", 1, "meetings")
class AgendaItemProposedV1(StrictSchema):
    """The office added a candidate item for a coming meeting."""

    candidate_id = fields.String(required=True)
    subject = fields.Nested(SubjectSchema, required=True)
    title = fields.String(required=True)


class _TopicFact(StrictSchema):
    topic_id = fields.String(required=True)
    village = fields.String(required=True)
    title = fields.String(required=True)
    step = fields.String(required=True, validate=validate.OneOf(TOPIC_STEPS))
    note = fields.String(required=True, allow_none=True)


@register("topic_proposed", 1, "meetings")
class TopicProposedV1(_TopicFact):
    """A consultation topic was proposed (by villagers, a village committee, a Party member, the office, or opened by
    a meeting)."""


@register("topic_accepted", 1, "meetings")
class TopicAcceptedV1(_TopicFact):
    """The office accepted the topic for negotiation: it becomes a candidate item."""


@register("topic_declined", 1, "meetings")
class TopicDeclinedV1(_TopicFact):
    """The office declined the topic with a reason (``note``)."""


@register("topic_negotiated", 1, "meetings")
class TopicNegotiatedV1(_TopicFact):
    """A meeting or hearing with the stakeholders took place; their positions are recorded on the topic."""


@register("topic_agreed", 1, "meetings")
class TopicAgreedV1(_TopicFact):
    """The agreed result (``note``), public from now on."""


@register("topic_applied", 1, "meetings")
class TopicAppliedV1(_TopicFact):
    """A decision applying the agreed result was carried out (or refused): tasks, allocations (``note``)."""


@register("topic_feedback_given", 1, "meetings")
class TopicFeedbackGivenV1(_TopicFact):
    """A stakeholder said how the application went."""


@register("topic_concluded", 1, "meetings")
class TopicConcludedV1(_TopicFact):
    """The office concluded the topic with a summary (``note``)."""


TOPIC_EVENTS = {"proposed": TopicProposedV1, "accepted": TopicAcceptedV1, "declined": TopicDeclinedV1,
                "negotiated": TopicNegotiatedV1, "agreed": TopicAgreedV1, "applied": TopicAppliedV1,
                "feedback": TopicFeedbackGivenV1, "concluded": TopicConcludedV1}


# ---- commands (HTTP bodies) ------------------------------------------------------------------------------------
class AttendeeSchema(StrictSchema):
    actor = fields.String(required=True, validate=ACTOR)
    name = _text(required=False, limit=NAME, load_default=None, allow_none=True)
    role = _text(required=False, limit=NAME, load_default=None, allow_none=True,
                 metadata={"description": "e.g. 村党支部书记, 居民代表"})


class MeetingCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(MEETING_KINDS))
    title = _text(limit=TITLE, metadata={"example": "清水镇第12次党政联席会议"})
    starts_at = AwareDateTime(required=True)
    place = _text(limit=TITLE)
    convener = _text(limit=NAME)
    attendees = fields.List(fields.Nested(AttendeeSchema), required=True, validate=validate.Length(min=1, max=100))

    @validates_schema
    def _attendees_once(self, data, **kwargs):
        actors = [a["actor"] for a in data.get("attendees") or []]
        if len(set(actors)) != len(actors):
            raise ValidationError(RuleMessage("an attendee is listed twice"), "attendees")


class AgendaEntrySchema(StrictSchema):
    candidate_id = fields.String(required=True, validate=ID)
    minutes = Integer(strict=True, load_default=15, validate=validate.Range(min=1, max=600))
    presenter = _text(required=False, limit=NAME, load_default=None, allow_none=True)


class AgendaSchema(StrictSchema):
    """The agenda in its order: each entry a candidate, its time and presenter."""

    items = fields.List(fields.Nested(AgendaEntrySchema), required=True, validate=validate.Length(max=30))

    @validates_schema
    def _candidates_once(self, data, **kwargs):
        ids = [e["candidate_id"] for e in data.get("items") or []]
        if len(set(ids)) != len(ids):
            raise ValidationError(RuleMessage("a candidate is on the agenda twice"), "items")


class VotesSchema(StrictSchema):
    yes = Integer(strict=True, required=True, validate=validate.Range(min=0, max=1000))
    no = Integer(strict=True, required=True, validate=validate.Range(min=0, max=1000))
    abstain = Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=1000))


class RecordSchema(StrictSchema):
    """What the secretary records for an item: discussion notes, votes where taken, the decision, follow-ups."""

    notes = _text(required=False, load_default=None, allow_none=True)
    votes = fields.Nested(VotesSchema, load_default=None, allow_none=True)
    decision = fields.Nested(DecisionSchema, load_default=None, allow_none=True)
    follow_ups = fields.List(_text(limit=TITLE), load_default=list, validate=validate.Length(max=20))


class CloseMeetingSchema(StrictSchema):
    present = fields.List(fields.String(validate=ACTOR), required=True, validate=validate.Length(max=100))


class AddendumSchema(StrictSchema):
    text = _text()


class CandidateCreateSchema(StrictSchema):
    """An item the office adds: about a case (checked with dispatch) or anything else (``other``)."""

    subject = fields.Nested(SubjectSchema, required=True)
    title = _text(limit=TITLE)
    summary = _text()


class CandidateQuerySchema(StrictSchema):
    state = fields.String(load_default="open", validate=validate.OneOf(CANDIDATE_STATES))
    limit = Integer(query=True, load_default=100, validate=validate.Range(min=1, max=500))


class MeetingQuerySchema(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(MEETING_STATUSES))
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))


class TopicCreateSchema(StrictSchema):
    village = fields.String(required=True, validate=CODE)
    title = _text(limit=TITLE)
    description = _text()
    proposer_name = _text(required=False, limit=NAME, load_default=None, allow_none=True,
                          metadata={"description": "shown to the office only"})
    cases = fields.List(fields.String(validate=ID), load_default=list, validate=validate.Length(max=20),
                        metadata={"description": "cases the topic is about"})


class TopicQuerySchema(StrictSchema):
    village = fields.String(load_default=None, validate=CODE)
    limit = Integer(query=True, load_default=100, validate=validate.Range(min=1, max=500))


class TopicReasonSchema(StrictSchema):
    reason = _text()


class PositionSchema(StrictSchema):
    stakeholder = _text(limit=NAME)
    position = _text()


class NegotiationSchema(StrictSchema):
    meeting_id = fields.String(load_default=None, allow_none=True, validate=ID)
    positions = fields.List(fields.Nested(PositionSchema), required=True, validate=validate.Length(min=1, max=50))


class ResultSchema(StrictSchema):
    result = _text()


class FeedbackSchema(StrictSchema):
    text = _text()
    satisfied = Boolean(load_default=None, allow_none=True)
    stakeholder = _text(required=False, limit=NAME, load_default=None, allow_none=True)


class SummarySchema(StrictSchema):
    summary = _text()


TOPIC_COMMANDS = {"accept": (TopicReasonSchema, "Accept the topic for negotiation (office)", ("office",)),
                  "decline": (TopicReasonSchema, "Decline the topic with a reason (office)", ("office",)),
                  "negotiation": (NegotiationSchema, "Record the negotiation: the stakeholders' positions",
                                  ("office", "meeting")),
                  "result": (ResultSchema, "Record the agreed result (published)", ("office", "meeting")),
                  "feedback": (FeedbackSchema, "Feedback on how the application went",
                               ("office", "public", "unit", "party_member", "social_org", "supervision")),
                  "conclude": (SummarySchema, "Conclude the topic (office)", ("office",))}


# ---- views ---------------------------------------------------------------------------------------------------------
class Doc(fields.Field):
    """A nested part of a view as it is stored (its times as ISO 8601 text): reasons, records, minutes, outcomes."""

    def _serialize(self, value, attr, obj, **kwargs):
        return _plain(value)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in ("event_id", "outcome_events")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _View(StrictSchema):
    pass


class AgendaCandidateViewSchema(_View):
    id = fields.String(attribute="_id")
    source = fields.String()
    subject = fields.Nested(SubjectSchema)
    title = fields.String()
    summary = fields.String()
    village = fields.String(allow_none=True)
    reasons = fields.List(Doc())
    state = fields.String()
    created_at = AwareDateTime()
    resolved = Doc(allow_none=True)


class ItemViewSchema(_View):
    id = fields.String()
    candidate_id = fields.String()
    subject = fields.Nested(SubjectSchema)
    source = fields.String()
    title = fields.String()
    summary = fields.String()
    minutes = Integer()
    presenter = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    votes = Doc(allow_none=True)
    decision = Doc(allow_none=True)
    follow_ups = fields.List(fields.String())
    resolved_meanwhile = Boolean()


class DecisionViewSchema(_View):
    id = fields.String()
    meeting_id = fields.String()
    meeting_title = fields.String()
    item_id = fields.String()
    subject = fields.Nested(SubjectSchema)
    title = fields.String()
    decision = fields.String()
    reason = fields.String()
    detail = Doc(allow_none=True)
    for_topic = fields.String(allow_none=True)
    decided_at = AwareDateTime()
    state = fields.String()
    overdue = Boolean()
    outcomes = fields.List(Doc())


class MeetingViewSchema(_View):
    id = fields.String(attribute="_id")
    kind = fields.String()
    title = fields.String()
    starts_at = AwareDateTime()
    place = fields.String()
    convener = fields.String()
    attendees = fields.List(Doc())
    status = fields.String()
    open_decisions = fields.List(fields.Nested(DecisionViewSchema),
                                 metadata={"description": "the agenda opens with these: earlier meetings' decisions "
                                                          "not yet done, and their state"})
    items = fields.List(fields.Nested(ItemViewSchema))
    decisions = fields.List(fields.Nested(DecisionViewSchema))
    published_at = AwareDateTime(allow_none=True)
    closed_at = AwareDateTime(allow_none=True)
    minutes = Doc(allow_none=True)
    addenda = fields.List(Doc())


class TopicViewSchema(_View):
    id = fields.String(attribute="_id")
    village = fields.String()
    title = fields.String()
    description = fields.String()
    step = fields.String()
    proposer = Doc(allow_none=True)
    cases = fields.List(fields.String())
    decline_reason = fields.String(allow_none=True)
    positions = fields.List(Doc())
    result = fields.String(allow_none=True)
    applications = fields.List(Doc())
    feedback = fields.List(Doc())
    conclusion = fields.String(allow_none=True)
    history = fields.List(Doc())
    steps = fields.List(Doc())
    proposed_at = AwareDateTime()


class PublicTopicViewSchema(_View):
    """What the public sees of a topic: its course and published results, no names of proposers or stakeholders."""

    id = fields.String(attribute="_id")
    village = fields.String()
    title = fields.String()
    step = fields.String()
    decline_reason = fields.String(allow_none=True)
    result = fields.String(allow_none=True)
    applications = fields.List(Doc())
    conclusion = fields.String(allow_none=True)
    steps = fields.List(Doc())
    proposed_at = AwareDateTime()
