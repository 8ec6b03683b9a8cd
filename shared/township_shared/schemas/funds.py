"""Schemas of the funds service: budget pools, service projects, allocations, milestone payments, the ledger,
village collective dividends, budget execution reports, and its event payloads.

Money is integer fen (分) everywhere, in every command, answer, document and event: ``Integer(strict=True)``, so
``1.5`` or ``"100"`` is refused, never rounded (decision 65)."""
from marshmallow import ValidationError, fields, validate, validates_schema

from ..events import register
from ..errors import RuleMessage
from .bounds import Boolean, AwareDateTime, Date, Integer
from .common import CODE, StrictSchema

# where a pool's money comes from: fiscal special fund, government purchase of services (项目购买), awards in place
# of subsidies (以奖代补), public-welfare venture capital (公益创投), village collective income, donations
SOURCES = ("fiscal_special", "service_purchase", "award_subsidy", "venture_philanthropy", "village_collective",
           "donation")
PROJECT_STATUSES = ("proposed", "referred", "approved", "rejected", "completed", "closed")
REVIEW_DECISIONS = ("approve", "reject", "refer")
BUDGET_CHANGES = ("raise", "cut")
HOLDER_KINDS = ("collective", "household")
REPORT_DIMENSIONS = ("pool", "source", "village")
ENTRY_KINDS = ("budget_raised", "budget_cut", "allocated", "paid", "released", "dividend", "reversal")
PROPOSER_KINDS = ("social_org", "unit")
MAX_FEN = 10**15  # ten thousand billion yuan: any figure beyond is a typing error, and sums stay exact in floats


def Fen(minimum=0, **kwargs):
    """An amount of money: integer fen, strictly an integer, ``minimum`` to :data:`MAX_FEN`."""
    return Integer(strict=True, validate=validate.Range(min=minimum, max=MAX_FEN), **kwargs)


def SignedFen(**kwargs):
    return Integer(strict=True, validate=validate.Range(min=-MAX_FEN, max=MAX_FEN), **kwargs)


class ProposerSchema(StrictSchema):
    """Who proposed a project: a social organisation, or a village committee (a unit ``vc_<village>``)."""

    kind = fields.String(required=True, validate=validate.OneOf(PROPOSER_KINDS))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))


