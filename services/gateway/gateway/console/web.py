"""The console's plumbing: pages as plain functions in a registry, who is signed in, forms, languages, templates.

A page is a function ``page(ctx) -> Response`` declared with :func:`page` (its URL rule under ``/console``, the
roles that may open it, the methods it answers); the gateway's one ``/console/...`` entrypoint finds it, and
before it runs (decision 91):

- the reader is the principal of the ``tp_session`` cookie (a console session opened with a token, resolved by the
  identity service like a token: decision 90), or the public;
- a role the page does not grant is sent to sign in (the public) or refused with 403;
- every POST carries ``csrf_token``, the HMAC of the reader's ``tp_csrf`` cookie, and an ``Origin`` (when the
  browser sends one) of this host: a form posted from elsewhere is refused with 403;
- the language is the switch's choice (``tp_lang``), else the browser's, else Chinese.

The page calls services with :meth:`Ctx.call` (the signed principal first, as every RPC wants); an error a
service answers becomes :class:`CallFailed`, which a page may catch to show beside its form, or which becomes an
error page with the API's status. Templates are Jinja2 with autoescaping on everything (no ``|safe`` on data).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from nameko.exceptions import RemoteError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from township_shared import auth
from township_shared.errors import ServiceError, from_remote

from . import i18n
from .i18n import N_

log = logging.getLogger(__name__)

PREFIX = "/console"
SESSION_COOKIE = "tp_session"
CSRF_COOKIE = "tp_csrf"
LANG_COOKIE = "tp_lang"
TOWNSHIP_COOKIE = "tp_township"
CSRF_FIELD = "csrf_token"
LANG_COOKIE_SECONDS = 365 * 86400
# a signed-in reader's principal, cached like the API's tokens (TOKEN_CACHE_SECONDS)
SESSIONS: dict[str, tuple[float, auth.Principal]] = {}
MAX_CACHED_SESSIONS = 10000
# the home page of each role: where signing in leads
HOMES = {"office": "/console/office", "unit": "/console/tasks", "party_member": "/console/tasks",
         "volunteer": "/console/tasks", "social_org": "/console/projects", "supervision": "/console/reports",
         "meeting": "/console/meetings", "county": "/console/assessment", "public": "/console/"}
# what ``?done=`` may announce after a form: a fixed list, so a link cannot make the console say anything
DONE = {"signed_in": N_("Signed in."), "signed_out": N_("Signed out."), "saved": N_("Saved."),
        "routed": N_("The case was routed."), "submitted": N_("Submitted."), "signed": N_("Task signed."),
        "returned": N_("Task returned."), "extension": N_("Extension requested."),
        "completed": N_("Task completed."), "issued": N_("Token issued."), "revoked": N_("Token revoked."),
        "reported": N_("Report submitted."), "recorded": N_("Recorded."), "closed": N_("Closed."),
        "answered": N_("Thank you, your answer was recorded."), "scheduled": N_("Meeting scheduled."),
        "published": N_("Agenda published."), "allocated": N_("Money allocated."),
        "reviewed": N_("Review recorded."),
        "whistled": N_("The units were summoned.")}


class CallFailed(Exception):
    """A service refused or failed a call: ``status`` as the API would answer, ``body`` its JSON error
    (``message``, ``fields`` naming what was wrong)."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(body.get("message") or body.get("error") or str(status))
        self.status, self.body = status, body

    @property
    def message(self) -> str:
        return str(self.body.get("message") or self.body.get("error") or self.status)

    @property
    def fields(self) -> dict[str, Any]:
        return self.body.get("fields") or {}


@contextlib.contextmanager
def failures_as_call_failed():
    """What a service refuses (its expected errors) or cannot do (503) as :class:`CallFailed`; a bug stays a
    ``RemoteError``."""
    try:
        yield
    except ServiceError as exc:
        raise CallFailed(exc.status, exc.body) from None
    except RemoteError as exc:
        mapped = from_remote(exc.exc_type, exc.value)
        if mapped:
            raise CallFailed(*mapped) from None
        raise


@dataclass(frozen=True)
class Page:
    rule: str
    handler: Callable[["Ctx"], Response]
    roles: tuple[str, ...]
    methods: tuple[str, ...]
    name: str
    nav: str | None = None  # a label: the page is in the menu of its roles
    nav_order: int = 100

    def __post_init__(self):
        unknown = set(self.roles) - set(auth.ROLES)
        if not self.roles or unknown:
            raise ValueError(f"page {self.rule}: declare the roles that may open it ({', '.join(auth.ROLES)})")


