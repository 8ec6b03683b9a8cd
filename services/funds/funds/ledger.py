"""The funds ledger: every movement of money as double entries in integer fen, never edited (decision 65).

Accounts, one per pool, per pool and project, and per pool and shareholder:

- ``source:<pool>``: where the pool's budget comes from; its balance is minus the budget;
- ``pool:<pool>``: the pool's money not committed to anything (available);
- ``commitment:<pool>:<project>``: allocated to the project from the pool and not yet paid;
- ``payment:<pool>:<project>``: paid to the project from the pool;
- ``dividend:<pool>:<holder>``: a village collective's income distributed to one shareholder.

An entry moves ``amount_fen`` (> 0) from its ``credit`` account to its ``debit`` account, and an account's balance
is its debits less its credits, so the balances of all accounts always sum to zero. The kinds:

=============== ========================= ========================
kind            debit                     credit
=============== ========================= ========================
budget_raised   pool                      source
budget_cut      source                    pool
allocated       commitment                pool
paid            payment                   commitment
released        pool                      commitment
dividend        dividend                  pool
reversal        the reversed entry's credit, debit (swapped)
=============== ========================= ========================

The entries of one movement (an allocation from two pools, a payment split over them) share ``op``; an entry's id
is ``<op>.<n>``, so a movement stored twice (a retried write, the journal's sweep) is one movement. A mistake is
undone by reversing the whole movement (``reversal`` entries with ``reverses``, the reason and the actor); the
originals stay.

Every figure of a report is a function of the entries alone: :func:`totals` groups them (the repository does the
same grouping in the database), :func:`report` turns the groups into rows, :func:`project_figures` gives one
project's figures. Pool metadata (year, source, owner) only labels and groups the rows.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Iterable, Mapping

KINDS = {  # kind -> (debit account kind, credit account kind)
    "budget_raised": ("pool", "source"),
    "budget_cut": ("source", "pool"),
    "allocated": ("commitment", "pool"),
    "paid": ("payment", "commitment"),
    "released": ("pool", "commitment"),
    "dividend": ("dividend", "pool"),
}
REVERSIBLE = ("budget_raised", "budget_cut", "allocated", "paid")
TOTAL_KEYS = ("debit", "credit", "kind", "project_village")


def account(kind: str, pool: str, other: str | None = None) -> str:
    """``pool:p``, ``source:p``, ``commitment:p:project``, ``payment:p:project``, ``dividend:p:holder``."""
    return f"{kind}:{pool}" if other is None else f"{kind}:{pool}:{other}"


def parse(name: str) -> tuple[str, str, str | None]:
    """``(kind, pool, project or holder or None)`` of an account name."""
    kind, _, rest = name.partition(":")
    pool, _, other = rest.partition(":")
    return kind, pool, other or None


def entry(op: str, n: int, kind: str, amount_fen: int, *, township_id: str, pool: Mapping[str, Any],
          actor: str, at: datetime, project: str | None = None, project_village: str | None = None,
          other: str | None = None, key: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """The ``n``-th entry of movement ``op``: ``kind`` moves ``amount_fen`` between the accounts of the table above.
    ``pool`` is the pool's ``{code, year, source, owner_village}``; ``other`` names the project or the holder of
    the pool's second account."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise ValueError(f"an entry moves a positive integer of fen, not {amount_fen!r}")
    debit_kind, credit_kind = KINDS[kind]
    second = other if other is not None else project

    def acct(account_kind):
        return account(account_kind, pool["code"], second if account_kind in ("commitment", "payment", "dividend")
                       else None)

    return {"_id": f"{op}.{n}", "op": op, "township_id": township_id, "at": at, "actor": actor, "kind": kind,
            "amount_fen": amount_fen, "debit": acct(debit_kind), "credit": acct(credit_kind),
            "pool": pool["code"], "year": pool["year"], "source": pool["source"],
            "pool_village": pool.get("owner_village"), "project": project, "project_village": project_village,
            "key": key, "reason": reason, "reverses": None}


def reversal(original: Mapping[str, Any], op: str, n: int, *, actor: str, at: datetime,
             reason: str) -> dict[str, Any]:
    """The entry that undoes ``original``: its accounts swapped, the same amount, who and why."""
    if original["kind"] not in REVERSIBLE:
        raise ValueError(f"a {original['kind']} entry is not reversed")
    return {**original, "_id": f"{op}.{n}", "op": op, "at": at, "actor": actor, "kind": "reversal",
            "debit": original["credit"], "credit": original["debit"], "reason": reason,
            "reverses": original["_id"], "reversed_kind": original["kind"]}


