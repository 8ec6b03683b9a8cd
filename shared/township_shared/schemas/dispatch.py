"""Schemas of the dispatch service: actors, routing commands, task commands, and its event payloads."""
from dataclasses import dataclass

from marshmallow import fields, validate, validates_schema, ValidationError

from ..events import register
from ..errors import RuleMessage
from .bounds import Boolean, AwareDateTime, Float, Integer, Pattern
from .common import CASE_STATUSES, CODE, StrictSchema, URGENCIES, url_field
from .reference import NamesSchema

MAX_HANDLING_SECONDS = 10 * 366 * 86400  # a task open ten years is a forged or broken number, not a late unit
ACTOR_KINDS = ("unit", "party_member", "volunteer", "social_org")
UNIT_TYPES = ("department", "village_committee")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TASK_STATES = ("assigned", "signed", "in_progress", "extension_requested", "completed", "returned", "cancelled")
TASK_ROLES = ("lead", "co_handler")
DISPATCH_CASE_STATUSES = CASE_STATUSES
ESCALATION_REASONS = ("overdue", "returned_twice", "whistle")
CLOSE_OUTCOMES = ("resolved", "unresolved", "duplicate", "withdrawn", "unreached")
ACTOR_REF = Pattern(r"^(unit|party_member|volunteer|social_org):[a-z0-9][a-z0-9_-]{0,63}$",
                            error="must be <kind>:<id>, e.g. unit:water_station")


class ContactSchema(StrictSchema):
    person = fields.String(validate=validate.Length(max=100), allow_none=True)
    phone = fields.String(validate=validate.Length(max=40), allow_none=True)


class ActorSchema(StrictSchema):
    """An actor who can receive tasks. Fields beyond ``kind``, ``id`` and names depend on the kind."""

    kind = fields.String(required=True, validate=validate.OneOf(ACTOR_KINDS))
    id = fields.String(required=True, validate=CODE)
    names = fields.Nested(NamesSchema, allow_none=True)
    name = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)
    active = Boolean(load_default=True)
    contact = fields.Nested(ContactSchema, allow_none=True)
    phone = fields.String(validate=validate.Length(max=40), allow_none=True)
    # units
    unit_type = fields.String(validate=validate.OneOf(UNIT_TYPES), allow_none=True)
    categories = fields.List(fields.String(validate=CODE), load_default=list)
    villages = fields.List(fields.String(validate=Pattern(r"^(\*|[a-z0-9][a-z0-9_-]*)$")),
                           load_default=list)
    webhook_url = url_field(allow_none=True)
    # party members and volunteers
    branch = fields.String(validate=validate.Length(max=200), allow_none=True)
    home_village = fields.String(validate=CODE, allow_none=True)
    skills = fields.List(fields.String(validate=CODE), load_default=list)
    availability = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), load_default=list)
    open_task_limit = Integer(validate=validate.Range(min=0, max=50), allow_none=True)
    service_hours = Float(validate=validate.Range(min=0), load_default=0.0)
    # social organisations
    registered_name = fields.String(validate=validate.Length(max=200), allow_none=True)
    service_areas = fields.List(fields.String(validate=CODE), load_default=list)

    @validates_schema
    def _fields_of_kind(self, data, **kwargs):
        kind = data.get("kind")
        if kind == "unit" and not data.get("unit_type"):
            raise ValidationError(RuleMessage("a unit needs unit_type"), "unit_type")
        if kind in ("party_member", "volunteer"):
            for field in ("name", "home_village"):
                if not data.get(field):
                    raise ValidationError(RuleMessage(f"a {kind} needs {field}"), field)
            if data.get("open_task_limit") is None:
                data["open_task_limit"] = 3
        if kind == "party_member" and not data.get("branch"):
            raise ValidationError(RuleMessage("a double check-in Party member needs the workplace Party branch"), "branch")
        if kind in ("unit", "social_org") and not data.get("names"):
            raise ValidationError(RuleMessage(f"a {kind} needs names (zh, en)"), "names")


class ActorUpdateSchema(ActorSchema):
    """A partial update: any field but ``kind`` and ``id``. Load it with ``partial=True``, so a field not given
    keeps its stored value instead of taking its default (an update of ``phone`` once emptied ``skills``)."""

    kind = fields.String(dump_only=True)
    id = fields.String(dump_only=True)

    @validates_schema
    def _fields_of_kind(self, data, **kwargs):
        return None