@dataclass
class Pages:
    pages: list[Page] = field(default_factory=list)

    def page(self, rule: str, *, roles: Iterable[str], methods: Iterable[str] = ("GET",), nav: str | None = None,
             nav_order: int = 100) -> Callable:
        def register(fn: Callable) -> Callable:
            self.pages.append(Page(PREFIX + rule, fn, tuple(roles), tuple(methods), fn.__name__, nav, nav_order))
            return fn

        return register

    @functools.cached_property
    def url_map(self) -> Map:
        return Map([Rule(p.rule, endpoint=p, methods=list(p.methods)) for p in self.pages], strict_slashes=False)

    def menu(self, role: str) -> list[Page]:
        return sorted((p for p in self.pages if p.nav and role in p.roles), key=lambda p: (p.nav_order, p.rule))


PAGES = Pages()
page = PAGES.page


def page_table() -> str:
    """The README's table of console pages and the roles that may open them (``python -m gateway.roles console``;
    tests/contract/test_console_pages.py checks it)."""
    lines = ["| page | roles that may open it |", "| --- | --- |"]
    for p in sorted(PAGES.pages, key=lambda p: (p.rule, p.methods)):
        shown = "everyone (no sign-in)" if set(p.roles) == set(auth.ROLES) else ", ".join(p.roles)
        lines.append(f"| `{','.join(p.methods)} {p.rule}` | {shown} |")
    return "\n".join(lines)