# ---- pools ------------------------------------------------------------------------------------------------------
class PoolCreateSchema(StrictSchema):
    """The office opens a budget pool of a year and source, owned by the township or one village."""

    code = fields.String(required=True, validate=CODE, metadata={"description": "the pool's id in the township"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    year = Integer(strict=True, required=True, validate=validate.Range(min=2000, max=2099))
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    owner_village = fields.String(validate=CODE, allow_none=True, load_default=None,
                                  metadata={"description": "a village's own pool; absent: the township's"})
    budget_fen = Fen(required=True)
    reason = fields.String(validate=validate.Length(min=1, max=500), load_default="initial budget")


class BudgetChangeSchema(StrictSchema):
    """Raise or cut a pool's budget, with the reason; a cut below what is committed is refused."""

    change = fields.String(required=True, validate=validate.OneOf(BUDGET_CHANGES))
    amount_fen = Fen(minimum=1, required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class PoolQuerySchema(StrictSchema):
    year = Integer(query=True, validate=validate.Range(min=2000, max=2099))
    source = fields.String(validate=validate.OneOf(SOURCES))


class BudgetChangeViewSchema(StrictSchema):
    id = fields.String()
    change = fields.String()
    amount_fen = SignedFen()
    reason = fields.String()
    by = fields.String()
    at = AwareDateTime()


class PoolViewSchema(StrictSchema):
    code = fields.String()
    name = fields.String()
    year = Integer()
    source = fields.String()
    owner_village = fields.String(allow_none=True)
    budget_fen = Fen()
    available_fen = Fen(metadata={"description": "budget less what is committed (allocated, paid, distributed)"})
    committed_fen = Fen()
    held_fen = Fen(metadata={"description": "reserved by allocations under way (a moment)"})
    changes = fields.List(fields.Nested(BudgetChangeViewSchema))
    created_at = AwareDateTime()


# ---- projects ---------------------------------------------------------------------------------------------------
class MilestoneSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    share_percent = Integer(strict=True, required=True, validate=validate.Range(min=1, max=100),
                            metadata={"description": "share of the allocated amount paid when it is verified"})
    due = Date(required=True)


class ProjectProposalSchema(StrictSchema):
    """A social organisation or a village committee proposes a community service project. ``advance_percent``
    (default ``FUNDS_ADVANCE_PERCENT``) is paid on allocation, each milestone's share when feedback verifies its
    report, and the rest on verified completion; advance and shares add up to at most 100."""

    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    village = fields.String(required=True, validate=CODE)
    category = fields.String(required=True, validate=CODE)
    description = fields.String(validate=validate.Length(max=4000), load_default="")
    beneficiaries = Integer(strict=True, validate=validate.Range(min=0, max=10**7), load_default=0,
                            metadata={"description": "how many residents the project serves"})
    requested_fen = Fen(minimum=1, required=True)
    advance_percent = Integer(strict=True, validate=validate.Range(min=0, max=100), allow_none=True,
                              load_default=None)
    milestones = fields.List(fields.Nested(MilestoneSchema), validate=validate.Length(max=20), load_default=list)
    linked_cases = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                               validate=validate.Length(max=20), load_default=list)

    @validates_schema
    def _milestones(self, data, **kwargs):
        names = [m["name"] for m in data.get("milestones") or []]
        if len(set(names)) != len(names):
            raise ValidationError(RuleMessage("milestone names must differ"), "milestones")
        if sum(m["share_percent"] for m in data.get("milestones") or []) + (data.get("advance_percent") or 0) > 100:
            raise ValidationError(RuleMessage("the advance and the milestones' shares add up to more than 100"), "milestones")


class ReviewSchema(StrictSchema):
    """The office approves (up to ``FUNDS_MEETING_THRESHOLD_FEN``), rejects, or refers to the joint meeting."""

    decision = fields.String(required=True, validate=validate.OneOf(REVIEW_DECISIONS))
    reason = fields.String(validate=validate.Length(min=1, max=1000), load_default=None)

    @validates_schema
    def _reason(self, data, **kwargs):
        if data.get("decision") in ("reject", "refer") and not data.get("reason"):
            raise ValidationError(RuleMessage("give the reason"), "reason")


class AllocationPartSchema(StrictSchema):
    pool = fields.String(required=True, validate=CODE)
    amount_fen = Fen(minimum=1, required=True)


class AllocationSchema(StrictSchema):
    """Reserve money for an approved project from one or several pools: all parts or none."""

    parts = fields.List(fields.Nested(AllocationPartSchema), required=True, validate=validate.Length(min=1, max=10))

    @validates_schema
    def _distinct(self, data, **kwargs):
        pools = [p["pool"] for p in data.get("parts") or []]
        if len(set(pools)) != len(pools):
            raise ValidationError(RuleMessage("name each pool once"), "parts")


class CloseProjectSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ProjectQuerySchema(StrictSchema):
    status = fields.String(validate=validate.OneOf(PROJECT_STATUSES))
    village = fields.String(validate=CODE)
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))


class FenPartSchema(StrictSchema):
    pool = fields.String(required=True)
    amount_fen = Fen(required=True)


class MilestoneViewSchema(StrictSchema):
    name = fields.String()
    share_percent = Integer()
    due = fields.String(metadata={"description": "YYYY-MM-DD"})
    verified = Boolean()
    paid_fen = Fen()


class FundingViewSchema(StrictSchema):
    pool = fields.String()
    allocated_fen = Fen()
    paid_fen = Fen()
    released_fen = Fen()


class PaymentViewSchema(StrictSchema):
    id = fields.String()
    key = fields.String(metadata={"description": "advance, milestone:<name> or completion"})
    amount_fen = Fen()
    parts = fields.List(fields.Nested(FenPartSchema))
    at = AwareDateTime()
    report_id = fields.String(allow_none=True)
    reversed = Boolean()


class ReviewViewSchema(StrictSchema):
    decision = fields.String()
    reason = fields.String(allow_none=True)
    by = fields.String()
    at = AwareDateTime()


class ProjectPublicViewSchema(StrictSchema):
    """What the public and supervision groups see: a village's project, its progress and the money paid; no
    personal data (no staff, no linked cases)."""

    id = fields.String(attribute="_id")
    title = fields.String()
    village = fields.String()
    category = fields.String()
    description = fields.String()
    beneficiaries = Integer()
    proposer = fields.Nested(ProposerSchema)
    status = fields.String()
    requested_fen = Fen()
    approved_fen = Fen(allow_none=True)
    allocated_fen = Fen()
    paid_fen = Fen()
    advance_percent = Integer()
    milestones = fields.List(fields.Nested(MilestoneViewSchema))
    proposed_at = AwareDateTime()
    completed = Boolean()


class ProjectViewSchema(ProjectPublicViewSchema):
    """The office's, the meeting's and the proposer's view."""

    linked_cases = fields.List(fields.String())
    review = fields.Nested(ReviewViewSchema, allow_none=True)
    funding = fields.List(fields.Nested(FundingViewSchema))
    payments = fields.List(fields.Nested(PaymentViewSchema))
    released_fen = Fen()
    threshold_fen = Fen(allow_none=True, metadata={"description": "above it, the joint meeting decides"})


