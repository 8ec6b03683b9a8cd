"""Dependencies of the dispatch service: its repository and its routing policy from config."""
from datetime import timedelta

from nameko.extensions import DependencyProvider

from township_shared.mongo import MongoRepository

from .calendar import WorkCalendar
from .classify import Tuning
from .domain import Policy
from .repository import DispatchRepository


def CaseStore():
    return MongoRepository(DispatchRepository, database="dispatch")


def policy_from_config(config) -> Policy:
    return Policy(
        sign_minutes={"emergency": int(config.get("SIGN_MINUTES_EMERGENCY", 60)),
                      "utilities": int(config.get("SIGN_MINUTES_UTILITIES", 120)),
                      "general": int(config.get("SIGN_MINUTES_GENERAL", 1440))},
        reminder_fraction=float(config.get("REMINDER_FRACTION", 0.25)),
        escalation_grace=timedelta(hours=float(config.get("ESCALATION_GRACE_HOURS", 24))),
        whistle_report=timedelta(minutes=float(config.get("WHISTLE_REPORT_MINUTES", 30))),
        classification=Tuning(threshold=float(config.get("ROUTING_CONFIDENCE_THRESHOLD", Tuning.threshold)),
                              evidence_floor=float(config.get("ROUTING_EVIDENCE_FLOOR", Tuning.evidence_floor)),
                              learned_cap=float(config.get("ROUTING_LEARNED_CAP", Tuning.learned_cap)),
                              margin=float(config.get("ROUTING_MIN_MARGIN", Tuning.margin))),
    )


class Routing(DependencyProvider):
    """The deadline policy (config) and the working-day calendar (package data: holidays, adjusted days)."""

    def setup(self):
        self.policy = policy_from_config(self.container.config)
        self.calendar = WorkCalendar.default()

    def get_dependency(self, worker_ctx):
        return self
