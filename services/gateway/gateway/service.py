"""The HTTP API (``/api/v1``) and ``/health``. Routes validate, call a service by RPC, and answer JSON."""
from __future__ import annotations

import time
import uuid

from nameko.dependency_providers import Config
from nameko.exceptions import RemoteError

from werkzeug.wrappers import Response

from township_shared.errors import Forbidden, NotFound, ValidationFailed
from township_shared.schemas import demands as d
from township_shared.schemas import dispatch as dp
from township_shared.schemas import feedback as fb
from township_shared.schemas import reference as ref
from township_shared.observability import Metrics
from township_shared.service import load

from . import openapi
from .openapi import (ACTOR, IDEMPOTENCY, OFFICE, TOWNSHIP, Operation, items, operation, operations, query,
                      undocumented)
from .dependencies import Broker, HealthProbe, RpcProxy
from .security import client_of, metrics_guard
from .http import (actor_of, api, http, json_response, office_of, query_args, read_json, read_json_or_empty,
                   reviewer_of, township_of)

IDEMPOTENCY_HEADER = "Idempotency-Key"
# the office's commands on a case and on a callback: URL segment -> (RPC method, body schema, summary)
CASE_COMMANDS = {"route": ("route_case", dp.RouteCommandSchema, "Route or re-route a case by hand"),
                 "close": ("close_case", dp.CloseCommandSchema, "Close a case"),
                 "whistle": ("whistle_case", dp.WhistleCommandSchema, "Summon units (吹哨)")}
CALLBACK_COMMANDS = {"attempt": ("record_callback_attempt", fb.CallbackAttemptSchema, "A failed callback attempt"),
                     "answer": ("record_callback_answer", fb.OfficeAnswerSchema, "The resident's answer by phone"),
                     "classify": ("classify_callback", fb.ClassifySchema, "Classify why a case is unresolved")}
MAX_IDEMPOTENCY_KEY = 255
KNOWN_TOWNSHIPS: dict[str, float] = {}