# ---- templates ----------------------------------------------------------------------------------------------------
@functools.cache
def environment(lang: str) -> Environment:
    """One Jinja2 environment per language, its gettext installed (no per-request state)."""
    env = Environment(loader=PackageLoader("gateway.console", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)
    env.policies["ext.i18n.trimmed"] = True
    return env


# ---- the request's context ---------------------------------------------------------------------------------------
class Ctx:
    """What a page function gets: the request, who reads, the language, and calls to the services."""

    def __init__(self, service: Any, request: Request, principal: auth.Principal, lang: str, values: dict,
                 page: Page, csrf: str):
        self.service, self.request, self.principal, self.lang = service, request, principal, lang
        self.values, self.page, self._csrf_cookie = values, page, csrf
        self.config = service.config
        self.formats = i18n.Formats(lang, self.config.get("TOWNSHIP_TIMEZONE") or "Asia/Shanghai")
        self.translations = i18n.translations(lang)
        self.cookies: list[tuple[str, str, dict]] = []

    # services
    @property
    def signed(self) -> dict:
        return auth.sign(self.principal, self.config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY)

    def call(self, service: str, method: str, *args: Any) -> Any:
        """``service.method(signed principal, *args)``; :class:`CallFailed` for what the service refuses or
        cannot do (503 when it is unreachable)."""
        return self.call_unsigned(service, method, self.signed, *args)

    def call_unsigned(self, service: str, method: str, *args: Any) -> Any:
        with failures_as_call_failed():
            return getattr(getattr(self.service, service), method)(*args)

    def call_all(self, *calls: tuple, signed: dict | None = None) -> list:
        """Several reads at once (nameko's ``call_async``), each ``(service, method, *args)`` with the reader's
        signed principal (or ``signed``): a page waits for the slowest answer, not for their sum. Refusals raise
        :class:`CallFailed` as :meth:`call` does."""
        signed = signed or self.signed
        replies = [getattr(getattr(self.service, service), method).call_async(signed, *args)
                   for service, method, *args in calls]
        answers = []
        for reply in replies:
            with failures_as_call_failed():
                answers.append(reply.result())
        return answers

    # language
    def _(self, message: str, **values: Any) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    gettext = _

    # answers
    @property
    def csrf_token(self) -> str:
        return csrf_token(self.config, self._csrf_cookie)

    @property
    def form(self):
        return self.request.form

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        env = environment(self.lang)
        body = env.get_template(template).render(ctx=self, principal=self.principal, lang=self.lang,
                                                 f=self.formats, **values)
        return Response(body, status=status, mimetype="text/html")

    def redirect(self, location: str, done: str | None = None, **query: Any) -> Response:
        """303 to a console path (never elsewhere), with ``?done=`` naming a message of :data:`DONE`."""
        if not location.startswith(PREFIX):
            location = PREFIX + "/"
        params = {k: v for k, v in query.items() if v is not None}
        if done:
            params["done"] = done
        if params:
            location += ("&" if "?" in location else "?") + urlencode(params)
        return Response(status=303, headers={"Location": location})

    @property
    def done(self) -> str | None:
        key = self.request.args.get("done")
        return self._(DONE[key]) if key in DONE else None

    def menu(self) -> list[Page]:
        return PAGES.menu(self.principal.role)

    def url(self, path: str, **query: Any) -> str:
        params = {k: v for k, v in query.items() if v not in (None, "")}
        return PREFIX + path + ("?" + urlencode(params) if params else "")

    def set_cookie(self, name: str, value: str, **options: Any) -> None:
        self.cookies.append((name, value, options))

    # photos (decision 92)
    def save_photos(self, subject: str, field: str = "photos") -> list[str]:
        """Store the photos posted in ``field`` (a form with ``enctype="multipart/form-data"``) as photos of
        ``subject`` (``case:<id>``...); none is stored unless all are accepted. :class:`CallFailed` 413, 415 or
        422 naming ``field``."""
        from datetime import datetime, timezone

        from .photos import PHOTOS_PER_FORM, PhotoRefused, checked_image

        uploads = [f for f in self.request.files.getlist(field) if f and f.filename]
        if len(uploads) > PHOTOS_PER_FORM:
            raise CallFailed(422, {"error": "too_many_photos", "fields": {field: [self._(
                "At most %(n)d photos.", n=PHOTOS_PER_FORM)]}, "message": self._("At most %(n)d photos.",
                                                                                  n=PHOTOS_PER_FORM)})
        limit = int(self.config.get("PHOTO_MAX_BYTES", 5 * 1024 * 1024))
        checked = []
        for upload in uploads:
            try:
                checked.append((upload.filename, checked_image(upload.stream.read(limit + 1), limit)))
            except PhotoRefused as exc:
                message = self._("%(name)s: %(reason)s", name=upload.filename[:80], reason=self._(str(exc)))
                raise CallFailed(exc.status, {"error": "photo_refused", "message": message,
                                              "fields": {field: [message]}}) from None
        now = datetime.now(timezone.utc)
        return [self.service.photos.save(image, township_id=self.principal.township_id, subject=subject,
                                         uploaded_by=self.principal.actor, now=now, filename=name)
                for name, image in checked]

    def photos_of(self, subject: str) -> list[dict]:
        """The photos of ``subject`` in the reader's township (the page has already read the subject itself)."""
        return self.service.photos.of(self.principal.township_id, subject)


# ---- sessions, CSRF, cookies ---------------------------------------------------------------------------------------
def _key(config: Any, purpose: str) -> bytes:
    secret = config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY
    return hashlib.sha256(f"{purpose}:{secret}".encode()).digest()


def csrf_token(config: Any, cookie: str) -> str:
    return hmac.new(_key(config, "console-csrf"), cookie.encode(), hashlib.sha256).hexdigest()


def secure_request(request: Request, config: Any) -> bool:
    """Cookies are ``Secure`` when the console is served over TLS: the request's scheme, or the scheme a trusted
    proxy in front of it says (``X-Forwarded-Proto``); ``CONSOLE_SECURE_COOKIES`` true/false overrides."""
    setting = str(config.get("CONSOLE_SECURE_COOKIES", "auto")).lower()
    if setting in ("true", "1", "yes"):
        return True
    if setting in ("false", "0", "no"):
        return False
    return request.scheme == "https" or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def cookie_options(request: Request, config: Any, **extra: Any) -> dict[str, Any]:
    return {"path": "/", "httponly": True, "samesite": "Lax", "secure": secure_request(request, config), **extra}


def same_origin(request: Request) -> bool:
    """A POST whose ``Origin`` (or, lacking it, ``Referer``) names another site is refused. A browser that sends
    neither, or ``Origin: null`` (what browsers send under our ``Referrer-Policy: no-referrer``), is judged by the
    CSRF token and the ``SameSite`` cookies alone."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.host


def resolve_session(service: Any, session: str | None) -> auth.Principal | None:
    if not session:
        return None
    key = auth.token_hash(session)
    now = time.monotonic()
    cached = SESSIONS.get(key)
    if cached and cached[0] > now:
        return cached[1]
    try:
        principal = auth.Principal.from_dict(service.identity.resolve_session(session))
    except RemoteError as exc:
        if exc.exc_type == "Unauthorized":
            return None
        raise
    if len(SESSIONS) >= MAX_CACHED_SESSIONS:
        SESSIONS.clear()
    SESSIONS[key] = (now + float(service.config.get("TOKEN_CACHE_SECONDS", 5)), principal)
    return principal


def forget_session(session: str | None) -> None:
    if session:
        SESSIONS.pop(auth.token_hash(session), None)


def reader_township(request: Request, principal: auth.Principal, default: str) -> auth.Principal:
    """The township a page is about: the reader's own; the public's and a county's is the one chosen with the
    township switch (``tp_township``) among the known ones, else the default (a county: its first township)."""
    from dataclasses import replace

    chosen = request.cookies.get(TOWNSHIP_COOKIE) or request.args.get("township")
    if principal.is_public:
        return replace(principal, township_id=chosen if chosen and chosen.isidentifier() else default)
    if principal.role == "county":
        townships = list(principal.townships)
        return replace(principal, township_id=chosen if chosen in townships else (townships or [default])[0])
    return principal


# ---- one request ---------------------------------------------------------------------------------------------------
ERROR_TITLES = {400: N_("The request is not valid"), 401: N_("Please sign in"), 403: N_("Not allowed"),
                404: N_("Not found"), 405: N_("Not allowed"), 409: N_("Not possible now"),
                410: N_("This link has expired"), 413: N_("Too large"), 415: N_("Not accepted"),
                422: N_("Not accepted"), 429: N_("Too many requests"), 500: N_("Something went wrong"),
                503: N_("The service is unavailable, please try again shortly"),
                504: N_("The service did not answer in time, please try again")}


def error_page(ctx: Ctx, status: int, message: str | None = None) -> Response:
    title = ctx._(ERROR_TITLES.get(status, ERROR_TITLES[500]))
    response = ctx.render("error.html", status=status, title=title, message=message)
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


def handle(service: Any, request: Request) -> Response:
    """Serve one console request: find the page, settle who reads and in what language, check the form, run it."""
    csrf_cookie = request.cookies.get(CSRF_COOKIE) or ""
    new_csrf = not (16 <= len(csrf_cookie) <= 128 and csrf_cookie.isalnum())
    if new_csrf:
        csrf_cookie = secrets.token_hex(32)
    lang = i18n.negotiate(request.cookies.get(LANG_COOKIE), request.accept_languages)
    session = request.cookies.get(SESSION_COOKIE)
    fallback = Page(PREFIX + "/", lambda c: None, auth.ROLES, ("GET",), "error")
    try:
        adapter = PAGES.url_map.bind_to_environ(request.environ)
        found, values = adapter.match()
    except HTTPException as exc:
        found, values, status = None, {}, exc.code or 404
    principal = auth.public(None)
    ctx = Ctx(service, request, principal, lang, values if found else {}, found or fallback, csrf_cookie)
    try:
        resolved = resolve_session(service, session)
        if resolved is None and session:
            ctx.set_cookie(SESSION_COOKIE, "", expires=0)
        ctx.principal = reader_township(request, resolved or auth.public(None),
                                        service.config.get("DEFAULT_TOWNSHIP_ID", "qingshui"))
        if found is None:
            response = error_page(ctx, 405 if status == 405 else 404)
        elif ctx.principal.role not in found.roles:
            if ctx.principal.is_public:
                response = ctx.redirect(PREFIX + "/signin", next=request.full_path.rstrip("?"))
            else:
                response = error_page(ctx, 403, ctx._("Your role may not open this page."))
        elif request.method == "POST" and not (
                same_origin(request) and hmac.compare_digest(request.form.get(CSRF_FIELD, ""), ctx.csrf_token)
                and not new_csrf):
            response = error_page(ctx, 403, ctx._("This form has expired or came from elsewhere. Go back, "
                                                  "reload the page and send it again."))
        else:
            response = found.handler(ctx)
    except CallFailed as exc:
        if exc.status >= 500:
            log.warning("console %s %s: %s", request.method, request.path, exc.message)
        response = error_page(ctx, exc.status, exc.message)
    except RemoteError as exc:
        log.error("remote error behind console %s %s: %s", request.method, request.path, exc)
        response = error_page(ctx, 500)
    except Exception as exc:  # noqa: BLE001 - one page failing must not take the others down
        if type(exc).__name__ in ("ConnectionError", "OSError", "UnknownService", "Timeout"):
            response = error_page(ctx, 503)
        else:
            log.exception("console page %s %s failed", request.method, request.path)
            response = error_page(ctx, 500)
    if new_csrf:
        response.set_cookie(CSRF_COOKIE, csrf_cookie, **cookie_options(request, service.config, samesite="Strict"))
    for name, value, options in ctx.cookies:
        response.set_cookie(name, value, **cookie_options(request, service.config, **options))
    response.headers.setdefault("Content-Language", i18n.HTML_LANG[lang])
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response


STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png",
                ".ico": "image/x-icon", ".woff2": "font/woff2"}


def static_file(name: str) -> Response:
    """A file of ``static/`` (no personal data: cached an hour); 404 for anything else, paths outside it too."""
    path = (STATIC / name).resolve()
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or STATIC.resolve() not in path.parents or not path.is_file():
        return Response("not found", status=404, mimetype="text/plain")
    return Response(path.read_bytes(), mimetype=kind, headers={"Cache-Control": "public, max-age=3600"})
