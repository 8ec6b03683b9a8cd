"""Funds rules as plain functions over documents: no nameko, no pymongo (decision 65).

- **Projects** are proposed by a social organisation or a village committee (a unit ``vc_<village>``, for its own
  village). The office approves one up to the threshold (``FUNDS_MEETING_THRESHOLD_FEN``), rejects it with a
  reason, or refers it to the joint meeting, which must decide any project above the threshold (三重一大); the
  meeting's ``meeting_decision_made`` approves (with the amount it approves), rejects or defers it.
- **Allocations** reserve money for an approved project from one or several pools, never beyond the approved
  amount; a pool's side (its availability) is the repository's atomic conditional update, this module records the
  allocation on the project once every pool has held its part.
- **Payments** are a function of the project's state (:func:`due_payments`): the advance once money is allocated,
  each verified milestone's share, and on verified completion all that is left. Each is split over the pools in
  proportion to what is left of each (:func:`split`), so no pool's part is ever paid beyond its allocation.
- **Closing** a project releases what was allocated and not paid back to its pools.
- **Dividends** of a village collective are split by shares with the largest-remainder rule (:func:`split`).

Every movement of money returns the ledger entries (:mod:`funds.ledger`) written with it, in the same update of
the same document.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from township_shared.errors import Conflict, Forbidden, Unprocessable, ValidationFailed
from township_shared.schemas import funds as fs

from . import ledger

Facts = list[tuple[type, dict[str, Any]]]
Entries = list[dict[str, Any]]
OPEN = ("proposed", "referred", "approved")
VILLAGE_COMMITTEE_PREFIX = "vc_"


@dataclass(frozen=True)
class Act:
    """Who acts and when, for the entries and records a change writes."""

    actor: str
    at: datetime


# ---- largest remainder -----------------------------------------------------------------------------------------
def split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` fen in integer parts proportional to ``weights`` (Hamilton's largest-remainder rule): each part
    gets the floor of its exact quota ``total * w / sum(weights)``, then the fen left over go one each to the parts
    with the largest remainders, ties to the earlier part. The parts always sum to ``total``, each is within one
    fen of its quota and never above ``ceil(quota)``; integer arithmetic only."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("split takes a non-negative total and weights")
    whole = sum(weights)
    if total == 0:
        return [0] * len(weights)
    if whole <= 0:
        raise ValueError("nothing to split by: the weights are all zero")
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(parts)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        parts[i] += 1
    return parts


def distribute_dividends(income_fen: int, holders: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The collective's and each household's part of ``income_fen`` by their shares (:func:`split`)."""
    amounts = split(income_fen, [h["shares"] for h in holders])
    return [{"holder": h["holder"], "kind": h["kind"], "shares": h["shares"], "amount_fen": a}
            for h, a in zip(holders, amounts)]


# ---- who may propose --------------------------------------------------------------------------------------------
def proposer_of(role: str, actor: str, village: str) -> dict[str, str]:
    """The proposer record of a principal: a social organisation for any village, a village committee
    (``unit:vc_<village>``) for its own village only; anyone else is refused."""
    kind, _, ident = actor.partition(":")
    if role == "social_org" and kind == "social_org" and ident:
        return {"kind": "social_org", "id": ident}
    if role == "unit" and kind == "unit" and ident.startswith(VILLAGE_COMMITTEE_PREFIX):
        if ident[len(VILLAGE_COMMITTEE_PREFIX):] != village:
            raise Forbidden("a village committee proposes projects for its own village", village=village)
        return {"kind": "unit", "id": ident}
    raise Forbidden("only social organisations and village committees propose projects", role=role)


# ---- projects ---------------------------------------------------------------------------------------------------
def _milestones_out(project: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"name": m["name"], "share_percent": m["share_percent"], "due": date.fromisoformat(m["due"])}
            for m in project["milestones"]]


def _fact(project: Mapping[str, Any]) -> dict[str, Any]:
    return {"project_id": project["_id"], "village": project["village"], "proposer": dict(project["proposer"])}