class ActorViewSchema(ActorSchema):
    open_tasks = Integer()

    @validates_schema
    def _fields_of_kind(self, data, **kwargs):
        return None


class RouteCommandSchema(StrictSchema):
    """The office routes or re-routes a case by hand."""

    lead = fields.String(required=True, validate=ACTOR_REF)
    co_handlers = fields.List(fields.String(validate=ACTOR_REF), load_default=list)
    category = fields.String(validate=CODE, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ReasonSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class NoBodySchema(StrictSchema):
    note = fields.String(validate=validate.Length(max=1000), allow_none=True)


class ExtensionRequestSchema(StrictSchema):
    until = AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ExtensionDecisionSchema(StrictSchema):
    approved = Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class CompletionSchema(StrictSchema):
    reply = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    attachments = fields.List(url_field(), validate=validate.Length(max=10), load_default=list)


@dataclass(frozen=True)
class TaskCommand:
    """One task command: dispatch runs ``name`` (``domain.TASK_COMMAND_RULES[name]``) on a body loaded through
    ``body``; the gateway serves it at ``POST /api/v1/tasks/{task_id}/<path>`` and documents it in OpenAPI. An
    ``office`` command is the office's decision; any other is the task's assignee's."""

    name: str
    path: str
    body: type
    office: bool
    summary: str


TASK_COMMANDS: tuple[TaskCommand, ...] = (
    TaskCommand("sign", "sign", NoBodySchema, False, "Sign for the task (签收)"),
    TaskCommand("return", "return", ReasonSchema, False, "Return the task with a reason (回退)"),
    TaskCommand("start", "start", NoBodySchema, False, "Start handling the task"),
    TaskCommand("request_extension", "extension-request", ExtensionRequestSchema, False,
                "Ask for a later handling deadline, before the current one"),
    TaskCommand("decide_extension", "extension-decision", ExtensionDecisionSchema, True,
                "Approve or refuse an extension (office)"),
    TaskCommand("complete", "complete", CompletionSchema, False, "Reply what was done (答复/办结)"),
)
TASK_COMMANDS_BY_NAME = {c.name: c for c in TASK_COMMANDS}
TASK_COMMANDS_BY_PATH = {c.path: c for c in TASK_COMMANDS}


class CloseCommandSchema(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class WhistleCommandSchema(StrictSchema):
    units = fields.List(fields.String(validate=ACTOR_REF), required=True, validate=validate.Length(min=1, max=20))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class TaskQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(TASK_STATES + ("open",)))
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))


BOARD_CURSOR = Pattern(r"^[0-2]\.[0-9]{1,16}\.[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,199}$",
                       error="must be a next_cursor of the previous page")


class CaseBoardQuerySchema(StrictSchema):
    """The office's board of cases (decision 95): one stage, filtered by village and category, paged."""

    status = fields.String(load_default="triage", validate=validate.OneOf(DISPATCH_CASE_STATUSES))
    village = fields.String(validate=CODE)
    category = fields.String(validate=CODE)
    limit = Integer(query=True, load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=BOARD_CURSOR)


class ActorQuerySchema(StrictSchema):
    kind = fields.String(validate=validate.OneOf(ACTOR_KINDS))
    village = fields.String(validate=CODE)
    active = Boolean(query=True)


# ---- event payloads ------------------------------------------------------------------------------------------
class ActorRefSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(ACTOR_KINDS))
    id = fields.String(required=True, validate=CODE)


class TaskRefSchema(StrictSchema):
    """A task another service asks dispatch about (``task_facts``)."""

    case_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    task_id = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TaskFactsSchema(StrictSchema):
    """``task_facts``'s answer: the task as dispatch has it."""

    case_id = fields.String(required=True)
    task_id = fields.String(required=True)
    assignee = fields.Nested(ActorRefSchema, required=True)
    role = fields.String(required=True, validate=validate.OneOf(TASK_ROLES))
    status = fields.String(required=True)


class _TaskFact(StrictSchema):
    case_id = fields.String(required=True)
    task_id = fields.String(required=True)
    assignee = fields.Nested(ActorRefSchema, required=True)
    role = fields.String(required=True, validate=validate.OneOf(TASK_ROLES))
    category = fields.String(required=True, allow_none=True)
    village = fields.String(required=True)


