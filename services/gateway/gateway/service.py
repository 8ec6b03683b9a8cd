"""The HTTP API (``/api/v1``) and ``/health``. Routes validate, call a service by RPC, and answer JSON."""
from __future__ import annotations

import uuid

from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from nameko.web.handlers import http

from township_shared.errors import NotFound, ValidationFailed
from township_shared.schemas.demands import DemandSubmissionSchema

from .dependencies import HealthProbe
from .http import api, json_response, load, query_args, read_json, township_of

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


class GatewayService:
    name = "gateway"

    config = Config()
    intake = RpcProxy("intake")
    health_probe = HealthProbe()

    def _township(self, request):
        return township_of(request, self.config.get("DEFAULT_TOWNSHIP_ID", "qingshui"))

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

    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    @api
    def not_found(self, request, path):
        raise NotFound(f"no route {request.method} /{path}", path=f"/{path}")
