"""Pages every reader has: the welcome page, signing in and out, the language and township switches."""
from __future__ import annotations

from township_shared.auth import ROLES, SIGNED_IN

from .. import web
from ..i18n import LANGUAGES, N_
from ..web import CallFailed, Ctx, page


def _local(target: str | None) -> str | None:
    """A ``next`` that stays in the console (never another site: ``//evil`` or ``/console@evil`` included)."""
    if target and target.startswith(web.PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@page("/", roles=ROLES, nav=N_("Home"), nav_order=0)
def home(ctx: Ctx):
    """The public's welcome page; a signed-in reader is sent to their role's home."""
    if not ctx.principal.is_public:
        return ctx.redirect(web.HOMES.get(ctx.principal.role, web.PREFIX + "/signin"))
    return ctx.render("home.html")


@page("/signin", roles=ROLES, methods=("GET", "POST"))
def signin(ctx: Ctx):
    """Sign in with a token the township's office issued; the browser then keeps a session cookie, never the
    token (decision 90)."""
    target = _local(ctx.request.values.get("next"))
    error = None
    if ctx.request.method == "POST":
        token = (ctx.form.get("token") or "").strip()
        try:
            opened = ctx.call_unsigned("identity", "open_session", token)
        except CallFailed as exc:
            if exc.status not in (401, 400):
                raise
            error = ctx._("This sign-in code is not valid (unknown, revoked or mistyped).")
        else:
            web.forget_session(ctx.request.cookies.get(web.SESSION_COOKIE))
            seconds = int(float(ctx.config.get("SESSION_SECONDS", 12 * 3600)))
            ctx.set_cookie(web.SESSION_COOKIE, opened["session"], max_age=seconds)
            role = opened["principal"]["role"]
            return ctx.redirect(target or web.HOMES.get(role, web.PREFIX + "/"), done="signed_in")
    return ctx.render("signin.html", error=error, next=target, status=401 if error else 200)


@page("/signout", roles=SIGNED_IN, methods=("POST",))
def signout(ctx: Ctx):
    session = ctx.request.cookies.get(web.SESSION_COOKIE)
    ctx.call_unsigned("identity", "close_session", session)
    web.forget_session(session)
    ctx.set_cookie(web.SESSION_COOKIE, "", expires=0)
    return ctx.redirect(web.PREFIX + "/", done="signed_out")


@page("/language", roles=ROLES, methods=("POST",))
def language(ctx: Ctx):
    """The language switch: remembered in a cookie for a year; back to the page it was used on."""
    chosen = ctx.form.get("lang")
    if chosen in LANGUAGES:
        ctx.set_cookie(web.LANG_COOKIE, chosen, max_age=web.LANG_COOKIE_SECONDS)
    return ctx.redirect(_local(ctx.form.get("next")) or web.PREFIX + "/")


@page("/township", roles=("public", "county"), methods=("POST",))
def township(ctx: Ctx):
    """The township the public writes to or a county reads (any code; pages answer 404 for an unknown one)."""
    chosen = (ctx.form.get("township") or "").strip()
    if chosen.isidentifier() and len(chosen) <= 40:
        ctx.set_cookie(web.TOWNSHIP_COOKIE, chosen, max_age=web.LANG_COOKIE_SECONDS)
    return ctx.redirect(_local(ctx.form.get("next")) or web.PREFIX + "/")