def new_project(project_id: str, township_id: str, proposal: Mapping[str, Any], proposer: Mapping[str, str],
                default_advance: int, act: Act) -> tuple[dict[str, Any], Facts]:
    advance = proposal.get("advance_percent")
    advance = default_advance if advance is None else advance
    milestones = [{"name": m["name"], "share_percent": m["share_percent"], "due": m["due"].isoformat(),
                   "verified": False, "report_id": None} for m in proposal["milestones"]]
    if advance + sum(m["share_percent"] for m in milestones) > 100:
        raise Unprocessable({"advance_percent": [f"the advance ({advance}%) and the milestones' shares add up "
                                                    "to more than 100"]})
    project = {"_id": project_id, "township_id": township_id, "title": proposal["title"],
               "village": proposal["village"], "category": proposal["category"],
               "description": proposal.get("description", ""), "beneficiaries": proposal.get("beneficiaries", 0),
               "proposer": dict(proposer), "proposer_key": f"{proposer['kind']}:{proposer['id']}",
               "requested_fen": proposal["requested_fen"], "advance_percent": advance, "milestones": milestones,
               "linked_cases": list(proposal.get("linked_cases") or []), "status": "proposed",
               "proposed_at": act.at, "proposed_by": act.actor, "review": None, "approved_fen": None,
               "threshold_fen": None, "funding": [], "allocations": [], "payments": [], "released_fen": 0,
               "completed": None, "credits_due": [], "seen": [], "reversed": []}
    return project, [(fs.ProjectProposedV1, {
        **_fact(project), "title": project["title"], "category": project["category"],
        "requested_fen": project["requested_fen"], "beneficiaries": project["beneficiaries"],
        "milestones": _milestones_out(project), "linked_cases": project["linked_cases"]})]


def _approved(project: dict[str, Any], amount: int, by: str, reason: str | None) -> Facts:
    project.update(status="approved", approved_fen=amount)
    return [(fs.ProjectApprovedV1, {**_fact(project), "title": project["title"], "approved_fen": amount,
                                    "advance_percent": project["advance_percent"],
                                    "milestones": _milestones_out(project), "decided_by": by, "reason": reason})]


def allocation_refused(project: dict[str, Any], decision: Mapping[str, Any], parts: list[Mapping[str, Any]],
                       reason: str, event_id: str) -> Facts:
    """The meeting's approval named pools that could not give their parts: announced once, nothing allocated."""
    if seen(project, f"refused:{event_id}"):
        return []
    decision_id = decision.get("decision_id") or f"{decision['meeting_id']}.{decision['item_id']}"
    project.setdefault("refusals", []).append({"decision_id": decision_id, "reason": reason,
                                               "parts": [dict(p) for p in parts]})
    return [(fs.AllocationRefusedV1, {**_fact(project), "decided_by": f"meeting:{decision['meeting_id']}",
                                      "decision_id": decision_id, "parts": [dict(p) for p in parts],
                                      "reason": reason})]


def _rejected(project: dict[str, Any], by: str, reason: str) -> Facts:
    project["status"] = "rejected"
    return [(fs.ProjectRejectedV1, {**_fact(project), "reason": reason, "decided_by": by})]


def review(project: dict[str, Any], decision: str, reason: str | None, threshold_fen: int, act: Act) -> Facts:
    """The office's decision on a proposed project. Above the threshold only the meeting approves."""
    if project["status"] != "proposed":
        raise Conflict(f"the project is {project['status']}", status=project["status"], allowed=[])
    if decision == "approve" and project["requested_fen"] > threshold_fen:
        raise Conflict(f"above {threshold_fen} fen the joint meeting decides: refer the project",
                       threshold_fen=threshold_fen, allowed=["refer", "reject"])
    project["review"] = {"decision": decision, "reason": reason, "by": act.actor, "at": act.at}
    if decision == "approve":
        return _approved(project, project["requested_fen"], act.actor, reason)
    if decision == "reject":
        return _rejected(project, act.actor, reason)
    project.update(status="referred", threshold_fen=threshold_fen)
    return [(fs.ProjectReferredV1, {**_fact(project), "title": project["title"],
                                    "requested_fen": project["requested_fen"], "threshold_fen": threshold_fen,
                                    "reason": reason})]