@register("case_routed", 1, "dispatch")
class CaseRoutedV1(StrictSchema):
    """A case got its lead (and co-handlers), by the rules (``by`` = ``system``) or by the office."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    category = fields.String(required=True)
    village = fields.String(required=True)
    lead = fields.Nested(ActorRefSchema, required=True)
    co_handlers = fields.List(fields.Nested(ActorRefSchema), required=True)
    by = fields.String(required=True)
    reason = fields.String(required=True)
    classified_by = fields.String(required=True, validate=validate.OneOf(("reporter", "keywords", "office")))


@register("case_triaged", 1, "dispatch")
class CaseTriagedV1(StrictSchema):
    """A case waits in the office's triage queue (no rule, ambiguous rules, duplicate, returned, unclassified)."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    reason = fields.String(required=True)
    candidates = fields.List(fields.String(), required=True)


@register("task_assigned", 1, "dispatch")
class TaskAssignedV1(_TaskFact):
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    assigned_at = AwareDateTime(required=True)
    sign_deadline = AwareDateTime(required=True)
    handling_deadline = AwareDateTime(required=True)

    @validates_schema
    def _deadlines_after_assignment(self, data, **kwargs):
        for name in ("sign_deadline", "handling_deadline"):
            if name in data and "assigned_at" in data and data[name] < data["assigned_at"]:
                raise ValidationError(RuleMessage("must not be before assigned_at"), name)


@register("task_signed", 1, "dispatch")
class TaskSignedV1(_TaskFact):
    signed_at = AwareDateTime(required=True)
    within_deadline = Boolean(required=True)
    lead_now = Boolean(required=True, metadata={"description": "first receiver became the lead"})


@register("task_returned", 1, "dispatch")
class TaskReturnedV1(_TaskFact):
    reason = fields.String(required=True)
    returns = Integer(required=True, validate=validate.Range(min=1),
                      metadata={"description": "returns of this case so far, this one included"})


@register("task_extension_requested", 1, "dispatch")
class TaskExtensionRequestedV1(_TaskFact):
    until = AwareDateTime(required=True)
    reason = fields.String(required=True)


@register("task_extension_decided", 1, "dispatch")
class TaskExtensionDecidedV1(_TaskFact):
    approved = Boolean(required=True)
    handling_deadline = AwareDateTime(required=True)
    reason = fields.String(required=True)


@register("task_completed", 1, "dispatch")
class TaskCompletedV1(_TaskFact):
    reply = fields.String(required=True)
    attachments = fields.List(fields.String(), required=True)
    completed_at = AwareDateTime(required=True)
    on_time = Boolean(required=True)
    handling_seconds = Float(required=True, validate=validate.Range(min=0, max=MAX_HANDLING_SECONDS),
                             metadata={"description": "from assignment to completion"})


@register("case_closed", 1, "dispatch")
class CaseClosedV1(StrictSchema):
    """The case is closed: by the office, or after its callback concluded (``by``: ``callback``).
    ``unresolved`` and ``unreached`` are never counted as resolved."""

    case_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    reason = fields.String(required=True)
    by = fields.String(required=True)


@register("case_reopened", 1, "dispatch")
class CaseReopenedV1(StrictSchema):
    """Redo (重办) after the callback concluded ``redo``: unresolved or dissatisfied for a reason on the unit's
    side. ``stage`` handling: the same lead handles it again; dispatch: the office routes it anew."""

    case_id = fields.String(required=True)
    callback_id = fields.String(required=True)
    unit = fields.Nested(ActorRefSchema, required=True, metadata={"description": "the lead whose work is rated"})
    village = fields.String(required=True)
    category = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True)
    stage = fields.String(required=True, validate=validate.OneOf(("handling", "dispatch")))


@register("case_status_changed", 1, "dispatch")
class CaseStatusChangedV1(StrictSchema):
    """The case's one status changed (see ``CASE_STATUSES``); ``seq`` counts the changes of this case, so a
    reader keeps the highest it saw and an old event arriving late changes nothing."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    outcome = fields.String(required=True, allow_none=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    since = AwareDateTime(required=True)
    seq = Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31))


class _Deadline(_TaskFact):
    deadline_kind = fields.String(required=True, validate=validate.OneOf(("sign", "handling")))
    deadline = AwareDateTime(required=True)


@register("task_reminder_due", 1, "dispatch")
class TaskReminderDueV1(_Deadline):
    """A task's deadline is near (``REMINDER_FRACTION`` of its window left)."""


