"""The HTTP API (``/api/v1``) and ``/health``. Routes validate, call a service by RPC, and answer JSON.

Every route declares its operations with the roles that may call them (``roles=``): the ``api`` wrapper resolves
the caller's token into a principal and refuses the others before the route runs; the README's role table is
checked against these declarations (tests/contract/test_roles.py), and the services check the signed principal
again (decision 38)."""
from __future__ import annotations

import time
import uuid

from marshmallow import Schema, fields, validate
from nameko.dependency_providers import Config
from nameko.exceptions import RemoteError

from werkzeug.wrappers import Response

from township_shared import auth
from township_shared.auth import EVERYONE, SIGNED_IN, TASK_ROLES
from township_shared.errors import RETRY_AFTER_SECONDS, NotFound, ValidationFailed
from township_shared.schemas import demands as d
from township_shared.schemas import dispatch as dp
from township_shared.schemas import feedback as fb
from township_shared.schemas import identity as idn
from township_shared.schemas import reference as ref
from township_shared.schemas.bounds import Integer
from township_shared.schemas.common import StrictSchema
from township_shared.observability import Metrics
from township_shared.service import load

from . import openapi
from .openapi import CASE_SECRET, IDEMPOTENCY, TOWNSHIP, Operation, items, operation, operations, undocumented
from .dependencies import Broker, HealthProbe, RpcProxy
from . import funds_routes
from . import console as console_routes  # the module, as for meetings above
from . import meetings as meeting_routes  # the module: `nameko run gateway.service` runs each class it finds
from .security import client_of, metrics_guard
from .http import (api, bearer_token, http, json_response, query_args, read_json,
                   read_json_or_empty)

IDEMPOTENCY_HEADER = "Idempotency-Key"
CASE_SECRET_HEADER = "X-Case-Secret"
# the office's commands on a case and on a callback: URL segment -> (RPC method, body schema, summary)
CASE_COMMANDS = {"route": ("route_case", dp.RouteCommandSchema, "Route or re-route a case by hand"),
                 "close": ("close_case", dp.CloseCommandSchema, "Close a case"),
                 "whistle": ("whistle_case", dp.WhistleCommandSchema, "Summon units (吹哨)")}
CALLBACK_COMMANDS = {"attempt": ("record_callback_attempt", fb.CallbackAttemptSchema, "A failed callback attempt"),
                     "answer": ("record_callback_answer", fb.OfficeAnswerSchema, "The resident's answer by phone"),
                     "classify": ("classify_callback", fb.ClassifySchema, "Classify why a case is unresolved")}
MAX_IDEMPOTENCY_KEY = 255
KNOWN_TOWNSHIPS: dict[str, float] = {}
# token hash -> (monotonic expiry, principal): a revoked token stops working within TOKEN_CACHE_SECONDS
TOKENS: dict[str, tuple[float, auth.Principal]] = {}
MAX_CACHED_TOKENS = 10000
SUBMITTERS = ("public", "office", *TASK_ROLES)


class PrincipalViewSchema(Schema):
    """Who a token belongs to (``GET /api/v1/me``)."""

    role = fields.String(required=True)
    actor = fields.String(required=True)
    township_id = fields.String(allow_none=True)
    county_id = fields.String(allow_none=True)
    townships = fields.List(fields.String())
    villages = fields.List(fields.String())
    organisation = fields.String(allow_none=True)


class DeadLetterQuerySchema(StrictSchema):
    limit = Integer(query=True, load_default=50, validate=validate.Range(min=1, max=500),
                    metadata={"description": "at most this many (default 50)"})