class GatewayService:
    name = "gateway"

    config = Config()
    metrics = Metrics()
    intake = RpcProxy("intake")
    dispatch = RpcProxy("dispatch")
    feedback = RpcProxy("feedback")
    health_probe = HealthProbe()
    broker = Broker()

    def _township(self, request):
        return township_of(request, self.config.get("DEFAULT_TOWNSHIP_ID", "qingshui"))

    def _known_township(self, request):
        """The request's township, 404 if intake does not know it (for routes whose service would answer an
        unknown township with empty results). Known townships are remembered for 30 s."""
        township = self._township(request)
        now = time.monotonic()
        if KNOWN_TOWNSHIPS.get(township, 0) < now:
            self.intake.list_villages(township)
            KNOWN_TOWNSHIPS[township] = now + 30
        return township

    @operation("State of RabbitMQ and MongoDB", errors=(503,))
    @http("GET", "/health")
    @api
    def health(self, request):
        checks = self.health_probe.check()
        ok = all(c["ok"] for c in checks.values())
        return json_response(200 if ok else 503, {"status": "ok" if ok else "degraded", **checks})

    @operation("Submit a resident's demand", headers=(TOWNSHIP, IDEMPOTENCY), body=d.DemandSubmissionSchema,
               status=201, response=d.DemandAcceptedSchema, errors=(400, 404, 409, 413, 415, 429))
    @http("POST", "/api/v1/demands")
    @api
    def submit_demand(self, request):
        township = self._township(request)
        body = read_json(request, int(self.config.get("MAX_BODY_BYTES", 65536)))
        client_key = request.headers.get(IDEMPOTENCY_HEADER)
        if client_key is not None and not (0 < len(client_key) <= MAX_IDEMPOTENCY_KEY):
            raise ValidationFailed({IDEMPOTENCY_HEADER: [f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters"]})
        submission = d.DemandSubmissionSchema().dump(load(d.DemandSubmissionSchema(), body))
        # Without a client key the gateway still gives the request one, so an RPC message redelivered after
        # intake crashed mid-request replays instead of storing the demand twice.
        key = f"client:{client_key}" if client_key else f"request:{uuid.uuid4().hex}"
        result = self.intake.submit_demand(township, submission, key, client=client_of(request, self.config))
        case = result["case"]
        headers = {"Location": f"/api/v1/demands/{case['id']}"}
        if result["replayed"] and client_key:
            headers["Idempotent-Replayed"] = "true"
        return json_response(201, case, headers)

    @operation("List demands, newest first", headers=(TOWNSHIP,), query=d.DemandQuerySchema,
               response=d.DemandPageSchema, errors=(400, 404))
    @http("GET", "/api/v1/demands")
    @api
    def list_demands(self, request):
        return json_response(200, self.intake.list_demands(self._township(request), query_args(request)))

    @operation("One demand", headers=(TOWNSHIP,), response=d.DemandSchema, errors=(404,))
    @http("GET", "/api/v1/demands/<string:case_id>")
    @api
    def get_demand(self, request, case_id):
        return json_response(200, self.intake.get_demand(self._township(request), case_id))

    @operation("The public timeline of a case (no staff names, no phones)", headers=(TOWNSHIP,),
               response=dp.TimelineSchema, errors=(404,))
    @http("GET", "/api/v1/demands/<string:case_id>/timeline")
    @api
    def get_timeline(self, request, case_id):
        """The public timeline; a demand dispatch has not seen yet is only ``received``."""
        township = self._township(request)
        try:
            return json_response(200, self.dispatch.get_timeline(township, case_id))
        except RemoteError as exc:
            if exc.exc_type != "NotFound":
                raise
        demand = self.intake.get_demand(township, case_id)
        return json_response(200, {
            "case_id": demand["id"], "case_number": demand["case_number"], "status": demand["status"],
            "outcome": demand.get("outcome"), "since": demand.get("status_since") or demand["received_at"],
            "holder": None, "closed_at": None,
            "entries": [{"at": demand["received_at"], "step": "received", "holder": None, "text": None}]})

    @operation("The township's villages", headers=(TOWNSHIP,), response=items(ref.VillageSchema), errors=(404,))
    @http("GET", "/api/v1/villages")
    @api
    def list_villages(self, request):
        return json_response(200, {"items": self.intake.list_villages(self._township(request))})

    @operation("The category catalogue", headers=(TOWNSHIP,), response=items(ref.CategorySchema),
               errors=(404,))
    @http("GET", "/api/v1/categories")
    @api
    def list_categories(self, request):
        return json_response(200, {"items": self.intake.list_categories(self._township(request))})

    def _body(self, request):
        return read_json_or_empty(request, int(self.config.get("MAX_BODY_BYTES", 65536)))

    # tasks: each actor sees and acts on its own -----------------------------------------------------------------
    @operation("The acting unit's or member's own tasks", headers=(TOWNSHIP, ACTOR), query=dp.TaskQuerySchema,
               response=items(dp.TaskViewSchema), errors=(400,))
    @http("GET", "/api/v1/tasks")
    @api
    def list_tasks(self, request):
        tasks = self.dispatch.list_tasks(self._township(request), actor_of(request), query_args(request))
        return json_response(200, {"items": tasks})

    @operations(Operation(c.summary, headers=(TOWNSHIP, OFFICE if c.office else ACTOR), body=c.body,
                          response=dp.TaskViewSchema, errors=(400, 403, 404, 409), fixed={"command": c.path})
                for c in dp.TASK_COMMANDS)
    @http("POST", "/api/v1/tasks/<string:task_id>/<string:command>")
    @api
    def act_on_task(self, request, task_id, command):
        spec = dp.TASK_COMMANDS_BY_PATH.get(command)
        if spec is None:
            raise NotFound("no such task command", allowed=sorted(dp.TASK_COMMANDS_BY_PATH))
        actor = office_of(request) if spec.office else actor_of(request)
        task = self.dispatch.act_on_task(self._township(request), actor, task_id, spec.name, self._body(request))
        return json_response(200, task)

    # cases: the office routes, closes and whistles; actors see the cases they work on ------------------------
    @operation("A case with its tasks and history", headers=(TOWNSHIP, ACTOR), response=dp.DispatchCaseViewSchema,
               errors=(400, 404))
    @http("GET", "/api/v1/cases/<string:case_id>")
    @api
    def get_case(self, request, case_id):
        return json_response(200, self.dispatch.get_case(self._township(request), actor_of(request), case_id))

    @operation("The office's triage queue", headers=(TOWNSHIP, OFFICE), response=items(dp.DispatchCaseViewSchema),
               errors=(400, 403))
    @http("GET", "/api/v1/triage")
    @api
    def list_triage(self, request):
        office_of(request)
        return json_response(200, {"items": self.dispatch.list_triage(self._township(request))})

    @operation("What the office's routings taught the classifier (office; decision 61)", headers=(TOWNSHIP, OFFICE),
               query=dp.RoutingExampleQuerySchema, response=dp.RoutingExamplesViewSchema, errors=(400, 403, 404))
    @http("GET", "/api/v1/routing/examples")
    @api
    def routing_examples(self, request):
        office_of(request)
        return json_response(200, self.dispatch.list_routing_examples(self._township(request), query_args(request)))

    @operations([Operation("Forget what the office's routing of a case taught (office)", headers=(TOWNSHIP, OFFICE),
                           body=dp.ExampleDecisionSchema, response=dp.RoutingExampleViewSchema,
                           errors=(400, 403, 404), fixed={"command": "undo"}),
                 Operation("Learn again from an undone example (office)", headers=(TOWNSHIP, OFFICE),
                           body=dp.ExampleDecisionSchema, response=dp.RoutingExampleViewSchema,
                           errors=(400, 403, 404), fixed={"command": "restore"})])
    @http("POST", "/api/v1/routing/examples/<string:case_id>/<string:command>")
    @api
    def routing_example_command(self, request, case_id, command):
        if command not in ("undo", "restore"):
            raise NotFound("no such example command", allowed=["restore", "undo"])
        office = office_of(request)
        method = self.dispatch.undo_routing_example if command == "undo" else self.dispatch.restore_routing_example
        return json_response(200, method(self._township(request), case_id, self._body(request), office))

    @operations([*(Operation(summary, headers=(TOWNSHIP, OFFICE), body=body, response=dp.DispatchCaseViewSchema,
                            errors=(400, 403, 404, 409), fixed={"command": command})
                  for command, (_, body, summary) in CASE_COMMANDS.items()),
                Operation("A summoned unit reports (报到)", headers=(TOWNSHIP, ACTOR), response=dp.WhistleUnitSchema,
                          errors=(400, 404, 409), fixed={"command": "whistle-report"})])
    @http("POST", "/api/v1/cases/<string:case_id>/<string:command>")
    @api
    def case_command(self, request, case_id, command):
        township = self._township(request)
        if command == "whistle-report":
            return json_response(200, self.dispatch.report_to_whistle(township, case_id, actor_of(request)))
        if command not in CASE_COMMANDS:
            raise NotFound("no such case command", allowed=sorted([*CASE_COMMANDS, "whistle-report"]))
        office_of(request)
        method = getattr(self.dispatch, CASE_COMMANDS[command][0])
        return json_response(200, method(township, case_id, self._body(request)))

    # actors registry ---------------------------------------------------------------------------------------------
    @operation("Units, Party members, volunteers, social organisations", headers=(TOWNSHIP,),
               query=dp.ActorQuerySchema, response=items(dp.ActorViewSchema), errors=(400, 404))
    @http("GET", "/api/v1/actors")
    @api
    def list_actors(self, request):
        return json_response(200, {"items": self.dispatch.list_actors(self._township(request), query_args(request))})

    @operation("Register an actor", headers=(TOWNSHIP, OFFICE), body=dp.ActorSchema, status=201,
               response=dp.ActorViewSchema, errors=(400, 403, 404, 409))
    @http("POST", "/api/v1/actors")
    @api
    def create_actor(self, request):
        office_of(request)
        actor = self.dispatch.create_actor(self._township(request), self._body(request))
        return json_response(201, actor, {"Location": f"/api/v1/actors/{actor['kind']}/{actor['id']}"})

    @operation("One actor", headers=(TOWNSHIP,), response=dp.ActorViewSchema, errors=(404,))
    @http("GET", "/api/v1/actors/<string:kind>/<string:actor_id>")
    @api
    def get_actor(self, request, kind, actor_id):
        return json_response(200, self.dispatch.get_actor(self._township(request), kind, actor_id))

    @operation("Update an actor (the fields given)", headers=(TOWNSHIP, OFFICE), body=dp.ActorUpdateSchema,
               response=dp.ActorViewSchema, errors=(400, 403, 404))
    @http("PATCH", "/api/v1/actors/<string:kind>/<string:actor_id>")
    @api
    def update_actor(self, request, kind, actor_id):
        office_of(request)
        changes = self._body(request)
        return json_response(200, self.dispatch.update_actor(self._township(request), kind, actor_id, changes))

    @operation("Deactivate an actor (never deleted)", headers=(TOWNSHIP, OFFICE), response=dp.ActorViewSchema,
               errors=(403, 404))
    @http("POST", "/api/v1/actors/<string:kind>/<string:actor_id>/deactivate")
    @api
    def deactivate_actor(self, request, kind, actor_id):
        office_of(request)
        return json_response(200, self.dispatch.update_actor(self._township(request), kind, actor_id,
                                                             {"active": False}))

    # callbacks (回访): the office phones; residents answer through a one-time link ---------------------------
    @operation("Callbacks due (office)", headers=(TOWNSHIP, OFFICE), query=fb.CallbackQuerySchema,
               response=items(fb.CallbackViewSchema), errors=(400, 403))
    @http("GET", "/api/v1/callbacks")
    @api
    def list_callbacks(self, request):
        office_of(request)
        return json_response(200, {"items": self.feedback.list_callbacks(self._township(request),
                                                                         query_args(request))})

    @operations(Operation(summary, headers=(TOWNSHIP, OFFICE), body=body, response=fb.CallbackViewSchema,
                          errors=(400, 403, 404, 409), fixed={"command": command})
                for command, (_, body, summary) in CALLBACK_COMMANDS.items())
    @http("POST", "/api/v1/callbacks/<string:callback_id>/<string:command>")
    @api
    def callback_command(self, request, callback_id, command):
        office_of(request)
        if command not in CALLBACK_COMMANDS:
            raise NotFound("no such callback command", allowed=sorted(CALLBACK_COMMANDS))
        method = getattr(self.feedback, CALLBACK_COMMANDS[command][0])
        return json_response(200, method(self._township(request), callback_id, self._body(request)))

    @operation("What the resident sees behind the link", response=fb.PublicCallbackSchema, errors=(404, 410))
    @http("GET", "/api/v1/callback-links/<string:token>")
    @api
    def callback_link(self, request, token):
        return json_response(200, self.feedback.get_callback_link(token))

    @operation("The resident answers (once)", body=fb.ResidentAnswerSchema, errors=(400, 404, 409, 410))
    @http("POST", "/api/v1/callback-links/<string:token>")
    @api
    def answer_callback_link(self, request, token):
        return json_response(200, self.feedback.answer_callback_link(token, self._body(request)))

    # completion reports of social organisations -----------------------------------------------------------------
    @operation("A social organisation reports a milestone or completion", headers=(TOWNSHIP, ACTOR),
               body=fb.ReportSchema, status=201, response=fb.ReportViewSchema, errors=(400, 403))
    @http("POST", "/api/v1/reports")
    @api
    def submit_report(self, request):
        actor = actor_of(request)
        if not actor.startswith("social_org:"):
            raise Forbidden("only a social organisation reports on its projects", actor=actor)
        report = self.feedback.submit_report(self._township(request), actor, self._body(request))
        return json_response(201, report, {"Location": f"/api/v1/reports/{report['id']}"})

    @operation("Reports (an organisation sees its own)", headers=(TOWNSHIP, ACTOR),
               query=[query("status", "only reports in this state", type="string", enum=list(fb.REPORT_STATUSES))],
               response=items(fb.ReportViewSchema), errors=(400,))
    @http("GET", "/api/v1/reports")
    @api
    def list_reports(self, request):
        args = query_args(request)
        return json_response(200, {"items": self.feedback.list_reports(self._township(request), actor_of(request),
                                                                       args.get("status"))})

    @operation("One report", headers=(TOWNSHIP, ACTOR), response=fb.ReportViewSchema, errors=(400, 404))
    @http("GET", "/api/v1/reports/<string:report_id>")
    @api
    def get_report(self, request, report_id):
        return json_response(200, self.feedback.get_report(self._township(request), report_id, actor_of(request)))

    @operation("Verify or reject a report (office or supervision group)", headers=(TOWNSHIP, ACTOR),
               body=fb.ReviewSchema, response=fb.ReportViewSchema, errors=(400, 403, 404, 409))
    @http("POST", "/api/v1/reports/<string:report_id>/review")
    @api
    def review_report(self, request, report_id):
        by = reviewer_of(request)
        return json_response(200, self.feedback.review_report(self._township(request), report_id,
                                                              self._body(request), by))

    # assessment figures and early warning (office) ------------------------------------------------------------
    @operation("Assessment figures", headers=(TOWNSHIP, OFFICE), query=fb.AssessmentQuerySchema,
               response=items(fb.FigureRowSchema), errors=(400, 403, 404))
    @http("GET", "/api/v1/assessment")
    @api
    def assessment(self, request):
        office_of(request)
        return json_response(200, {"items": self.feedback.assessment(self._known_township(request), query_args(request))})

    @operation("Top and bottom by a rate", headers=(TOWNSHIP, OFFICE), query=fb.AssessmentQuerySchema,
               errors=(400, 403, 404))
    @http("GET", "/api/v1/assessment/ranking")
    @api
    def assessment_ranking(self, request):
        office_of(request)
        return json_response(200, self.feedback.assessment_ranking(self._known_township(request), query_args(request)))

    @operation("Assessment figures as CSV, for the assessment of cadres", headers=(TOWNSHIP, OFFICE),
               query=fb.AssessmentQuerySchema, media_type="text/csv", response={"type": "string"},
               errors=(400, 403, 404))
    @http("GET", "/api/v1/assessment.csv")
    @api
    def assessment_csv(self, request):
        office_of(request)
        text = self.feedback.assessment_csv(self._known_township(request), query_args(request))
        return Response(text, status=200, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=assessment.csv"})

    @operation("Early warnings (office)", headers=(TOWNSHIP, OFFICE), response=items(fb.HotspotViewSchema),
               errors=(400, 403, 404))
    @http("GET", "/api/v1/hotspots")
    @api
    def hotspots(self, request):
        office_of(request)
        return json_response(200, {"items": self.feedback.list_hotspots(self._known_township(request))})

    @operation("This document")
    @http("GET", "/openapi.json")
    @api
    def openapi(self, request):
        """The OpenAPI 3 document, generated from the routes' declarations and the marshmallow schemas."""
        return json_response(200, openapi.document(GatewayService))

    @operation("Prometheus metrics of the gateway and the depth of every queue (this host, or METRICS_TOKEN)",
               media_type="text/plain", response={"type": "string"}, errors=(401,))
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

    @operation("The township's messages a service could not use (office)", headers=(TOWNSHIP, OFFICE),
               query=[query("limit", "at most this many (default 50)", type="integer", minimum=1, maximum=500)],
               errors=(400, 403))
    @http("GET", "/api/v1/dead-letters")
    @api
    def dead_letters(self, request):
        """The township's messages a service could not use, with where and why (office); they stay queued for
        inspection. A letter whose township cannot be read is no office's (decision 58)."""
        office_of(request)
        args = query_args(request)
        try:
            limit = max(1, min(int(args.get("limit", 50)), 500))
        except ValueError:
            raise ValidationFailed({"limit": ["must be a number from 1 to 500"]}) from None
        return json_response(200, self.broker.dead_letters(self._township(request), limit))

    @undocumented("every other path answers 404")
    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    @api
    def not_found(self, request, path):
        raise NotFound(f"no route {request.method} /{path}", path=f"/{path}")