# ---- figures, from the entries alone ----------------------------------------------------------------------------
def balances(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for e in entries:
        out[e["debit"]] += e["amount_fen"]
        out[e["credit"]] -= e["amount_fen"]
    return dict(out)


def totals(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The entries summed by debit, credit, kind and project village: what :func:`report` needs (the repository's
    aggregation gives the same rows)."""
    sums: dict[tuple, int] = defaultdict(int)
    for e in entries:
        sums[tuple(e.get(k) for k in TOTAL_KEYS)] += e["amount_fen"]
    return [{**dict(zip(TOTAL_KEYS, key)), "amount_fen": amount} for key, amount in sums.items()]


FIGURES = ("budget_fen", "committed_fen", "paid_fen", "available_fen", "allocated_fen", "released_fen",
           "dividends_fen")


def _empty() -> dict[str, int]:
    return {f: 0 for f in FIGURES}


def pool_figures(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per pool: budget, committed (budget less available), paid (to projects and shareholders), available,
    allocated to projects net of releases and reversals, released, dividends."""
    out: dict[str, dict[str, int]] = defaultdict(_empty)
    for row in rows:
        amount = row["amount_fen"]
        for name, sign in ((row["debit"], 1), (row["credit"], -1)):
            kind, pool, _ = parse(name)
            fig = out[pool]
            if kind == "source":
                fig["budget_fen"] -= sign * amount
            elif kind == "pool":
                fig["available_fen"] += sign * amount
            elif kind in ("commitment", "payment"):
                fig["allocated_fen"] += sign * amount
                if kind == "payment":
                    fig["paid_fen"] += sign * amount
            elif kind == "dividend":
                fig["dividends_fen"] += sign * amount
                fig["paid_fen"] += sign * amount
        if row["kind"] == "released":
            out[parse(row["debit"])[1]]["released_fen"] += amount
    for fig in out.values():
        fig["committed_fen"] = fig["budget_fen"] - fig["available_fen"]
    return dict(out)


def village_figures(rows: Iterable[Mapping[str, Any]],
                    pools: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per village: allocated to, paid to and released from the village's projects, and of the pools the village
    owns, their budget, committed, available and dividends."""
    rows = list(rows)
    out: dict[str, dict[str, int]] = defaultdict(_empty)
    for row in rows:
        village = row.get("project_village")
        if not village:
            continue
        amount = row["amount_fen"]
        for name, sign in ((row["debit"], 1), (row["credit"], -1)):
            kind = parse(name)[0]
            if kind in ("commitment", "payment"):
                out[village]["allocated_fen"] += sign * amount
                if kind == "payment":
                    out[village]["paid_fen"] += sign * amount
        if row["kind"] == "released":
            out[village]["released_fen"] += amount
    for code, fig in pool_figures(rows).items():
        village = (pools.get(code) or {}).get("owner_village")
        if village:
            target = out[village]
            for f in ("budget_fen", "committed_fen", "available_fen", "dividends_fen"):
                target[f] += fig[f]
            target["paid_fen"] += fig["dividends_fen"]
    return dict(out)


def report(rows: Iterable[Mapping[str, Any]], pools: Mapping[str, Mapping[str, Any]], by: str,
           year: int | None = None) -> list[dict[str, Any]]:
    """Budget execution rows ``{key, year, budget_fen, committed_fen, paid_fen, available_fen, allocated_fen,
    released_fen, dividends_fen}`` by pool, source or village, sorted by key. ``rows`` are :func:`totals` of the
    entries of the pools in ``pools`` (code -> ``{year, source, owner_village}``)."""
    rows = list(rows)
    if by == "village":
        return [{"key": v, "year": year, **fig} for v, fig in sorted(village_figures(rows, pools).items())]
    per_pool = pool_figures(rows)
    if by == "pool":
        return [{"key": code, "year": (pools.get(code) or {}).get("year"), **per_pool.get(code, _empty())}
                for code in sorted(set(pools) | set(per_pool))]
    grouped: dict[tuple, dict[str, int]] = defaultdict(_empty)
    for code, fig in per_pool.items():
        meta = pools.get(code) or {}
        target = grouped[(meta.get("source", "?"), meta.get("year") if year is None else year)]
        for f in FIGURES:
            target[f] += fig[f]
    return [{"key": source, "year": y, **fig} for (source, y), fig in sorted(grouped.items(), key=str)]


def project_figures(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One project's money from its entries: per pool allocated (net), paid, released; per payment key paid."""
    per_pool: dict[str, dict[str, int]] = defaultdict(lambda: {"allocated_fen": 0, "paid_fen": 0,
                                                               "released_fen": 0})
    per_key: dict[str, int] = defaultdict(int)
    for e in entries:
        kind = e["reversed_kind"] if e["kind"] == "reversal" else e["kind"]
        sign = -1 if e["kind"] == "reversal" else 1
        fig = per_pool[e["pool"]]
        if kind == "allocated":
            fig["allocated_fen"] += sign * e["amount_fen"]
        elif kind == "paid":
            fig["paid_fen"] += sign * e["amount_fen"]
            per_key[e["key"]] += sign * e["amount_fen"]
        elif kind == "released":
            fig["released_fen"] += e["amount_fen"]
            fig["allocated_fen"] -= e["amount_fen"]
    return {"pools": {p: dict(f) for p, f in per_pool.items()}, "keys": {k: v for k, v in per_key.items() if v}}