def meeting_decision(project: dict[str, Any], decision: Mapping[str, Any], act: Act) -> Facts:
    """The joint meeting decided a referred project: approve (the amount it approved), reject, or defer (it stays
    referred). A decision on a project that waits for none changes nothing."""
    if project["status"] != "referred":
        return []
    by = f"meeting:{decision['meeting_id']}"
    project.setdefault("meeting_decisions", []).append(
        {"meeting_id": decision["meeting_id"], "item_id": decision["item_id"], "decision": decision["decision"],
         "reason": decision["reason"], "at": decision["decided_at"]})
    if decision["decision"] == "approve":
        project["review"] = {"decision": "approve", "reason": decision["reason"], "by": by, "at": act.at}
        return _approved(project, decision["funding"]["approved_fen"], by, decision["reason"])
    if decision["decision"] in ("reject", "close"):
        project["review"] = {"decision": "reject", "reason": decision["reason"], "by": by, "at": act.at}
        return _rejected(project, by, decision["reason"])
    return []


# ---- money of a project -----------------------------------------------------------------------------------------
def allocated_total(project: Mapping[str, Any]) -> int:
    return sum(f["allocated_fen"] for f in project["funding"])


def paid_total(project: Mapping[str, Any]) -> int:
    return sum(f["paid_fen"] for f in project["funding"])


def remaining(part: Mapping[str, Any]) -> int:
    return part["allocated_fen"] - part["paid_fen"]


def _meta(part: Mapping[str, Any]) -> dict[str, Any]:
    """The pool metadata an entry needs, of a project's funding part."""
    return {"code": part["pool"], "year": part["year"], "source": part["source"],
            "owner_village": part.get("owner_village")}


def _funding(project: dict[str, Any], pool: Mapping[str, Any]) -> dict[str, Any]:
    for part in project["funding"]:
        if part["pool"] == pool["code"]:
            return part
    part = {"pool": pool["code"], "year": pool["year"], "source": pool["source"],
            "owner_village": pool.get("owner_village"), "allocated_fen": 0, "paid_fen": 0, "released_fen": 0}
    project["funding"].append(part)
    return part


def find_allocation(project: Mapping[str, Any], op: str) -> dict[str, Any] | None:
    return next((a for a in project["allocations"] if a["id"] == op), None)


def check_pools(project: Mapping[str, Any], pools: Mapping[str, Mapping[str, Any]]) -> None:
    """A village's own pool funds only that village's projects."""
    for code, pool in pools.items():
        owner = pool.get("owner_village")
        if owner and owner != project["village"]:
            raise Unprocessable({"parts": [f"pool {code!r} belongs to village {owner!r}; the project is in "
                                              f"{project['village']!r}"]})


def begin_allocation(project: dict[str, Any], op: str, attempt: str, key: str,
                     parts: Sequence[Mapping[str, Any]], act: Act) -> None:
    """Mark an allocation under way (one at a time per project), after checking it may be made. ``attempt`` names
    this try's holds on the pools: a retry of the same allocation is another attempt, so the holds of an abandoned
    one are never mistaken for a live one's."""
    if project["status"] != "approved":
        raise Conflict(f"the project is {project['status']}: only an approved project gets money",
                       status=project["status"], allowed=[])
    if project.get("inflight"):
        raise Conflict("another allocation of this project is under way; retry", allowed=[])
    wanted = sum(p["amount_fen"] for p in parts)
    allocatable = project["approved_fen"] - allocated_total(project)
    if wanted > allocatable:
        raise Conflict(f"{wanted} fen exceeds what the approval leaves: {allocatable} fen",
                       allocatable_fen=allocatable, allowed=[])
    project["inflight"] = {"id": op, "hold": attempt, "key": key, "parts": [dict(p) for p in parts], "at": act.at,
                           "by": act.actor}
    project["attention_since"] = act.at


