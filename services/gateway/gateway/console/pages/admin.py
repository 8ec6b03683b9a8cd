"""The office's sign-in codes: the tokens of its township's actors, listed (never the tokens themselves), issued
for an actor (the token is shown once, on the answer to the form, never in a URL) and revoked after a
confirmation page. The same identity RPCs as ``/api/v1/tokens`` (decision 38)."""
from __future__ import annotations

from township_shared.schemas.identity import ISSUABLE_ROLES

from ..i18n import N_
from ..web import CallFailed, Ctx, page

ROLE_LABELS = {"office": N_("Office clerk"), "unit": N_("Unit"), "party_member": N_("Party member"),
               "volunteer": N_("Volunteer"), "social_org": N_("Social organisation"),
               "supervision": N_("Supervision group"), "meeting": N_("Meeting secretary")}
assert set(ROLE_LABELS) == set(ISSUABLE_ROLES)
LISTED = 200


def _filters(ctx: Ctx) -> dict:
    args = ctx.request.args
    query: dict = {"limit": LISTED}
    if args.get("role") in ISSUABLE_ROLES:
        query["role"] = args["role"]
    if args.get("active") in ("true", "false"):
        query["active"] = args["active"]
    return query


def _actors(ctx: Ctx) -> list[dict]:
    """Registered actors the office may pick from (units, Party members, volunteers, organisations)."""
    name_of = (lambda a: (a.get("names") or {}).get(ctx.lang) or (a.get("names") or {}).get("zh")
               or a.get("name") or a.get("registered_name") or a["id"])
    return [{"ref": f"{a['kind']}:{a['id']}", "name": name_of(a), "kind": a["kind"]}
            for a in ctx.call("dispatch", "list_actors", {"active": "true"})]


def _command(form) -> dict:
    """The form as identity's IssueTokenSchema body: empty optional fields left out, villages split."""
    body = {"role": (form.get("role") or "").strip(), "actor": (form.get("actor") or "").strip()}
    if (form.get("label") or "").strip():
        body["label"] = form["label"].strip()
    villages = [v.strip() for v in (form.get("villages") or "").replace("，", ",").split(",") if v.strip()]
    if villages:
        body["villages"] = villages
    if (form.get("organisation") or "").strip():
        body["organisation"] = form["organisation"].strip()
    return body


@page("/admin/tokens", roles=("office",), methods=("GET", "POST"), nav=N_("Sign-in codes"), nav_order=90)
def tokens(ctx: Ctx):
    """List the township's tokens; POST issues one and answers the page with the token shown this once."""
    issued, error, fields, values, status = None, None, {}, {}, 200
    if ctx.request.method == "POST":
        values = _command(ctx.form)
        try:
            issued = ctx.call("identity", "issue_token", values)
            values, status = {}, 201
        except CallFailed as exc:
            if exc.status not in (400, 404, 409, 422):
                raise
            error, fields, status = exc.message, exc.fields, exc.status
    query = _filters(ctx)
    listed = ctx.call("identity", "list_tokens", query)["items"]
    return ctx.render("admin/tokens.html", status=status, tokens=listed, issued=issued, error=error,
                      fields=fields, values=values, roles=ROLE_LABELS, actors=_actors(ctx), query=query,
                      limit=LISTED)


@page("/admin/tokens/<token_id>/revoke", roles=("office",), methods=("GET", "POST"))
def revoke(ctx: Ctx):
    """GET asks for the confirmation (what the token is, what revoking does); POST revokes it at once."""
    token_id = ctx.values["token_id"]
    if ctx.request.method == "POST":
        ctx.call("identity", "revoke_token", token_id)
        return ctx.redirect("/console/admin/tokens", done="revoked")
    actor = ctx.request.args.get("actor")
    query = {"limit": 500, **({"actor": actor} if actor and ":" in actor and len(actor) <= 140 else {})}
    try:
        found = [t for t in ctx.call("identity", "list_tokens", query)["items"] if t["id"] == token_id]
    except CallFailed as exc:
        if exc.status != 400:
            raise
        found = []
    if not found:
        raise CallFailed(404, {"error": "not_found", "message": ctx._("No such sign-in code in this township.")})
    return ctx.render("admin/revoke.html", token=found[0], roles=ROLE_LABELS)