class ProjectFactsSchema(StrictSchema):
    """What a service checking a reference to a project learns of it (feedback, before it accepts a report:
    decision 66)."""

    project_id = fields.String(attribute="_id")
    status = fields.String()
    proposer = fields.Nested(ProposerSchema)
    village = fields.String()
    milestones = fields.Method("_milestone_names")

    def _milestone_names(self, project):
        return [m["name"] for m in project["milestones"]]


class AllocationResultSchema(StrictSchema):
    allocation_id = fields.String()
    parts = fields.List(fields.Nested(FenPartSchema))
    amount_fen = Fen()
    replayed = Boolean()
    project = fields.Nested(ProjectViewSchema)


# ---- ledger, reports, dividends ---------------------------------------------------------------------------------
class ReversalSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class LedgerQuerySchema(StrictSchema):
    pool = fields.String(validate=CODE)
    project = fields.String(validate=validate.Length(min=1, max=64))
    limit = Integer(query=True, load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"description": "next_cursor of the previous page"})


class LedgerEntryViewSchema(StrictSchema):
    id = fields.String(attribute="_id")
    movement = fields.String(attribute="op", metadata={"description": "the entries of one movement share it"})
    at = AwareDateTime()
    kind = fields.String()
    amount_fen = Fen()
    debit = fields.String()
    credit = fields.String()
    pool = fields.String()
    year = Integer()
    source = fields.String()
    project = fields.String(allow_none=True)
    project_village = fields.String(allow_none=True)
    key = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    actor = fields.String()
    reverses = fields.String(allow_none=True)


class LedgerPageSchema(StrictSchema):
    items = fields.List(fields.Nested(LedgerEntryViewSchema))
    next_cursor = fields.String(allow_none=True)


class ReportQuerySchema(StrictSchema):
    by = fields.String(load_default="pool", validate=validate.OneOf(REPORT_DIMENSIONS))
    year = Integer(query=True, validate=validate.Range(min=2000, max=2099))


class ReportRowSchema(StrictSchema):
    """Budget execution: every figure is recomputed from the ledger entries (``GET /api/v1/ledger``)."""

    key = fields.String(metadata={"description": "the pool's code, the source or the village"})
    year = Integer(allow_none=True)
    budget_fen = Fen()
    committed_fen = Fen()
    paid_fen = Fen()
    available_fen = Fen()
    allocated_fen = Fen(metadata={"description": "to projects, net of releases"})
    released_fen = Fen()
    dividends_fen = Fen()


class ReportSchema(StrictSchema):
    by = fields.String()
    year = Integer(allow_none=True)
    items = fields.List(fields.Nested(ReportRowSchema))


class ShareholderSchema(StrictSchema):
    holder = fields.String(required=True, validate=CODE, metadata={"description": "a household's or the "
                                                                   "collective's code; never a name"})
    kind = fields.String(required=True, validate=validate.OneOf(HOLDER_KINDS))
    shares = Integer(strict=True, required=True, validate=validate.Range(min=1, max=10**9))


class DividendSchema(StrictSchema):
    """A village's distributable collective income shared among the collective and households by their shares
    ("three changes" reform), drawn from the village's own ``village_collective`` pool."""

    pool = fields.String(required=True, validate=CODE)
    income_fen = Fen(minimum=1, required=True)
    holders = fields.List(fields.Nested(ShareholderSchema), required=True, validate=validate.Length(min=1, max=5000))
    reason = fields.String(validate=validate.Length(min=1, max=500), load_default="annual dividend")

    @validates_schema
    def _distinct(self, data, **kwargs):
        holders = [h["holder"] for h in data.get("holders") or []]
        if len(set(holders)) != len(holders):
            raise ValidationError(RuleMessage("name each holder once"), "holders")


class DistributionQuerySchema(StrictSchema):
    village = fields.String(validate=CODE)
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=200))


class DividendPartSchema(StrictSchema):
    holder = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(HOLDER_KINDS))
    shares = Integer(required=True)
    amount_fen = Fen(required=True)


class DistributionViewSchema(StrictSchema):
    id = fields.String(attribute="_id")
    pool = fields.String()
    village = fields.String()
    year = Integer()
    income_fen = Fen()
    parts = fields.List(fields.Nested(DividendPartSchema))
    reason = fields.String()
    at = AwareDateTime()
    by = fields.String()


