"""The funds nameko service: budget pools, service projects, allocations, milestone payments, dividends, the
ledger and budget execution reports (decision 65).

Every RPC that acts for a caller takes the caller's signed principal first (decision 38); the township is the
principal's, never an argument."""
from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer

from township_shared.auth import authorized
from township_shared.clock import utcnow
from township_shared.consumers import DeadLetterPublisher, consumer, event_handler
from township_shared.errors import EXPECTED, Forbidden, NotFound
from township_shared.events import load_event
from township_shared.observability import Metrics
from township_shared.lease import Duties
from township_shared.relay import EventRelay
from township_shared.schemas import funds as s
from township_shared.service import Clock, load, rpc

from . import handlers
from .dependencies import FundsStore, Settings
from .domain import Act
from .repository import OUTBOX_COLLECTIONS

log = logging.getLogger(__name__)
PROJECT_READERS = ("office", "meeting", "social_org", "unit", "supervision", "public")


class FundsService:
    name = "funds"

    repo = FundsStore()
    clock = Clock()
    settings = Settings()
    events = EventRelay(*OUTBOX_COLLECTIONS)
    dead_letters = DeadLetterPublisher()
    config = Config()
    metrics = Metrics()
    duties = Duties()

    def _act(self, principal=None):
        return Act(principal.actor if principal is not None else "service:funds", self.clock.now())

    def _flush(self, doc, collection):
        """Move the document's ledger entries to the ledger, then publish its events."""
        try:
            self.repo.flush(doc, collection)
        except Exception:
            log.warning("moving ledger entries of %s failed; the recovery timer retries", doc and doc.get("_id"),
                        exc_info=True)
        self.events.flush(doc, collection)
        return doc

    def _project(self, project, seen_as="full"):
        schema = s.ProjectViewSchema() if seen_as == "full" else s.ProjectPublicViewSchema()
        view = handlers.project_view(project)
        if seen_as == "full":
            view["threshold_fen"] = project.get("threshold_fen") or self.settings.threshold_fen
        return schema.dump(view)

    def _pool(self, pool):
        held = sum(mark["amount_fen"] for mark in (pool.get("pending") or {}).values())
        return s.PoolViewSchema().dump({**pool, "held_fen": held,
                                        "committed_fen": pool["budget_fen"] - pool["available_fen"] - held})

    # pools -------------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def create_pool(self, principal, body):
        pool = handlers.create_pool(self.repo, self._act(principal), principal.township_id,
                                    load(s.PoolCreateSchema(), body))
        return self._pool(self._flush(pool, "pools"))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "meeting")
    def list_pools(self, principal, query):
        q = load(s.PoolQuerySchema(), query)
        return [self._pool(p) for p in self.repo.list_pools(principal.township_id, q.get("year"), q.get("source"))]

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "meeting")
    def get_pool(self, principal, code):
        return self._pool(handlers.get_pool(self.repo, principal.township_id, code))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def change_budget(self, principal, code, body, key):
        pool = handlers.change_budget(self.repo, self._act(principal), principal.township_id, code,
                                      load(s.BudgetChangeSchema(), body), key)
        return self._pool(self._flush(pool, "pools"))

    # projects ----------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized("social_org", "unit")
    def propose_project(self, principal, body, key):
        project = handlers.propose(self.repo, self._act(principal), principal, load(s.ProjectProposalSchema(), body),
                                   key, self.settings.advance_percent)
        return self._project(self._flush(project, "projects"))

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*PROJECT_READERS)
    def list_projects(self, principal, query):
        items, seen_as = handlers.list_projects(self.repo, principal, load(s.ProjectQuerySchema(), query))
        return [self._project(p, seen_as) for p in items]

    @rpc(expected_exceptions=EXPECTED)
    @authorized(*PROJECT_READERS)
    def get_project(self, principal, project_id):
        project, seen_as = handlers.project_for(self.repo, principal, project_id)
        return self._project(project, seen_as)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("public")
    def project_facts(self, principal, project_id):
        """For a service checking a reference to a project (feedback, before it accepts a report: decision 66),
        with its signed service principal of the township: the project's status, proposer, village and milestone
        names; NotFound when funds has no such project in the township."""
        if not principal.actor.startswith("service:"):
            raise Forbidden("only a service asks for the facts of a project")
        project = self.repo.get_project(principal.township_id, project_id) if isinstance(project_id, str) else None
        if project is None:
            raise NotFound(f"no project {project_id!r}")
        return s.ProjectFactsSchema().dump(project)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def review_project(self, principal, project_id, body):
        project = handlers.review(self.repo, self._act(principal), principal.township_id, project_id,
                                  load(s.ReviewSchema(), body), self.settings.threshold_fen)
        return self._project(self._flush(project, "projects"))

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def allocate(self, principal, project_id, body, key):
        """Reserve money for an approved project from one or several pools (all or none), once per ``key``. A
        pool that cannot hold its part answers 409 with the pool and what it has available."""
        project, result = handlers.allocate(self.repo, self._act(principal), principal.township_id, project_id,
                                            load(s.AllocationSchema(), body), key)
        return {**s.AllocationResultSchema().dump(result), "project": self._project(self._flush(project, "projects"))}

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def close_project(self, principal, project_id, body):
        cmd = load(s.CloseProjectSchema(), body)
        project = handlers.close(self.repo, self._act(principal), principal.township_id, project_id, cmd["reason"])
        return self._project(self._flush(project, "projects"))

    # ledger and reports ------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_ledger(self, principal, query):
        items, cursor = handlers.ledger_page(self.repo, principal.township_id, load(s.LedgerQuerySchema(), query))
        return s.LedgerPageSchema().dump({"items": items, "next_cursor": cursor})

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def reverse_movement(self, principal, entry_id, body):
        """Undo the movement the entry belongs to by reversing entries; the answer lists them."""
        cmd = load(s.ReversalSchema(), body)
        done = handlers.reverse(self.repo, self._act(principal), principal.township_id, entry_id, cmd["reason"])
        if "project" in done:
            self._flush(done["project"], "projects")
        else:
            self._flush(done["pool"], "pools")
        self.repo.flush_township(principal.township_id)
        return s.LedgerPageSchema().dump({"items": self.repo.movement(principal.township_id, f"{done['reversal']}.0"),
                                          "next_cursor": None})

    def _report(self, principal, query):
        q = load(s.ReportQuerySchema(), query)
        rows = handlers.report(self.repo, principal.township_id, q["by"], q.get("year"))
        return q, s.ReportRowSchema(many=True).dump(rows)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "meeting")
    def budget_report(self, principal, query):
        q, rows = self._report(principal, query)
        return {"by": q["by"], "year": q.get("year"), "items": rows}

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office", "meeting")
    def budget_report_csv(self, principal, query):
        _, rows = self._report(principal, query)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(s.ReportRowSchema().fields))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()

    # dividends ---------------------------------------------------------------------------------------------------
    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def distribute_dividends(self, principal, body, key):
        record = handlers.distribute(self.repo, self._act(principal), principal.township_id,
                                     load(s.DividendSchema(), body), key)
        return s.DistributionViewSchema().dump(record)

    @rpc(expected_exceptions=EXPECTED)
    @authorized("office")
    def list_distributions(self, principal, query):
        q = load(s.DistributionQuerySchema(), query)
        return s.DistributionViewSchema(many=True).dump(
            self.repo.list_distributions(principal.township_id, q.get("village"), q["limit"]))

    # events ------------------------------------------------------------------------------------------------------
    @event_handler("feedback", "milestone_verified", requeue_on_error=True)
    @consumer
    def pay_milestone(self, body):
        """A verified milestone report: its share is paid (once, whatever the redeliveries)."""
        project = handlers.milestone_verified(self.repo, load_event(body, "milestone_verified"), self._act())
        self._flush(project, "projects")

    @event_handler("feedback", "project_completed", requeue_on_error=True)
    @consumer
    def pay_completion(self, body):
        """A verified completion report: what is left of the allocation is paid."""
        project = handlers.project_completed(self.repo, load_event(body, "project_completed"), self._act())
        self._flush(project, "projects")

    @event_handler("meetings", "meeting_decision_made", requeue_on_error=True)
    @consumer
    def follow_meeting_decision(self, body):
        """The joint meeting approved (with an amount), rejected or deferred a referred project."""
        project = handlers.meeting_decision(self.repo, load_event(body, "meeting_decision_made"), self._act())
        if project is not None:
            self._flush(project, "projects")

    # recovery ----------------------------------------------------------------------------------------------------
    @timer(interval=2)
    def recover(self):
        """Finish allocations, releases and ledger moves a crash interrupted (``handlers.recover``): in the one
        instance holding the duty's lease (decision 81)."""
        if not self.duties.hold("recover"):
            return
        grace = timedelta(seconds=float(self.config.get("OUTBOX_GRACE_SECONDS", 5)))
        counts = handlers.recover(self.repo, utcnow(), self.settings.recovery_grace, grace)
        if any(counts.values()):
            log.info("funds recovery: %s", counts)
