"""Fixtures of the records database (store/): each test runs against SQLite and against a real
PostgreSQL server (Debian's package, started once per session on a loopback port, a fresh
database per test). Loaded as a plugin by tests/conftest.py."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack.servers import PostgreSQL
from store.sql import Records, open_records


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgreSQL]:
    # Not under pytest's tmp_path: as root the server runs as the postgres user, who cannot
    # enter root's private temporary directories.
    workdir = Path(tempfile.mkdtemp(prefix="ems-pg-"))
    server = PostgreSQL("postgres", workdir, durable=False).start()
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def fresh_pg_url(server: PostgreSQL) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host="127.0.0.1", port=server.port, user="ems", dbname="postgres",
                         autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://ems@127.0.0.1:{server.port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def records(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Records]:
    """A migrated records database of its own, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'records.db'}"
    else:
        url = fresh_pg_url(request.getfixturevalue("pg_server"))
    r = open_records(url)
    yield r
    r.close()