# ---- event payloads ---------------------------------------------------------------------------------------------
class _ProjectFact(StrictSchema):
    project_id = fields.String(required=True)
    village = fields.String(required=True)
    proposer = fields.Nested(ProposerSchema, required=True)


@register("project_proposed", 1, "funds")
class ProjectProposedV1(_ProjectFact):
    title = fields.String(required=True)
    category = fields.String(required=True)
    requested_fen = Fen(required=True)
    beneficiaries = Integer(required=True)
    milestones = fields.List(fields.Nested(MilestoneSchema), required=True)
    linked_cases = fields.List(fields.String(), required=True)


@register("project_approved", 1, "funds")
class ProjectApprovedV1(_ProjectFact):
    """The office (up to the threshold) or the joint meeting approved a project; feedback accepts its reports
    from now on."""

    title = fields.String(required=True)
    approved_fen = Fen(required=True)
    advance_percent = Integer(required=True)
    milestones = fields.List(fields.Nested(MilestoneSchema), required=True)
    decided_by = fields.String(required=True, metadata={"description": "the office's actor, or meeting:<id>"})
    reason = fields.String(required=True, allow_none=True)


@register("project_rejected", 1, "funds")
class ProjectRejectedV1(_ProjectFact):
    reason = fields.String(required=True)
    decided_by = fields.String(required=True)


@register("project_referred", 1, "funds")
class ProjectReferredV1(_ProjectFact):
    """Above the threshold (三重一大) the joint meeting decides: the meetings service puts it on an agenda."""

    title = fields.String(required=True)
    requested_fen = Fen(required=True)
    threshold_fen = Fen(required=True)
    reason = fields.String(required=True)


@register("funds_allocated", 1, "funds")
class FundsAllocatedV1(_ProjectFact):
    allocation_id = fields.String(required=True)
    parts = fields.List(fields.Nested(FenPartSchema), required=True)
    amount_fen = Fen(required=True)
    allocated_total_fen = Fen(required=True)


@register("allocation_refused", 1, "funds")
class AllocationRefusedV1(_ProjectFact):
    """The joint meeting approved a project with money from pools that could not give it (not enough left, an
    unknown pool): nothing was allocated; the meeting sees why (decision 78)."""

    decided_by = fields.String(required=True, metadata={"description": "meeting:<id>"})
    decision_id = fields.String(required=True, allow_none=True)
    parts = fields.List(fields.Nested(FenPartSchema), required=True)
    reason = fields.String(required=True)


@register("payment_released", 1, "funds")
class PaymentReleasedV1(_ProjectFact):
    """Money paid to the project against its advance, a verified milestone or its verified completion."""

    payment_id = fields.String(required=True)
    key = fields.String(required=True)
    milestone = fields.String(required=True, allow_none=True)
    report_id = fields.String(required=True, allow_none=True)
    parts = fields.List(fields.Nested(FenPartSchema), required=True)
    amount_fen = Fen(required=True)
    paid_total_fen = Fen(required=True)
    allocated_total_fen = Fen(required=True)


@register("allocation_released", 1, "funds")
class AllocationReleasedV1(_ProjectFact):
    """What was allocated and not paid went back to its pools: the project closed, or an allocation was
    reversed."""

    parts = fields.List(fields.Nested(FenPartSchema), required=True)
    amount_fen = Fen(required=True)
    reason = fields.String(required=True)


@register("budget_changed", 1, "funds")
class BudgetChangedV1(StrictSchema):
    pool = fields.String(required=True)
    year = Integer(required=True)
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    owner_village = fields.String(required=True, allow_none=True)
    change = fields.String(required=True, validate=validate.OneOf(("initial",) + BUDGET_CHANGES + ("reversal",)))
    amount_fen = SignedFen(required=True, metadata={"description": "the change: negative for a cut"})
    budget_fen = Fen(required=True)
    reason = fields.String(required=True)


@register("dividends_distributed", 1, "funds")
class DividendsDistributedV1(StrictSchema):
    distribution_id = fields.String(required=True)
    pool = fields.String(required=True)
    village = fields.String(required=True)
    year = Integer(required=True)
    income_fen = Fen(required=True)
    parts = fields.List(fields.Nested(DividendPartSchema), required=True)


@register("ledger_entry_reversed", 1, "funds")
class LedgerEntryReversedV1(StrictSchema):
    """A movement was undone by reversing entries (a mistake corrected; the originals stay)."""

    movement = fields.String(required=True)
    reversal = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ENTRY_KINDS),
                         metadata={"description": "the kind of the reversed movement"})
    parts = fields.List(fields.Nested(FenPartSchema), required=True)
    amount_fen = Fen(required=True)
    project_id = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True)