@register("task_overdue", 1, "dispatch")
class TaskOverdueV1(_Deadline):
    """A task passed its deadline without being signed (sign) or completed (handling)."""


@register("case_escalated", 1, "dispatch")
class CaseEscalatedV1(StrictSchema):
    """A case goes to the joint meeting's attention: overdue past the grace, returned twice, or whistled."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(ESCALATION_REASONS))
    detail = fields.String(required=True)
    units = fields.List(fields.Nested(ActorRefSchema), required=True)


@register("case_escalated", 2, "dispatch")
class CaseEscalatedV2(CaseEscalatedV1):
    """v1 with what the joint meeting reads of the case on its list of candidate items, so it needs no other
    screen (decision 76): the demand's title, village, category, urgency and status when it escalated."""

    title = fields.String(required=True)
    village = fields.String(required=True)
    category = fields.String(required=True, allow_none=True)
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))


@register("case_decision_applied", 1, "dispatch")
class CaseDecisionAppliedV1(StrictSchema):
    """What dispatch did with a joint meeting's decision on a case (``meeting_decision_made``): ``assign`` gave
    the case new tasks (``task_ids``, lead first), ``close`` closed it; ``applied`` false when it could not be
    carried out (``reason``: the case is closed, the unit is inactive, ...)."""

    decision_id = fields.String(required=True)
    meeting_id = fields.String(required=True)
    item_id = fields.String(required=True)
    case_id = fields.String(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(("assign", "close")))
    applied = Boolean(required=True)
    task_ids = fields.List(fields.String(), required=True)
    reason = fields.String(required=True, allow_none=True)


# ---- views (API answers) -------------------------------------------------------------------------------------
class _View(StrictSchema):
    class Meta:
        ordered = True


class HistoryEntrySchema(_View):
    at = AwareDateTime()
    who = fields.String()
    what = fields.String()
    why = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)


class ExtensionViewSchema(_View):
    requested_at = AwareDateTime()
    until = AwareDateTime()
    reason = fields.String()
    decided_at = AwareDateTime()
    approved = Boolean()
    decision_reason = fields.String()


class TaskViewSchema(_View):
    id = fields.String()
    assignee = fields.Nested(ActorRefSchema)
    assignee_key = fields.String()
    role = fields.String()
    status = fields.String()
    allowed = fields.List(fields.String(), metadata={"description": "commands the task's state allows now"})
    assigned_at = AwareDateTime()
    sign_deadline = AwareDateTime()
    handling_deadline = AwareDateTime()
    signed_at = AwareDateTime()
    signed_within_deadline = Boolean()
    returned_at = AwareDateTime()
    return_reason = fields.String()
    completed_at = AwareDateTime()
    completed_on_time = Boolean()
    reply = fields.String()
    reply_attachments = fields.List(fields.String())
    extension = fields.Nested(ExtensionViewSchema)
    case = fields.Dict()


class TriageViewSchema(_View):
    reason = fields.String()
    candidates = fields.List(fields.String())
    since = AwareDateTime()


class WhistleUnitSchema(_View):
    unit = fields.Nested(ActorRefSchema)
    key = fields.String()
    reported_at = AwareDateTime(allow_none=True)
    on_time = Boolean(allow_none=True)


class WhistleViewSchema(_View):
    at = AwareDateTime()
    reason = fields.String()
    report_deadline = AwareDateTime()
    units = fields.List(fields.Nested(WhistleUnitSchema))


class EscalationSchema(_View):
    at = AwareDateTime()
    reason = fields.String()
    detail = fields.String()


class ClosedSchema(_View):
    at = AwareDateTime()
    outcome = fields.String()
    reason = fields.String()
    by = fields.String()


class CandidateViewSchema(_View):
    category = fields.String()
    score = Float()
    confidence = Float()


class ClassificationWordSchema(_View):
    category = fields.String()
    term = fields.String()
    weight = Float()
    negated = Boolean()


