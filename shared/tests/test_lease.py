"""Leases against the real MongoDB-compatible server: one holder at a time, renewal, expiry, release, and many
instances racing for the same duty from green threads (as many containers of one service would)."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from township_shared.lease import Lease, new_holder

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)
TTL = timedelta(seconds=10)


@pytest.fixture
def lease(mongo_client, db_prefix):
    return Lease(mongo_client[f"{db_prefix}_leases"]["leases"])


def test_the_first_instance_takes_a_free_duty_and_others_are_refused_until_it_expires(lease):
    first = lease.acquire("chase_deadlines", "a", T0, TTL)
    assert first is not None and first.holder == "a" and first.expires_at == T0 + TTL and first.term == 1
    assert lease.acquire("chase_deadlines", "b", T0 + timedelta(seconds=9), TTL) is None
    assert lease.holder("chase_deadlines", T0 + timedelta(seconds=9)) == "a"
    taken = lease.acquire("chase_deadlines", "b", T0 + TTL, TTL)
    assert taken is not None and taken.holder == "b" and taken.term == 2
    assert lease.acquire("chase_deadlines", "a", T0 + TTL + timedelta(seconds=1), TTL) is None


def test_the_holder_renews_its_lease_at_each_round_and_keeps_it(lease):
    for second in range(0, 60, 2):
        held = lease.acquire("fold_figures", "a", T0 + timedelta(seconds=second), TTL)
        assert held is not None and held.term == 1
        assert lease.acquire("fold_figures", "b", T0 + timedelta(seconds=second + 1), TTL) is None
    assert lease.holder("fold_figures", T0 + timedelta(seconds=65)) == "a"
    assert lease.holder("fold_figures", T0 + timedelta(seconds=58) + TTL) is None


def test_a_released_lease_is_taken_at_once_and_only_its_holder_can_release_it(lease):
    lease.acquire("outbox_sweep", "a", T0, TTL)
    assert lease.release("outbox_sweep", "b") is False
    assert lease.acquire("outbox_sweep", "b", T0 + timedelta(seconds=1), TTL) is None
    assert lease.release("outbox_sweep", "a") is True
    assert lease.acquire("outbox_sweep", "b", T0 + timedelta(seconds=1), TTL).holder == "b"


def test_duties_are_leased_separately(lease):
    assert lease.acquire("chase_deadlines", "a", T0, TTL)
    assert lease.acquire("outbox_sweep", "b", T0, TTL)
    assert lease.holder("chase_deadlines", T0) == "a" and lease.holder("outbox_sweep", T0) == "b"


def test_of_many_instances_racing_each_round_exactly_one_wins(lease):
    """Eight instances ask at the same instants, round after round, with leases expiring between rounds: every
    round has exactly one winner (the invariant), never zero, never two."""
    holders = [new_holder() for _ in range(8)]
    assert len(set(holders)) == 8
    for round_ in range(12):
        now = T0 + timedelta(seconds=round_ * 11)   # past the previous round's expiry: the duty is up for grabs
        pool = eventlet.GreenPool(len(holders))
        results = list(pool.imap(lambda h: lease.acquire("chase_deadlines", h, now, TTL), holders))
        winners = [r.holder for r in results if r is not None]
        assert len(winners) == 1, f"round {round_}: {winners}"
        assert lease.holder("chase_deadlines", now) == winners[0]
