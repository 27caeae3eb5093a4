"""The scheduler's lease (alerts/lease.py) on a real PostgreSQL: one holder, and a SIGKILLed
holder's lease passes to the next instance at its next tick."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from alerts.lease import AdvisoryLease
from devstack.servers import PostgreSQL
from store.sql import make_engine
from tests.conftest import wait_until
from tests.records_support import fresh_pg_url

HOLDER = """
import sys, time
from alerts.lease import AdvisoryLease
from store.sql import make_engine
lease = AdvisoryLease(make_engine(sys.argv[1]))
assert lease.held()
print("held", flush=True)
time.sleep(600)
"""


def test_one_holder_at_a_time_and_release_hands_over(pg_server: PostgreSQL) -> None:
    url = fresh_pg_url(pg_server)
    a, b = AdvisoryLease(make_engine(url)), AdvisoryLease(make_engine(url))
    try:
        assert a.held()
        assert not b.held()
        assert a.held()  # still held on the next tick
        a.release()
        assert b.held()
        assert not a.held()
    finally:
        for lease in (a, b):
            lease.release()
            lease.engine.dispose()


def test_a_killed_holder_is_replaced_at_the_next_tick(pg_server: PostgreSQL) -> None:
    url = fresh_pg_url(pg_server)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        standby = AdvisoryLease(make_engine(url))
        assert not standby.held()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        # the server ends the dead session and its lock with it; each call is one tick
        wait_until(standby.held, timeout_s=10, interval_s=0.2, what="the lease taken over")
        standby.release()
        standby.engine.dispose()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_sqlite_records_have_no_lease() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        AdvisoryLease(make_engine("sqlite:///:memory:"))
