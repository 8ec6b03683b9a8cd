"""The HTTP API (``/api/v1``) and ``/health``. Routes validate, call a service by RPC, and answer JSON."""
from __future__ import annotations

import time
import uuid

from nameko.dependency_providers import Config

from werkzeug.wrappers import Response

from township_shared.errors import Forbidden, NotFound, ValidationFailed
from township_shared.schemas.demands import DemandSubmissionSchema
from township_shared.schemas.dispatch import TASK_COMMANDS_BY_PATH
from township_shared.observability import Metrics
from township_shared.service import load

from . import openapi
from .dependencies import Broker, HealthProbe, RpcProxy
from .http import (actor_of, api, http, json_response, office_of, query_args, read_json, read_json_or_empty,
                   reviewer_of, township_of)

IDEMPOTENCY_HEADER = "Idempotency-Key"
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

    @http("GET", "/health")
    @api
    def health(self, request):
        checks = self.health_probe.check()
        ok = all(c["ok"] for c in checks.values())
        return json_response(200 if ok else 503, {"status": "ok" if ok else "degraded", **checks})

    @http("POST", "/api/v1/demands")
    @api
    def submit_demand(self, request):
        township = self._township(request)
        body = read_json(request, int(self.config.get("MAX_BODY_BYTES", 65536)))
        client_key = request.headers.get(IDEMPOTENCY_HEADER)
        if client_key is not None and not (0 < len(client_key) <= MAX_IDEMPOTENCY_KEY):
            raise ValidationFailed({IDEMPOTENCY_HEADER: [f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters"]})
        submission = DemandSubmissionSchema().dump(load(DemandSubmissionSchema(), body))
        # Without a client key the gateway still gives the request one, so an RPC message redelivered after
        # intake crashed mid-request replays instead of storing the demand twice.
        key = f"client:{client_key}" if client_key else f"request:{uuid.uuid4().hex}"
        result = self.intake.submit_demand(township, submission, key)
        case = result["case"]
        headers = {"Location": f"/api/v1/demands/{case['id']}"}
        if result["replayed"] and client_key:
            headers["Idempotent-Replayed"] = "true"
        return json_response(201, case, headers)

    @http("GET", "/api/v1/demands")
    @api
    def list_demands(self, request):
        return json_response(200, self.intake.list_demands(self._township(request), query_args(request)))

    @http("GET", "/api/v1/demands/<string:case_id>")
    @api
    def get_demand(self, request, case_id):
        return json_response(200, self.intake.get_demand(self._township(request), case_id))

    @http("GET", "/api/v1/villages")
    @api
    def list_villages(self, request):
        return json_response(200, {"items": self.intake.list_villages(self._township(request))})

    @http("GET", "/api/v1/categories")
    @api
    def list_categories(self, request):
        return json_response(200, {"items": self.intake.list_categories(self._township(request))})

    def _body(self, request):
        return read_json_or_empty(request, int(self.config.get("MAX_BODY_BYTES", 65536)))

    # tasks: each actor sees and acts on its own -----------------------------------------------------------------
    @http("GET", "/api/v1/tasks")
    @api
    def list_tasks(self, request):
        items = self.dispatch.list_tasks(self._township(request), actor_of(request), query_args(request))
        return json_response(200, {"items": items})

    @http("POST", "/api/v1/tasks/<string:task_id>/<string:command>")
    @api
    def act_on_task(self, request, task_id, command):
        spec = TASK_COMMANDS_BY_PATH.get(command)
        if spec is None:
            raise NotFound("no such task command", allowed=sorted(TASK_COMMANDS_BY_PATH))
        actor = office_of(request) if spec.office else actor_of(request)
        task = self.dispatch.act_on_task(self._township(request), actor, task_id, spec.name, self._body(request))
        return json_response(200, task)

    # cases: the office routes, closes and whistles; actors see the cases they work on ------------------------
    @http("GET", "/api/v1/cases/<string:case_id>")
    @api
    def get_case(self, request, case_id):
        return json_response(200, self.dispatch.get_case(self._township(request), actor_of(request), case_id))

    @http("GET", "/api/v1/triage")
    @api
    def list_triage(self, request):
        office_of(request)
        return json_response(200, {"items": self.dispatch.list_triage(self._township(request))})

    @http("POST", "/api/v1/cases/<string:case_id>/<string:command>")
    @api
    def case_command(self, request, case_id, command):
        township = self._township(request)
        if command == "whistle-report":
            return json_response(200, self.dispatch.report_to_whistle(township, case_id, actor_of(request)))
        if command not in ("route", "close", "whistle"):
            raise NotFound("no such case command", allowed=["close", "route", "whistle", "whistle-report"])
        office_of(request)
        body = self._body(request)
        method = {"route": self.dispatch.route_case, "close": self.dispatch.close_case,
                  "whistle": self.dispatch.whistle_case}[command]
        return json_response(200, method(township, case_id, body))

    # actors registry ---------------------------------------------------------------------------------------------
    @http("GET", "/api/v1/actors")
    @api
    def list_actors(self, request):
        return json_response(200, {"items": self.dispatch.list_actors(self._township(request), query_args(request))})

    @http("POST", "/api/v1/actors")
    @api
    def create_actor(self, request):
        office_of(request)
        actor = self.dispatch.create_actor(self._township(request), self._body(request))
        return json_response(201, actor, {"Location": f"/api/v1/actors/{actor['kind']}/{actor['id']}"})

    @http("GET", "/api/v1/actors/<string:kind>/<string:actor_id>")
    @api
    def get_actor(self, request, kind, actor_id):
        return json_response(200, self.dispatch.get_actor(self._township(request), kind, actor_id))

    @http("PATCH", "/api/v1/actors/<string:kind>/<string:actor_id>")
    @api
    def update_actor(self, request, kind, actor_id):
        office_of(request)
        changes = self._body(request)
        return json_response(200, self.dispatch.update_actor(self._township(request), kind, actor_id, changes))

    @http("POST", "/api/v1/actors/<string:kind>/<string:actor_id>/deactivate")
    @api
    def deactivate_actor(self, request, kind, actor_id):
        office_of(request)
        return json_response(200, self.dispatch.update_actor(self._township(request), kind, actor_id,
                                                             {"active": False}))

    # callbacks (回访): the office phones; residents answer through a one-time link ---------------------------
    @http("GET", "/api/v1/callbacks")
    @api
    def list_callbacks(self, request):
        office_of(request)
        return json_response(200, {"items": self.feedback.list_callbacks(self._township(request),
                                                                         query_args(request))})

    @http("POST", "/api/v1/callbacks/<string:callback_id>/<string:command>")
    @api
    def callback_command(self, request, callback_id, command):
        office_of(request)
        method = {"attempt": self.feedback.record_callback_attempt, "answer": self.feedback.record_callback_answer,
                  "classify": self.feedback.classify_callback}.get(command)
        if method is None:
            raise NotFound("no such callback command", allowed=["answer", "attempt", "classify"])
        return json_response(200, method(self._township(request), callback_id, self._body(request)))

    @http("GET", "/api/v1/callback-links/<string:token>")
    @api
    def callback_link(self, request, token):
        return json_response(200, self.feedback.get_callback_link(token))

    @http("POST", "/api/v1/callback-links/<string:token>")
    @api
    def answer_callback_link(self, request, token):
        return json_response(200, self.feedback.answer_callback_link(token, self._body(request)))

    # completion reports of social organisations -----------------------------------------------------------------
    @http("POST", "/api/v1/reports")
    @api
    def submit_report(self, request):
        actor = actor_of(request)
        if not actor.startswith("social_org:"):
            raise Forbidden("only a social organisation reports on its projects", actor=actor)
        report = self.feedback.submit_report(self._township(request), actor, self._body(request))
        return json_response(201, report, {"Location": f"/api/v1/reports/{report['id']}"})

    @http("GET", "/api/v1/reports")
    @api
    def list_reports(self, request):
        args = query_args(request)
        return json_response(200, {"items": self.feedback.list_reports(self._township(request), actor_of(request),
                                                                       args.get("status"))})

    @http("GET", "/api/v1/reports/<string:report_id>")
    @api
    def get_report(self, request, report_id):
        return json_response(200, self.feedback.get_report(self._township(request), report_id, actor_of(request)))

    @http("POST", "/api/v1/reports/<string:report_id>/review")
    @api
    def review_report(self, request, report_id):
        by = reviewer_of(request)
        return json_response(200, self.feedback.review_report(self._township(request), report_id,
                                                              self._body(request), by))

    # assessment figures and early warning (office) ------------------------------------------------------------
    @http("GET", "/api/v1/assessment")
    @api
    def assessment(self, request):
        office_of(request)
        return json_response(200, {"items": self.feedback.assessment(self._known_township(request), query_args(request))})

    @http("GET", "/api/v1/assessment/ranking")
    @api
    def assessment_ranking(self, request):
        office_of(request)
        return json_response(200, self.feedback.assessment_ranking(self._known_township(request), query_args(request)))

    @http("GET", "/api/v1/assessment.csv")
    @api
    def assessment_csv(self, request):
        office_of(request)
        text = self.feedback.assessment_csv(self._known_township(request), query_args(request))
        return Response(text, status=200, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=assessment.csv"})

    @http("GET", "/api/v1/hotspots")
    @api
    def hotspots(self, request):
        office_of(request)
        return json_response(200, {"items": self.feedback.list_hotspots(self._known_township(request))})

    @http("GET", "/openapi.json")
    @api
    def openapi(self, request):
        """The OpenAPI 3 document, generated from the marshmallow schemas."""
        return json_response(200, openapi.document())

    @http("GET", "/metrics")
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

    @http("GET", "/api/v1/dead-letters")
    @api
    def dead_letters(self, request):
        """Messages a service could not use, with where and why (office); they stay queued for inspection."""
        office_of(request)
        args = query_args(request)
        try:
            limit = max(1, min(int(args.get("limit", 50)), 500))
        except ValueError:
            raise ValidationFailed({"limit": ["must be a number from 1 to 500"]}) from None
        return json_response(200, self.broker.dead_letters(limit))

    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    @api
    def not_found(self, request, path):
        raise NotFound(f"no route {request.method} /{path}", path=f"/{path}")