class LearnedEvidenceSchema(_View):
    category = fields.String()
    feature = fields.String()
    examples = Integer()
    weight = Float()


class ClassificationViewSchema(_View):
    """How dispatch classified a demand that came without a category (decision 60)."""

    category = fields.String(allow_none=True, metadata={"description": "null: not sure enough, left to triage"})
    confidence = Float()
    candidates = fields.List(fields.Nested(CandidateViewSchema), metadata={"description": "best first, at most 3"})
    words = fields.List(fields.Nested(ClassificationWordSchema),
                        metadata={"description": "catalogue terms found; negated ones did not count"})
    learned = fields.List(fields.Nested(LearnedEvidenceSchema),
                          metadata={"description": "what the township's office examples added (decision 61)"})
    explanation = fields.String()
    at = AwareDateTime()


class ChoicePartSchema(_View):
    name = fields.String(metadata={"description": "skill, party_member, distance, load or serves_village"})
    points = Float()
    detail = fields.String()


class ChoiceCandidateSchema(_View):
    actor = fields.String(metadata={"description": "<kind>:<id>"})
    score = Float()
    parts = fields.List(fields.Nested(ChoicePartSchema))


class ChoiceViewSchema(_View):
    """Who dispatch chose where the responsibility list left a choice, by skills, distance and load (decision
    86): every candidate with its points, the one taken (null: the office decides) and why."""

    role = fields.String()
    chosen = fields.String(allow_none=True)
    reason = fields.String()
    skipped = fields.List(fields.String(), metadata={"description": "better-ranked members at their limit"})
    candidates = fields.List(fields.Nested(ChoiceCandidateSchema), metadata={"description": "best first"})
    at = AwareDateTime()


class RoutingExampleQuerySchema(StrictSchema):
    active = Boolean(query=True, load_default=None, allow_none=True,
                            metadata={"description": "true: what the model learns from; false: what was undone"})
    category = fields.String(load_default=None, allow_none=True, validate=CODE)
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))