class GatewayService(funds_routes.FundsRoutes, meeting_routes.MeetingRoutes,
                     console_routes.ConsoleRoutes):
    name = "gateway"

    config = Config()
    metrics = Metrics()
    intake = RpcProxy("intake")
    dispatch = RpcProxy("dispatch")
    feedback = RpcProxy("feedback")
    identity = RpcProxy("identity")
    health_probe = HealthProbe()
    broker = Broker()

    # who calls ------------------------------------------------------------------------------------------------
    def authenticate(self, request) -> auth.Principal:
        """The caller: the principal of its bearer token (resolved by the identity service, cached for
        ``TOKEN_CACHE_SECONDS``), or the public."""
        token = bearer_token(request)
        if token is None:
            return auth.public(None)
        key = auth.token_hash(token)
        now = time.monotonic()
        cached = TOKENS.get(key)
        if cached and cached[0] > now:
            return cached[1]
        principal = auth.Principal.from_dict(self.identity.resolve_token(token))
        if len(TOKENS) >= MAX_CACHED_TOKENS:
            TOKENS.clear()
        TOKENS[key] = (now + float(self.config.get("TOKEN_CACHE_SECONDS", 5)), principal)
        return principal

    def _p(self, request) -> dict:
        """The caller's principal, signed for the services (they verify it: ``auth.authorized``)."""
        return auth.sign(request.principal, self.config.get("PRINCIPAL_KEY") or auth.DEFAULT_PRINCIPAL_KEY)

    def _known_township(self, request):
        """404 if intake does not know the request's township (for routes whose service would answer an
        unknown township with empty results). Known townships are remembered for 30 s."""
        township = request.principal.township_id
        now = time.monotonic()
        if KNOWN_TOWNSHIPS.get(township, 0) < now:
            self.intake.list_villages(auth.sign(auth.public(township), self.config.get("PRINCIPAL_KEY")
                                                or auth.DEFAULT_PRINCIPAL_KEY))
            KNOWN_TOWNSHIPS[township] = now + 30
        return township

    def _body(self, request):
        return read_json_or_empty(request, int(self.config.get("MAX_BODY_BYTES", 65536)))

    @operation("State of RabbitMQ and MongoDB", errors=(503,), roles=EVERYONE)
    @http("GET", "/health")
    @api
    def health(self, request):
        checks = self.health_probe.check()
        ok = all(c["ok"] for c in checks.values())
        return json_response(200 if ok else 503, {"status": "ok" if ok else "degraded", **checks},
                             {} if ok else {"Retry-After": str(RETRY_AFTER_SECONDS)})

    @operation("Who the token belongs to", response=PrincipalViewSchema, roles=SIGNED_IN)
    @http("GET", "/api/v1/me")
    @api
    def me(self, request):
        return json_response(200, PrincipalViewSchema().dump(request.principal.to_dict()))

    @operation("Submit a resident's demand (the answer's secret lets the resident follow the case)",
               headers=(TOWNSHIP, IDEMPOTENCY), body=d.DemandSubmissionSchema, status=201,
               response=d.DemandAcceptedSchema, errors=(400, 404, 409, 413, 415, 422, 429), roles=SUBMITTERS)
    @http("POST", "/api/v1/demands")
    @api
    def submit_demand(self, request):
        body = read_json(request, int(self.config.get("MAX_BODY_BYTES", 65536)))
        client_key = request.headers.get(IDEMPOTENCY_HEADER)
        if client_key is not None and not (0 < len(client_key) <= MAX_IDEMPOTENCY_KEY):
            raise ValidationFailed({IDEMPOTENCY_HEADER: [f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters"]})
        submission = d.DemandSubmissionSchema().dump(load(d.DemandSubmissionSchema(), body))
        # Without a client key the gateway still gives the request one, so an RPC message redelivered after
        # intake crashed mid-request replays instead of storing the demand twice.
        key = f"client:{client_key}" if client_key else f"request:{uuid.uuid4().hex}"
        result = self.intake.submit_demand(self._p(request), submission, key, client=client_of(request, self.config))
        case = result["case"]
        headers = {"Location": f"/api/v1/demands/{case['case_number']}"}
        if result["replayed"] and client_key:
            headers["Idempotent-Replayed"] = "true"
        return json_response(201, case, headers)

    @operation("List demands, newest first (office)", query=d.DemandQuerySchema, response=d.DemandPageSchema,
               errors=(400, 404, 422), roles=("office",))
    @http("GET", "/api/v1/demands")
    @api
    def list_demands(self, request):
        return json_response(200, self.intake.list_demands(self._p(request), query_args(request)))

    @operation("One demand, by id or case number (the office; the public with the case's secret)",
               headers=(TOWNSHIP, CASE_SECRET), response=d.DemandSchema, errors=(400, 404),
               roles=("office", "public"))
    @http("GET", "/api/v1/demands/<string:case_id>")
    @api
    def get_demand(self, request, case_id):
        secret = request.headers.get(CASE_SECRET_HEADER)
        return json_response(200, self.intake.get_demand(self._p(request), case_id, secret))

    @operation("The public timeline of a case (no staff names, no phones); the public with the case's secret",
               headers=(TOWNSHIP, CASE_SECRET), response=dp.TimelineSchema, errors=(400, 404),
               roles=("office", "public"))
    @http("GET", "/api/v1/demands/<string:case_id>/timeline")
    @api
    def get_timeline(self, request, case_id):
        """The public timeline; a demand dispatch has not seen yet is only ``received``."""
        principal, secret = self._p(request), request.headers.get(CASE_SECRET_HEADER)
        try:
            return json_response(200, self.dispatch.get_timeline(principal, case_id, secret))
        except RemoteError as exc:
            if exc.exc_type != "NotFound":
                raise
        demand = self.intake.get_demand(principal, case_id, secret)
        return json_response(200, {
            "case_id": demand["id"], "case_number": demand["case_number"], "status": demand["status"],
            "outcome": demand.get("outcome"), "since": demand.get("status_since") or demand["received_at"],
            "holder": None, "closed_at": None,
            "entries": [{"at": demand["received_at"], "step": "received", "holder": None, "text": None}]})

    @operation("The township's villages", headers=(TOWNSHIP,), response=items(ref.VillageSchema), errors=(400, 404),
               roles=EVERYONE)
    @http("GET", "/api/v1/villages")
    @api
    def list_villages(self, request):
        return json_response(200, {"items": self.intake.list_villages(self._p(request))})

    @operation("The category catalogue", headers=(TOWNSHIP,), response=items(ref.CategorySchema),
               errors=(400, 404), roles=EVERYONE)
    @http("GET", "/api/v1/categories")
    @api
    def list_categories(self, request):
        return json_response(200, {"items": self.intake.list_categories(self._p(request))})

    # tasks: each actor sees and acts on its own -----------------------------------------------------------------
    @operation("The unit's, Party member's or volunteer's own tasks", query=dp.TaskQuerySchema,
               response=items(dp.TaskViewSchema), errors=(400,), roles=TASK_ROLES)
    @http("GET", "/api/v1/tasks")
    @api
    def list_tasks(self, request):
        return json_response(200, {"items": self.dispatch.list_tasks(self._p(request), query_args(request))})

    @operations(Operation(c.summary, body=c.body, response=dp.TaskViewSchema,
                          errors=(400, 404, 409, *((422,) if c.path == "extension-request" else ())),
                          fixed={"command": c.path}, roles=("office",) if c.office else TASK_ROLES)
                for c in dp.TASK_COMMANDS)
    @http("POST", "/api/v1/tasks/<string:task_id>/<string:command>")
    @api
    def act_on_task(self, request, task_id, command):
        spec = dp.TASK_COMMANDS_BY_PATH.get(command)
        if spec is None:
            raise NotFound("no such task command", allowed=sorted(dp.TASK_COMMANDS_BY_PATH))
        task = self.dispatch.act_on_task(self._p(request), task_id, spec.name, self._body(request))
        return json_response(200, task)

    # cases: the office routes, closes and whistles; actors see the cases they work on ------------------------
    @operation("A case with its tasks and history (the office; an actor its own cases)",
               response=dp.DispatchCaseViewSchema, errors=(400, 404), roles=("office", *TASK_ROLES))
    @http("GET", "/api/v1/cases/<string:case_id>")
    @api
    def get_case(self, request, case_id):
        return json_response(200, self.dispatch.get_case(self._p(request), case_id))

    @operation("The office's triage queue", response=items(dp.DispatchCaseViewSchema), errors=(400,),
               roles=("office",))
    @http("GET", "/api/v1/triage")
    @api
    def list_triage(self, request):
        return json_response(200, {"items": self.dispatch.list_triage(self._p(request))})

    @operation("What the office's routings taught the classifier (office; decision 61)",
               query=dp.RoutingExampleQuerySchema, response=dp.RoutingExamplesViewSchema, errors=(400, 404),
               roles=("office",))
    @http("GET", "/api/v1/routing/examples")
    @api
    def routing_examples(self, request):
        return json_response(200, self.dispatch.list_routing_examples(self._p(request), query_args(request)))

    @operations([Operation("Forget what the office's routing of a case taught (office)",
                           body=dp.ExampleDecisionSchema, response=dp.RoutingExampleViewSchema,
                           errors=(400, 404), fixed={"command": "undo"}, roles=("office",)),
                 Operation("Learn again from an undone example (office)",
                           body=dp.ExampleDecisionSchema, response=dp.RoutingExampleViewSchema,
                           errors=(400, 404), fixed={"command": "restore"}, roles=("office",))])
    @http("POST", "/api/v1/routing/examples/<string:case_id>/<string:command>")
    @api
    def routing_example_command(self, request, case_id, command):
        if command not in ("undo", "restore"):
            raise NotFound("no such example command", allowed=["restore", "undo"])
        method = self.dispatch.undo_routing_example if command == "undo" else self.dispatch.restore_routing_example
        return json_response(200, method(self._p(request), case_id, self._body(request)))

    @operations([*(Operation(summary, body=body, response=dp.DispatchCaseViewSchema,
                             errors=(400, 404, 409, *((422,) if command in ("route", "whistle") else ())),
                             fixed={"command": command}, roles=("office",))
                  for command, (_, body, summary) in CASE_COMMANDS.items()),
                Operation("A summoned unit reports (报到)", response=dp.WhistleUnitSchema, errors=(400, 404, 409),
                          fixed={"command": "whistle-report"}, roles=("unit",))])
    @http("POST", "/api/v1/cases/<string:case_id>/<string:command>")
    @api
    def case_command(self, request, case_id, command):
        if command == "whistle-report":
            return json_response(200, self.dispatch.report_to_whistle(self._p(request), case_id))
        if command not in CASE_COMMANDS:
            raise NotFound("no such case command", allowed=sorted([*CASE_COMMANDS, "whistle-report"]))
        method = getattr(self.dispatch, CASE_COMMANDS[command][0])
        return json_response(200, method(self._p(request), case_id, self._body(request)))

    # actors registry (the office: it holds their phone numbers) -----------------------------------------------
    @operation("Units, Party members, volunteers, social organisations", query=dp.ActorQuerySchema,
               response=items(dp.ActorViewSchema), errors=(400, 404), roles=("office",))
    @http("GET", "/api/v1/actors")
    @api
    def list_actors(self, request):
        return json_response(200, {"items": self.dispatch.list_actors(self._p(request), query_args(request))})

    @operation("Register an actor", body=dp.ActorSchema, status=201, response=dp.ActorViewSchema,
               errors=(400, 404, 409, 422), roles=("office",))
    @http("POST", "/api/v1/actors")
    @api
    def create_actor(self, request):
        actor = self.dispatch.create_actor(self._p(request), self._body(request))
        return json_response(201, actor, {"Location": f"/api/v1/actors/{actor['kind']}/{actor['id']}"})

    @operation("One actor", response=dp.ActorViewSchema, errors=(404,), roles=("office",))
    @http("GET", "/api/v1/actors/<string:kind>/<string:actor_id>")
    @api
    def get_actor(self, request, kind, actor_id):
        return json_response(200, self.dispatch.get_actor(self._p(request), kind, actor_id))

    @operation("Update an actor (the fields given)", body=dp.ActorUpdateSchema, response=dp.ActorViewSchema,
               errors=(400, 404, 422), roles=("office",))
    @http("PATCH", "/api/v1/actors/<string:kind>/<string:actor_id>")
    @api
    def update_actor(self, request, kind, actor_id):
        changes = self._body(request)
        return json_response(200, self.dispatch.update_actor(self._p(request), kind, actor_id, changes))

    @operation("Deactivate an actor (never deleted)", response=dp.ActorViewSchema, errors=(404,),
               roles=("office",))
    @http("POST", "/api/v1/actors/<string:kind>/<string:actor_id>/deactivate")
    @api
    def deactivate_actor(self, request, kind, actor_id):
        return json_response(200, self.dispatch.update_actor(self._p(request), kind, actor_id, {"active": False}))

    # callbacks (回访): the office phones; residents answer through a one-time link ---------------------------
    @operation("Callbacks due (office)", query=fb.CallbackQuerySchema, response=items(fb.CallbackViewSchema),
               errors=(400,), roles=("office",))
    @http("GET", "/api/v1/callbacks")
    @api
    def list_callbacks(self, request):
        return json_response(200, {"items": self.feedback.list_callbacks(self._p(request), query_args(request))})

    @operations(Operation(summary, body=body, response=fb.CallbackViewSchema,
                          errors=(400, 404, 409, *((422,) if command == "answer" else ())),
                          fixed={"command": command}, roles=("office",))
                for command, (_, body, summary) in CALLBACK_COMMANDS.items())
    @http("POST", "/api/v1/callbacks/<string:callback_id>/<string:command>")
    @api
    def callback_command(self, request, callback_id, command):
        if command not in CALLBACK_COMMANDS:
            raise NotFound("no such callback command", allowed=sorted(CALLBACK_COMMANDS))
        method = getattr(self.feedback, CALLBACK_COMMANDS[command][0])
        return json_response(200, method(self._p(request), callback_id, self._body(request)))

    @operation("What the resident sees behind the link (the link is the credential, until it expires)",
               response=fb.PublicCallbackSchema, errors=(404, 410), roles=EVERYONE)
    @http("GET", "/api/v1/callback-links/<string:token>")
    @api
    def callback_link(self, request, token):
        return json_response(200, self.feedback.get_callback_link(self._p(request), token))

    @operation("The resident answers (once)", body=fb.ResidentAnswerSchema, errors=(400, 404, 409, 410),
               roles=EVERYONE)
    @http("POST", "/api/v1/callback-links/<string:token>")
    @api
    def answer_callback_link(self, request, token):
        return json_response(200, self.feedback.answer_callback_link(self._p(request), token, self._body(request)))

    # completion reports of social organisations -----------------------------------------------------------------
    @operation("A social organisation reports a milestone or completion", body=fb.ReportSchema, status=201,
               response=fb.ReportViewSchema, errors=(400, 422), roles=("social_org",))
    @http("POST", "/api/v1/reports")
    @api
    def submit_report(self, request):
        report = self.feedback.submit_report(self._p(request), self._body(request))
        return json_response(201, report, {"Location": f"/api/v1/reports/{report['id']}"})

    @operation("Reports (the office all; an organisation its own; a supervision group its villages')",
               query=fb.ReportQuerySchema, response=items(fb.ReportViewSchema), errors=(400,),
               roles=("office", "social_org", "supervision"))
    @http("GET", "/api/v1/reports")
    @api
    def list_reports(self, request):
        args = load(fb.ReportQuerySchema(), query_args(request))
        return json_response(200, {"items": self.feedback.list_reports(self._p(request), args.get("status"))})

    @operation("One report", response=fb.ReportViewSchema, errors=(404,),
               roles=("office", "social_org", "supervision"))
    @http("GET", "/api/v1/reports/<string:report_id>")
    @api
    def get_report(self, request, report_id):
        return json_response(200, self.feedback.get_report(self._p(request), report_id))

    @operation("Verify or reject a report (office, or a supervision group of its village, never its own)",
               body=fb.ReviewSchema, response=fb.ReportViewSchema, errors=(400, 404, 409),
               roles=("office", "supervision"))
    @http("POST", "/api/v1/reports/<string:report_id>/review")
    @api
    def review_report(self, request, report_id):
        return json_response(200, self.feedback.review_report(self._p(request), report_id, self._body(request)))

    # assessment figures (office; a county over its townships) and early warning (office) -----------------------
    @operation("Assessment figures", headers=(TOWNSHIP,), query=fb.AssessmentQuerySchema,
               response=items(fb.FigureRowSchema), errors=(400, 404, 422), roles=("office", "county"))
    @http("GET", "/api/v1/assessment")
    @api
    def assessment(self, request):
        self._known_township(request)
        return json_response(200, {"items": self.feedback.assessment(self._p(request), query_args(request))})

    @operation("Top and bottom by a rate", headers=(TOWNSHIP,), query=fb.AssessmentQuerySchema,
               errors=(400, 404, 422), roles=("office", "county"))
    @http("GET", "/api/v1/assessment/ranking")
    @api
    def assessment_ranking(self, request):
        self._known_township(request)
        return json_response(200, self.feedback.assessment_ranking(self._p(request), query_args(request)))

    @operation("Assessment figures as CSV, for the assessment of cadres", headers=(TOWNSHIP,),
               query=fb.AssessmentQuerySchema, media_type="text/csv", response={"type": "string"},
               errors=(400, 404, 422), roles=("office", "county"))
    @http("GET", "/api/v1/assessment.csv")
    @api
    def assessment_csv(self, request):
        self._known_township(request)
        text = self.feedback.assessment_csv(self._p(request), query_args(request))
        return Response(text, status=200, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=assessment.csv"})

    @operation("Early warnings (office)", response=items(fb.HotspotViewSchema), errors=(404,), roles=("office",))
    @http("GET", "/api/v1/hotspots")
    @api
    def hotspots(self, request):
        self._known_township(request)
        return json_response(200, {"items": self.feedback.list_hotspots(self._p(request))})

    # tokens and the audit trail (the office of the township; identity service) ---------------------------------
    @operation("Issue a token for one actor of the township (the token is in this answer only)",
               body=idn.IssueTokenSchema, status=201, response=idn.IssuedTokenSchema, errors=(400, 404, 409, 422),
               roles=("office",))
    @http("POST", "/api/v1/tokens")
    @api
    def issue_token(self, request):
        issued = self.identity.issue_token(self._p(request), self._body(request))
        return json_response(201, issued, {"Location": f"/api/v1/tokens/{issued['id']}"})

    @operation("The township's tokens (never the tokens themselves)", query=idn.TokenQuerySchema,
               response=idn.TokenListSchema, errors=(400,), roles=("office",))
    @http("GET", "/api/v1/tokens")
    @api
    def list_tokens(self, request):
        return json_response(200, self.identity.list_tokens(self._p(request), query_args(request)))

    @operation("Revoke a token (at once at the identity service; the gateway's cache forgets it within "
               "TOKEN_CACHE_SECONDS)", response=idn.TokenViewSchema, errors=(404,), roles=("office",))
    @http("POST", "/api/v1/tokens/<string:token_id>/revoke")
    @api
    def revoke_token(self, request, token_id):
        return json_response(200, self.identity.revoke_token(self._p(request), token_id))

    @operation("The audit trail of the township: who did what, newest first (never edited)",
               query=idn.AuditQuerySchema, response=idn.AuditPageSchema, errors=(400, 422), roles=("office",))
    @http("GET", "/api/v1/audit")
    @api
    def audit(self, request):
        return json_response(200, self.identity.list_audit(self._p(request), query_args(request)))

    @operation("This document", roles=EVERYONE)
    @http("GET", "/openapi.json")
    @api
    def openapi(self, request):
        """The OpenAPI 3 document, generated from the routes' declarations and the marshmallow schemas."""
        return json_response(200, openapi.document(GatewayService))

    @operation("Prometheus metrics of the gateway and the depth of every queue (this host, or METRICS_TOKEN)",
               media_type="text/plain", response={"type": "string"}, errors=(401,), roles=EVERYONE)
    @http("GET", "/metrics")
    @metrics_guard
    def metrics_text(self, request):
        """Prometheus text: this process's entrypoint latencies and failures, and every queue's depth (read
        from RabbitMQ at scrape time). Each service process serves its own on ``METRICS_PORT_<SERVICE>``."""
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("township_queue_messages", "Messages in a RabbitMQ queue", labels=["queue", "state"])
        try:
            for queue, counts in sorted(self.broker.queue_depths().items()):
                for state, value in counts.items():
                    depth.add_metric([queue, state], value)
        except Exception:  # the broker's API down: the process metrics still answer
            pass

        class Depths:
            def collect(self):
                yield depth

        registry = CollectorRegistry()
        registry.register(Depths())
        body = generate_latest(REGISTRY) + generate_latest(registry)
        return Response(body, status=200, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @operation("The township's messages a service could not use (office)", query=DeadLetterQuerySchema,
               errors=(400,), roles=("office",))
    @http("GET", "/api/v1/dead-letters")
    @api
    def dead_letters(self, request):
        """The township's messages a service could not use, with where and why (office); they stay queued for
        inspection. A letter whose township cannot be read is no office's (decision 58)."""
        args = load(DeadLetterQuerySchema(), query_args(request))
        return json_response(200, self.broker.dead_letters(request.principal.township_id, args["limit"]))

    @undocumented("every other path answers 404")
    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    @api
    def not_found(self, request, path):
        raise NotFound(f"no route {request.method} /{path}", path=f"/{path}")
