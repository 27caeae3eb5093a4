"""The scheduler's lease for high availability (issue 17): a PostgreSQL advisory lock.

Two or more schedulers may run against one records database; only the holder of the
session-level advisory lock ``LEASE_KEY`` judges, the others wait. The lock lives as long as
the holder's database connection: when the holding process dies (even by SIGKILL) the server
ends its session and frees the lock, and another scheduler takes it at its next tick, so the
takeover comes within one ``EMS_ALERTS_INTERVAL_S``. Judging is idempotent (stable alert ids,
the watermark in InfluxDB), so a pass cut short by the leader's death and run again by the
next leader writes each hour and alert episode once. No lock file of our own.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

LEASE_KEY = 0x656D735F6C6561  # "ems_lea": the scheduler's advisory lock


class AdvisoryLease:
    """``held()`` is true while this process holds the lease (trying to take it if not)."""

    def __init__(self, engine: Engine, key: int = LEASE_KEY) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("the scheduler lease needs a PostgreSQL records database")
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None
        self._held = False

    def held(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
            if self._held:
                self._conn.execute(text("SELECT 1"))  # the session, and so the lock, still there
            else:
                got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                         {"k": self.key}).scalar()
                self._conn.commit()
                if got:
                    log.info("scheduler lease taken: this instance judges")
                self._held = bool(got)
        except DBAPIError as exc:
            if self._held:
                log.warning("scheduler lease lost with the records database: %s", exc)
            self._drop()
        return self._held

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.invalidate()
            finally:
                self._conn = None

    def release(self) -> None:
        if self._conn is not None and self._held:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.commit()
            except DBAPIError:
                pass
        self._held = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None