class ExampleDecisionSchema(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class UndoneSchema(_View):
    by = fields.String()
    at = AwareDateTime()
    reason = fields.String(allow_none=True)


class RoutingExampleViewSchema(_View):
    """What one office routing taught (decision 61): the case's text and the category the office chose."""

    id = fields.String(attribute="case_id", metadata={"description": "the case's id"})
    case_number = fields.String()
    text = fields.String()
    category = fields.String(metadata={"description": "the office's category: the label"})
    machine = fields.String(allow_none=True, metadata={"description": "what the classifier had said (null: triage)"})
    candidates = fields.List(fields.String())
    classified_by = fields.String()
    by = fields.String()
    at = AwareDateTime()
    active = Boolean(metadata={"description": "false: undone, the model does not learn from it"})
    undone = fields.Nested(UndoneSchema, allow_none=True)


class LearnedFeatureSchema(_View):
    feature = fields.String()
    examples = Integer()


class LearnedCategorySchema(_View):
    category = fields.String()
    examples = Integer()
    features = fields.List(fields.Nested(LearnedFeatureSchema),
                           metadata={"description": "character pairs or words found mostly in this category's examples"})


class RoutingExamplesViewSchema(_View):
    items = fields.List(fields.Nested(RoutingExampleViewSchema))
    examples = Integer(metadata={"description": "active examples the township's model learned from"})
    learned = fields.List(fields.Nested(LearnedCategorySchema))


class DuplicateViewSchema(_View):
    id = fields.String(attribute="_id")
    case_number = fields.String()
    status = fields.String()
    title = fields.String()
    received_at = AwareDateTime()


class DispatchCaseViewSchema(_View):
    id = fields.String(attribute="_id")
    case_number = fields.String()
    township_id = fields.String()
    status = fields.String(validate=validate.OneOf(DISPATCH_CASE_STATUSES))
    category = fields.String(allow_none=True)
    classified_by = fields.String(allow_none=True)
    village = fields.String()
    urgency = fields.String()
    title = fields.String()
    description = fields.String()
    reporter = fields.Dict(metadata={"description": "phone masked outside the office"})
    location = fields.Dict(allow_none=True)
    received_at = AwareDateTime()
    duplicate_of = fields.String(allow_none=True)
    returns = Integer()
    triage = fields.Nested(TriageViewSchema)
    classification = fields.Nested(ClassificationViewSchema)
    choice = fields.Nested(ChoiceViewSchema)
    tasks = fields.List(fields.Nested(TaskViewSchema))
    history = fields.List(fields.Nested(HistoryEntrySchema))
    whistle = fields.Nested(WhistleViewSchema)
    escalations = fields.List(fields.Nested(EscalationSchema))
    closed = fields.Nested(ClosedSchema)
    next_alarm_at = AwareDateTime(allow_none=True)
    duplicates = fields.List(fields.Nested(DuplicateViewSchema),
                             metadata={"description": "the office's view: cases linked to this one as duplicates"})


class BoardItemSchema(_View):
    id = fields.String()
    case_number = fields.String()
    status = fields.String()
    attention = fields.String(allow_none=True, metadata={"description": "escalated, overdue or null"})
    village = fields.String()
    category = fields.String(allow_none=True)
    urgency = fields.String()
    title = fields.String()
    received_at = AwareDateTime()
    duplicate_of = fields.String(allow_none=True)
    lead = fields.String(allow_none=True, metadata={"description": "<kind>:<id> of the open lead task"})
    open_tasks = Integer()
    deadline = AwareDateTime(allow_none=True, metadata={"description": "the nearest deadline of its open tasks"})
    deadline_kind = fields.String(allow_none=True)


class CaseBoardSchema(_View):
    status = fields.String()
    items = fields.List(fields.Nested(BoardItemSchema))
    next_cursor = fields.String(allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=Integer(), metadata={"description": "cases per stage"})


# ---- the public timeline of a case ---------------------------------------------------------------------------
TIMELINE_STEPS = ("received", "duplicate", "triage", "assigned", "signed", "returned", "extension_requested",
                  "extension_decided", "completed", "callback", "reopened", "escalated", "closed")


class HolderSchema(StrictSchema):
    """Who has (had) the case: a unit or social organisation by its public names; a Party member or volunteer by
    role only (``names`` null)."""

    kind = fields.String(required=True, validate=validate.OneOf(ACTOR_KINDS))
    names = fields.Nested(NamesSchema, required=True, allow_none=True)


class TimelineEntrySchema(StrictSchema):
    at = AwareDateTime(required=True)
    step = fields.String(required=True, validate=validate.OneOf(TIMELINE_STEPS))
    holder = fields.Nested(HolderSchema, required=True, allow_none=True,
                           metadata={"description": "null: the coordination office"})
    text = fields.String(required=True, allow_none=True,
                         metadata={"description": "the unit's reply (completed), the reason (closed)"})


class TimelineSchema(StrictSchema):
    """A case as a resident follows it (12345, FixMyStreet): no staff names, no phones, no internal notes."""

    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    outcome = fields.String(required=True, allow_none=True, validate=validate.OneOf(CLOSE_OUTCOMES))
    since = AwareDateTime(required=True, metadata={"description": "when the case took its status"})
    holder = fields.Nested(HolderSchema, required=True, allow_none=True,
                           metadata={"description": "who has the case now; null: the office, or closed"})
    closed_at = AwareDateTime(required=True, allow_none=True)
    entries = fields.List(fields.Nested(TimelineEntrySchema), required=True)


@register("whistle_reported", 1, "dispatch")
class WhistleReportedV1(StrictSchema):
    """A summoned unit reported to the whistle (报到), on time or late."""

    case_id = fields.String(required=True)
    unit = fields.Nested(ActorRefSchema, required=True)
    on_time = Boolean(required=True)


@register("actor_registered", 1, "dispatch")
class ActorRegisteredV1(StrictSchema):
    """The office registered an actor. No personal data: who it is is in dispatch's registry, for the office."""

    kind = fields.String(required=True, validate=validate.OneOf(ACTOR_KINDS))
    id = fields.String(required=True)
    active = Boolean(required=True)


@register("actor_updated", 1, "dispatch")
class ActorUpdatedV1(StrictSchema):
    """The office changed an actor: the names of the fields it changed (not their values), and whether the actor
    is active now (an inactive actor gets no tasks; its tokens are revoked)."""

    kind = fields.String(required=True, validate=validate.OneOf(ACTOR_KINDS))
    id = fields.String(required=True)
    fields_changed = fields.List(fields.String(), required=True)
    active = Boolean(required=True)