def end_inflight(project: dict[str, Any], attempt: str) -> bool:
    """Forget the allocation attempt under way (refused, abandoned or recorded); False if it is not that one."""
    if (project.get("inflight") or {}).get("hold") != attempt:
        return False
    project.pop("inflight", None)
    if not project["credits_due"]:
        project.pop("attention_since", None)
    return True


def hold_state(project: Mapping[str, Any] | None, attempt: str) -> str:
    """What became of an allocation attempt's holds: ``recorded`` (they stand), ``live`` (under way) or
    ``abandoned`` (give them back). Final once not ``live``: a new try is a new attempt."""
    if project is None:
        return "abandoned"
    if any(a.get("hold") == attempt for a in project["allocations"]):
        return "recorded"
    if (project.get("inflight") or {}).get("hold") == attempt:
        return "live"
    return "abandoned"


def commit_allocation(project: dict[str, Any], op: str, attempt: str, pools: Mapping[str, Mapping[str, Any]],
                      act: Act) -> tuple[Facts, Entries]:
    """Every pool holds its part: record the allocation (its entries) and pay what became due (the advance)."""
    inflight = project.get("inflight") or {}
    if inflight.get("hold") != attempt:
        raise Conflict("the allocation was abandoned (it took too long); retry", allowed=[])
    parts = inflight["parts"]
    entries = []
    for n, part in enumerate(parts):
        pool = pools[part["pool"]]
        _funding(project, pool)["allocated_fen"] += part["amount_fen"]
        entries.append(ledger.entry(op, n, "allocated", part["amount_fen"], township_id=project["township_id"],
                                    pool=pool, actor=act.actor, at=act.at, project=project["_id"],
                                    project_village=project["village"], reason="allocation"))
    project["allocations"].append({"id": op, "hold": attempt, "key": inflight["key"], "parts": parts,
                                   "at": act.at, "by": act.actor})
    end_inflight(project, attempt)
    amount = sum(p["amount_fen"] for p in parts)
    facts: Facts = [(fs.FundsAllocatedV1, {**_fact(project), "allocation_id": op, "parts": parts,
                                           "amount_fen": amount, "allocated_total_fen": allocated_total(project)})]
    more_facts, more_entries = pay_due(project, act)
    return facts + more_facts, entries + more_entries


