"""The funds routes of the HTTP API: budget pools, service projects, allocations, the ledger, budget execution
reports and village dividends (funds service, decision 65).

A mixin of :class:`gateway.service.GatewayService`, kept in its own module so the gateway's list of routes stays
short (``gateway.service`` refers to it as ``funds_routes.FundsRoutes``: ``nameko run`` would take a class with
entrypoints bound in the module for a service of its own). The routes follow the gateway's: ``@operation(...,
roles=...)`` declarations (the README's role table and ``/openapi.json`` include them:
:func:`gateway.openapi.http_routes` walks the base classes), the ``@api`` wrapper, and the caller's signed
principal first in every call (``self._p(request)``)."""
from __future__ import annotations

import uuid

from werkzeug.wrappers import Response

from township_shared.errors import ValidationFailed
from township_shared.schemas import funds as fs

from .dependencies import RpcProxy
from .http import api, http, json_response, query_args
from .openapi import TOWNSHIP, _header, items, operation

PROJECT_READERS = ("office", "meeting", "social_org", "unit", "supervision", "public")
MAX_KEY = 255
KEY = _header("Idempotency-Key", "a retry with the same key and body is the same allocation, budget change, "
              "proposal or distribution, never a second one", min_length=1, max_length=MAX_KEY)


class FundsRoutes:
    funds = RpcProxy("funds")

    def _key(self, request) -> str:
        """The client's Idempotency-Key, or one for this request: an RPC redelivered after the service crashed
        midway then replays instead of acting twice."""
        client_key = request.headers.get("Idempotency-Key")
        if client_key is None:
            return f"request:{uuid.uuid4().hex}"
        if not 0 < len(client_key) <= MAX_KEY:
            raise ValidationFailed({"Idempotency-Key": [f"must be 1 to {MAX_KEY} characters"]})
        return f"client:{client_key}"

    # pools ----------------------------------------------------------------------------------------------------
    @operation("The township's budget pools with their budget, committed and available money (office, meeting)",
               query=fs.PoolQuerySchema, response=items(fs.PoolViewSchema), errors=(400,),
               roles=("office", "meeting"))
    @http("GET", "/api/v1/pools")
    @api
    def list_pools(self, request):
        return json_response(200, {"items": self.funds.list_pools(self._p(request), query_args(request))})

    @operation("Open a budget pool of a year and source (office)", body=fs.PoolCreateSchema, status=201,
               response=fs.PoolViewSchema, errors=(400, 409, 422), roles=("office",))
    @http("POST", "/api/v1/pools")
    @api
    def create_pool(self, request):
        pool = self.funds.create_pool(self._p(request), self._body(request))
        return json_response(201, pool, {"Location": f"/api/v1/pools/{pool['code']}"})

    @operation("One pool, with its budget changes", response=fs.PoolViewSchema, errors=(404,),
               roles=("office", "meeting"))
    @http("GET", "/api/v1/pools/<string:code>")
    @api
    def get_pool(self, request, code):
        return json_response(200, self.funds.get_pool(self._p(request), code))

    @operation("Raise or cut a pool's budget with the reason (a cut below what is committed: 409)",
               headers=(KEY,), body=fs.BudgetChangeSchema, response=fs.PoolViewSchema, errors=(400, 404, 409),
               roles=("office",))
    @http("POST", "/api/v1/pools/<string:code>/budget")
    @api
    def change_budget(self, request, code):
        return json_response(200, self.funds.change_budget(self._p(request), code, self._body(request),
                                                           self._key(request)))

    # projects -------------------------------------------------------------------------------------------------
    @operation("Service projects (the office and the meeting all; a social organisation or a village committee "
               "its own; a supervision group its villages'; the public every village's, without personal data)",
               headers=(TOWNSHIP,), query=fs.ProjectQuerySchema, response=items(fs.ProjectViewSchema),
               errors=(400, 404), roles=PROJECT_READERS)
    @http("GET", "/api/v1/projects")
    @api
    def list_projects(self, request):
        self._known_township(request)
        return json_response(200, {"items": self.funds.list_projects(self._p(request), query_args(request))})

    @operation("Propose a service project (a social organisation; a village committee for its village)",
               headers=(KEY,), body=fs.ProjectProposalSchema, status=201, response=fs.ProjectViewSchema,
               errors=(400, 403, 422), roles=("social_org", "unit"))
    @http("POST", "/api/v1/projects")
    @api
    def propose_project(self, request):
        project = self.funds.propose_project(self._p(request), self._body(request), self._key(request))
        return json_response(201, project, {"Location": f"/api/v1/projects/{project['id']}"})

    @operation("One project with its money: allocated, paid per pool and per milestone", headers=(TOWNSHIP,),
               response=fs.ProjectViewSchema, errors=(404,), roles=PROJECT_READERS)
    @http("GET", "/api/v1/projects/<string:project_id>")
    @api
    def get_project(self, request, project_id):
        return json_response(200, self.funds.get_project(self._p(request), project_id))

    @operation("Approve (up to the threshold), reject or refer a project to the joint meeting (office)",
               body=fs.ReviewSchema, response=fs.ProjectViewSchema, errors=(400, 404, 409, 422), roles=("office",))
    @http("POST", "/api/v1/projects/<string:project_id>/review")
    @api
    def review_project(self, request, project_id):
        return json_response(200, self.funds.review_project(self._p(request), project_id, self._body(request)))

    @operation("Allocate money to an approved project from one or several pools, all or none; the advance is "
               "paid (409 names the pool and what it has available)", headers=(KEY,), body=fs.AllocationSchema,
               status=201, response=fs.AllocationResultSchema, errors=(400, 404, 409, 422), roles=("office",))
    @http("POST", "/api/v1/projects/<string:project_id>/allocations")
    @api
    def allocate(self, request, project_id):
        result = self.funds.allocate(self._p(request), project_id, self._body(request), self._key(request))
        return json_response(201, result, {"Idempotent-Replayed": "true"} if result["replayed"] else None)

    @operation("Close a project: what was allocated and not paid goes back to its pools (office)",
               body=fs.CloseProjectSchema, response=fs.ProjectViewSchema, errors=(400, 404, 409),
               roles=("office",))
    @http("POST", "/api/v1/projects/<string:project_id>/close")
    @api
    def close_project(self, request, project_id):
        return json_response(200, self.funds.close_project(self._p(request), project_id, self._body(request)))

    # ledger and reports ---------------------------------------------------------------------------------------
    @operation("The ledger: double entries in fen, newest first, never edited (office)",
               query=fs.LedgerQuerySchema, response=fs.LedgerPageSchema, errors=(400, 422), roles=("office",))
    @http("GET", "/api/v1/ledger")
    @api
    def ledger(self, request):
        return json_response(200, self.funds.list_ledger(self._p(request), query_args(request)))

    @operation("Undo the movement an entry belongs to by reversing entries, with the reason (office)",
               body=fs.ReversalSchema, response=fs.LedgerPageSchema, errors=(400, 404, 409), roles=("office",))
    @http("POST", "/api/v1/ledger/<string:entry_id>/reverse")
    @api
    def reverse(self, request, entry_id):
        return json_response(200, self.funds.reverse_movement(self._p(request), entry_id, self._body(request)))

    @operation("Budget execution by pool, source or village: budget, committed, paid, available, recomputed from "
               "the ledger (office, meeting)", query=fs.ReportQuerySchema, response=fs.ReportSchema,
               errors=(400,), roles=("office", "meeting"))
    @http("GET", "/api/v1/budget-report")
    @api
    def budget_report(self, request):
        return json_response(200, self.funds.budget_report(self._p(request), query_args(request)))

    @operation("Budget execution as CSV", query=fs.ReportQuerySchema, media_type="text/csv",
               response={"type": "string"}, errors=(400,), roles=("office", "meeting"))
    @http("GET", "/api/v1/budget-report.csv")
    @api
    def budget_report_csv(self, request):
        text = self.funds.budget_report_csv(self._p(request), query_args(request))
        return Response(text, status=200, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=budget-report.csv"})

    # village collective dividends -----------------------------------------------------------------------------
    @operation("Share a village collective's income among its shareholders by shares (largest remainder), from "
               "the village's own pool (office)", headers=(KEY,), body=fs.DividendSchema, status=201,
               response=fs.DistributionViewSchema, errors=(400, 404, 409, 422), roles=("office",))
    @http("POST", "/api/v1/dividends")
    @api
    def distribute_dividends(self, request):
        return json_response(201, self.funds.distribute_dividends(self._p(request), self._body(request),
                                                                  self._key(request)))

    @operation("Dividend distributions, newest first (office)", query=fs.DistributionQuerySchema,
               response=items(fs.DistributionViewSchema), errors=(400,), roles=("office",))
    @http("GET", "/api/v1/dividends")
    @api
    def list_dividends(self, request):
        return json_response(200, {"items": self.funds.list_distributions(self._p(request), query_args(request))})
