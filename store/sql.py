"""The relational database: an engine for a URL, its migrations and sessions.

``open_records(url)`` returns a ``Records`` handle whose database is migrated to the newest
schema (Alembic, ``store/migrations``). SQLite gets write-ahead logging, foreign keys and a busy
timeout so that threads of one process and several processes on one machine can share the file;
PostgreSQL is used as it is. Errors are SQLAlchemy's own (``sqlalchemy.exc``).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK = 0x656D735F6D6967  # "ems_mig": the advisory lock of migrations (PostgreSQL)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's directory is created when missing."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (idempotent; each step runs in its transaction).

    Services that start together migrate one after the other: PostgreSQL through an advisory
    lock held for the migration, a SQLite file through a lock file beside it.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:n)"), {"n": MIGRATION_LOCK})
            try:
                command.upgrade(alembic_config(engine), revision)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": MIGRATION_LOCK})
        return
    path = engine.url.database
    if not path or path == ":memory:":
        command.upgrade(alembic_config(engine), revision)
        return
    with Path(f"{path}.migrate-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Records:
    """The migrated database of one URL: sessions for the repositories."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or rolled back on an exception."""
        with self._sessions.begin() as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()


def write_lock(s: Session, key: str) -> None:
    """Serialise the transactions of ``s`` that take the lock of ``key`` until they end, so a
    check-then-insert holds (PostgreSQL: an advisory lock of the transaction; SQLite: the
    database's write lock, taken by a write that changes nothing)."""
    if s.get_bind().dialect.name == "postgresql":
        n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        s.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": n})
    else:
        s.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


def open_records(url: str) -> Records:
    log.info("records database %s", url.split("@")[-1])
    return Records(url)