def due_payments(project: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What is due and not paid: ``[{key, milestone, report_id, amount_fen}]``. The advance is
    ``advance_percent`` of the allocated amount, a verified milestone its share of it, and a verified completion
    all that is left; never more than what is allocated and unpaid."""
    allocated = allocated_total(project)
    left = allocated - paid_total(project)
    if allocated <= 0 or left <= 0:
        return []
    paid = {p["key"] for p in project["payments"] if not p["reversed"]}
    due = []

    def add(key, amount, milestone=None, report_id=None):
        nonlocal left
        amount = min(amount, left)
        if amount > 0:
            due.append({"key": key, "milestone": milestone, "report_id": report_id, "amount_fen": amount})
            left -= amount

    if project["advance_percent"] and "advance" not in paid and not project.get("advance_reversed"):
        add("advance", allocated * project["advance_percent"] // 100)
    for m in project["milestones"]:
        if m["verified"] and f"milestone:{m['name']}" not in paid:
            add(f"milestone:{m['name']}", allocated * m["share_percent"] // 100, m["name"], m["report_id"])
    if project["completed"] and "completion" not in paid:
        add("completion", left, None, project["completed"]["report_id"])
    return due


def pay_due(project: dict[str, Any], act: Act) -> tuple[Facts, Entries]:
    """Pay everything :func:`due_payments` lists, each split over the pools by what is left of each; a completed
    project with nothing left is ``completed``."""
    facts: Facts = []
    entries: Entries = []
    for due in due_payments(project):
        op = f"{project['_id']}-pay{len(project['payments']) + 1}"
        shares = split(due["amount_fen"], [remaining(f) for f in project["funding"]])
        parts = []
        for part, amount in zip(project["funding"], shares):
            if amount <= 0:
                continue
            part["paid_fen"] += amount
            parts.append({"pool": part["pool"], "amount_fen": amount})
            entries.append(ledger.entry(op, len(parts) - 1, "paid", amount, township_id=project["township_id"],
                                        pool=_meta(part), actor=act.actor, at=act.at, project=project["_id"],
                                        project_village=project["village"], key=due["key"],
                                        reason=f"payment: {due['key']}"))
        project["payments"].append({"id": op, "key": due["key"], "amount_fen": due["amount_fen"], "parts": parts,
                                    "at": act.at, "report_id": due["report_id"], "reversed": False})
        facts.append((fs.PaymentReleasedV1, {
            **_fact(project), "payment_id": op, "key": due["key"].partition(":")[0], "milestone": due["milestone"],
            "report_id": due["report_id"], "parts": parts, "amount_fen": due["amount_fen"],
            "paid_total_fen": paid_total(project), "allocated_total_fen": allocated_total(project)}))
    if project["completed"] and project["status"] == "approved" and allocated_total(project) > 0 \
            and allocated_total(project) == paid_total(project):
        project["status"] = "completed"
    return facts, entries


def seen(project: dict[str, Any], event_id: str) -> bool:
    """Whether the event was acted on already (a redelivery); records it otherwise."""
    if event_id in project["seen"]:
        return True
    project["seen"].append(event_id)
    return False


def verify_milestone(project: dict[str, Any], name: str, report_id: str, act: Act) -> tuple[Facts, Entries]:
    """feedback verified a milestone report: its share is due."""
    milestone = next((m for m in project["milestones"] if m["name"] == name), None)
    if milestone is None:
        raise ValidationFailed({"payload.milestone": [f"project {project['_id']} has no milestone {name!r}"]})
    if not milestone["verified"]:
        milestone.update(verified=True, report_id=report_id, verified_at=act.at)
    return pay_due(project, act)


def complete(project: dict[str, Any], report_id: str, act: Act) -> tuple[Facts, Entries]:
    """feedback verified the completion report: all that is left is due."""
    if project["completed"] is None:
        project["completed"] = {"report_id": report_id, "at": act.at}
    return pay_due(project, act)


def close(project: dict[str, Any], reason: str, act: Act) -> tuple[Facts, Entries]:
    """The office closes a project (withdrawn, stopped, or done): what was allocated and not paid goes back to
    its pools (``credits_due``, applied to the pools by the handler)."""
    if project["status"] not in OPEN + ("completed",):
        raise Conflict(f"the project is {project['status']}", status=project["status"], allowed=[])
    if project.get("inflight"):
        raise Conflict("an allocation of this project is under way; retry", allowed=[])
    project.update(status="closed", closed={"reason": reason, "by": act.actor, "at": act.at})
    return release(project, f"{project['_id']}-close", reason, act)


def release(project: dict[str, Any], op: str, reason: str, act: Act) -> tuple[Facts, Entries]:
    entries: Entries = []
    parts = []
    for part in project["funding"]:
        amount = remaining(part)
        if amount <= 0:
            continue
        part["allocated_fen"] -= amount
        part["released_fen"] += amount
        parts.append({"pool": part["pool"], "amount_fen": amount})
        entries.append(ledger.entry(op, len(parts) - 1, "released", amount, township_id=project["township_id"],
                                    pool=_meta(part), actor=act.actor, at=act.at, project=project["_id"],
                                    project_village=project["village"], reason=reason))
    if not parts:
        return [], []
    _credit(project, op, parts, act)
    project["released_fen"] += sum(p["amount_fen"] for p in parts)
    return [(fs.AllocationReleasedV1, {**_fact(project), "parts": parts,
                                       "amount_fen": sum(p["amount_fen"] for p in parts), "reason": reason})], entries


def _credit(project: dict[str, Any], op: str, parts: Sequence[Mapping[str, Any]], act: Act) -> None:
    for part in parts:
        project["credits_due"].append({"op": f"{op}-{part['pool']}", "pool": part["pool"],
                                       "amount_fen": part["amount_fen"]})
    project.setdefault("attention_since", act.at)


def credit_applied(project: dict[str, Any], op: str) -> bool:
    """A pool took back a credit (once ever: its ``credited`` list): it is no longer due. False if it was not."""
    before = len(project["credits_due"])
    project["credits_due"] = [c for c in project["credits_due"] if c["op"] != op]
    if not project["credits_due"] and not project.get("inflight"):
        project.pop("attention_since", None)
    return len(project["credits_due"]) != before


# ---- reversals --------------------------------------------------------------------------------------------------
def reverse_in_project(project: dict[str, Any], movement: str, originals: Sequence[Mapping[str, Any]],
                       reason: str, act: Act) -> tuple[Facts, Entries]:
    """Undo an allocation (its unpaid parts go back to the pools) or a payment (the milestone waits for a new
    verified report, the advance is not paid again, a completion reopens the project). Reversing twice changes
    nothing."""
    if movement in project["reversed"]:
        return [], []
    kind = originals[0]["kind"]
    op = f"r{movement}"
    by_pool = {f["pool"]: f for f in project["funding"]}
    if kind == "allocated":
        for e in originals:
            if remaining(by_pool[e["pool"]]) < e["amount_fen"]:
                raise Conflict(f"pool {e['pool']}'s part of this allocation was paid already; reverse the payments "
                               "first", allowed=[])
        for e in originals:
            by_pool[e["pool"]]["allocated_fen"] -= e["amount_fen"]
        _credit(project, op, [{"pool": e["pool"], "amount_fen": e["amount_fen"]} for e in originals], act)
        for a in project["allocations"]:
            if a["id"] == movement:
                a["reversed"] = True
    elif kind == "paid":
        payment = next(p for p in project["payments"] if p["id"] == movement)
        for e in originals:
            by_pool[e["pool"]]["paid_fen"] -= e["amount_fen"]
        payment["reversed"] = True
        key = payment["key"]
        if key == "advance":
            project["advance_reversed"] = True
        elif key == "completion":
            project["completed"] = None
            if project["status"] == "completed":
                project["status"] = "approved"
        else:
            for m in project["milestones"]:
                if f"milestone:{m['name']}" == key:
                    m.update(verified=False, report_id=None)
        if project["status"] == "completed":
            project["status"] = "approved"
    else:
        raise Conflict(f"a {kind} movement is not reversed", allowed=[])
    project["reversed"].append(movement)
    entries = [ledger.reversal(e, op, n, actor=act.actor, at=act.at, reason=reason) for n, e in enumerate(originals)]
    facts: Facts = [reversal_fact(movement, op, kind, originals, project["_id"], reason)]
    if project["status"] == "closed":  # a closed project keeps nothing: what the reversal left unpaid goes back
        more_facts, more_entries = release(project, f"{op}-release", f"released after a reversal: {reason}", act)
        facts, entries = facts + more_facts, entries + more_entries
    return facts, entries


def reversal_fact(movement: str, op: str, kind: str, originals: Sequence[Mapping[str, Any]],
                  project_id: str | None, reason: str) -> tuple[type, dict[str, Any]]:
    parts = [{"pool": e["pool"], "amount_fen": e["amount_fen"]} for e in originals]
    return (fs.LedgerEntryReversedV1, {"movement": movement, "reversal": op, "kind": kind, "parts": parts,
                                       "amount_fen": sum(p["amount_fen"] for p in parts), "project_id": project_id,
                                       "reason": reason})


# ---- pools ------------------------------------------------------------------------------------------------------
def pool_meta(pool: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": pool["code"], "year": pool["year"], "source": pool["source"],
            "owner_village": pool.get("owner_village")}


def budget_change(pool: Mapping[str, Any], op: str, change: str, amount: int, reason: str,
                  act: Act) -> tuple[dict[str, Any], Entries, Facts]:
    """The record, entry and event of raising (``initial`` too) or cutting a pool's budget by ``amount``. The
    repository applies it only if the pool has ``amount`` available for a cut (its update's filter)."""
    signed = -amount if change == "cut" else amount
    _refuse_cut(pool, signed)
    record = {"id": op, "change": change, "amount_fen": signed, "reason": reason, "by": act.actor, "at": act.at}
    kind = "budget_cut" if change == "cut" else "budget_raised"
    entries = [ledger.entry(op, 0, kind, amount, township_id=pool["township_id"], pool=pool_meta(pool),
                            actor=act.actor, at=act.at, reason=reason)] if amount else []
    fact = (fs.BudgetChangedV1, {**_pool_fact(pool), "change": change, "amount_fen": signed,
                                 "budget_fen": pool["budget_fen"] + signed, "reason": reason})
    return record, entries, [fact]


def budget_reversal(pool: Mapping[str, Any], movement: str, originals: Sequence[Mapping[str, Any]], reason: str,
                    act: Act) -> tuple[dict[str, Any], Entries, Facts, int]:
    """Undo a budget change: the record, entries, events and the change of the budget (negative: needs that much
    available)."""
    op = f"r{movement}"
    signed = sum(-e["amount_fen"] if e["kind"] == "budget_raised" else e["amount_fen"] for e in originals)
    _refuse_cut(pool, signed)
    record = {"id": op, "change": "reversal", "amount_fen": signed, "reason": reason, "by": act.actor,
              "at": act.at, "reverses": movement}
    entries = [ledger.reversal(e, op, n, actor=act.actor, at=act.at, reason=reason) for n, e in enumerate(originals)]
    facts = [(fs.BudgetChangedV1, {**_pool_fact(pool), "change": "reversal", "amount_fen": signed,
                                   "budget_fen": pool["budget_fen"] + signed, "reason": reason}),
             reversal_fact(movement, op, originals[0]["kind"], originals, None, reason)]
    return record, entries, facts, signed


def _refuse_cut(pool: Mapping[str, Any], signed: int) -> None:
    """A cut into what is committed is refused (as read: the repository's update checks it again atomically)."""
    if -signed > pool["available_fen"]:
        raise Conflict(f"a cut of {-signed} fen would cut into what is committed: {pool['available_fen']} fen "
                       "available", available_fen=pool["available_fen"], allowed=[])


def _pool_fact(pool: Mapping[str, Any]) -> dict[str, Any]:
    return {"pool": pool["code"], "year": pool["year"], "source": pool["source"],
            "owner_village": pool.get("owner_village")}


def dividends(pool: Mapping[str, Any], op: str, income_fen: int, holders: Sequence[Mapping[str, Any]], reason: str,
              act: Act) -> tuple[dict[str, Any], Entries, Facts]:
    """A village collective's distribution from its own ``village_collective`` pool: the record, one entry per
    shareholder with a part, and the event."""
    if pool["source"] != "village_collective" or not pool.get("owner_village"):
        raise Unprocessable({"pool": ["dividends are paid from a village's own village_collective pool"]})
    parts = distribute_dividends(income_fen, holders)
    entries = [ledger.entry(op, n, "dividend", p["amount_fen"], township_id=pool["township_id"],
                            pool=pool_meta(pool), actor=act.actor, at=act.at, other=p["holder"], reason=reason)
               for n, p in enumerate(q for q in parts if q["amount_fen"] > 0)]
    record = {"_id": op, "township_id": pool["township_id"], "pool": pool["code"], "village": pool["owner_village"],
              "year": pool["year"], "income_fen": income_fen, "parts": parts, "reason": reason, "at": act.at,
              "by": act.actor}
    fact = (fs.DividendsDistributedV1, {"distribution_id": op, "pool": pool["code"], "village": pool["owner_village"],
                                        "year": pool["year"], "income_fen": income_fen, "parts": parts})
    return record, entries, [fact]
