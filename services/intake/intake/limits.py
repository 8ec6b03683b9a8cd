"""Limits on public demand submission, as plain rules: who is counted, how many, over which window (decision 55).

A demand is counted twice, under its client (the address the gateway saw, IPv6 grouped by /64) and under its
reporter's phone (E.164), each in a sliding window: at most ``count`` demands stored in any ``window``. Only
stored demands count: a request refused as invalid, over a limit, or replayed for its ``Idempotency-Key`` takes
no slot. Counters are kept in MongoDB (:meth:`intake.repository.DemandRepository.take_slot`), so every gateway
and intake instance counts the same demands.

The defaults suit a township hotline: a resident reports a few problems a day, and one address may be a village
committee typing in a meeting's list, or a whole village's phones behind the carrier's shared address; a staff
desk entering every call is exempted by network (``RATE_LIMIT_EXEMPT``) until API tokens exempt it by role.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

DEFAULTS = {"address": (60, 60), "phone": (10, 24 * 60)}  # kind -> (demands, window in minutes)
CONFIG_KEYS = {"address": ("RATE_LIMIT_PER_ADDRESS", "RATE_LIMIT_ADDRESS_WINDOW_MINUTES"),
               "phone": ("RATE_LIMIT_PER_PHONE", "RATE_LIMIT_PHONE_WINDOW_MINUTES")}
MESSAGES = {"address": "too many demands from this address", "phone": "too many demands from this phone number"}


@dataclass(frozen=True)
class Limit:
    """At most ``count`` stored demands per key of ``kind`` within any ``window``; ``count`` 0 is no limit."""

    kind: str
    count: int
    window: timedelta

    @property
    def active(self) -> bool:
        return self.count > 0 and self.window > timedelta(0)


def from_config(config: Mapping[str, Any]) -> tuple[Limit, ...]:
    """The limits set in ``config`` (see :data:`CONFIG_KEYS`), the defaults where it says nothing."""
    limits = []
    for kind, (count_key, window_key) in CONFIG_KEYS.items():
        count, minutes = DEFAULTS[kind]
        limits.append(Limit(kind, int(config.get(count_key, count)),
                            timedelta(minutes=float(config.get(window_key, minutes)))))
    return tuple(limits)


def counter_id(township_id: str, kind: str, value: str) -> str:
    """The counter of one client or phone in one township: hashed, so the counters hold no address or number."""
    digest = hashlib.sha256(f"{kind}:{value}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{township_id}:{kind}:{digest}"


def retry_after(oldest: datetime, window: timedelta, now: datetime) -> int:
    """Whole seconds until the oldest counted demand leaves the window and a slot frees up (at least 1)."""
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def describe(window: timedelta) -> str:
    """``1 hour``, ``24 hours``, ``90 minutes``: a window as a message says it."""
    minutes = window.total_seconds() / 60
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes:g} minutes"
