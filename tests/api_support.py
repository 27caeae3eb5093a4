"""Fixtures of the API tests: the app served by uvicorn in a thread over a real InfluxDB and a
records database (SQLite in the test's directory), a fleet and keys.

Loaded as a plugin by tests/conftest.py: a test asks for ``api`` by name; it imports only
``running_api`` and the constants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.keys import Role
from api.main import create_app
from api.server import ThreadedServer
from api.settings import ApiSettings
from core.registry import Registry, build_registry
from core.standards import load_standards
from devstack.servers import free_port
from simulators.fleet import Fleet, build_fleet
from store.influx import InfluxStore
from store.results import ResultStore
from store.sql import Records, open_records
from store.workflow import AlertWorkflows

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ROOT / "config" / "limits.toml"
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# 2025-11-01T00:00:00+08:00, the start of a local day and month in Asia/Shanghai.
NOV1_MS = 1_761_926_400_000
# The application's "now" in these tests: never the wall clock. 2025-12-01T10:00:00+08:00, a
# month after the seeded data, so default periods (the last day, the last 30 days) are fixed.
NOW_S = (NOV1_MS + 30 * DAY_MS + 10 * HOUR_MS) / 1000


@dataclass
class Api:
    """The app, served on loopback, over one fresh database, with a key per kind of caller."""

    client: httpx.Client
    store: InfluxStore
    settings: ApiSettings
    registry: Registry
    records: Records
    keys: dict[str, str] = field(default_factory=dict)  # name -> key
    key_ids: dict[str, str] = field(default_factory=dict)
    state: Any = None  # the app's AppState, for tests that look inside (caches)

    def get(self, path: str, who: str | None, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.get(f"/api/v1{path}", params=params,
                               headers={**self.auth(who), **(headers or {})})

    def post(self, path: str, who: str | None, json: Any = None) -> httpx.Response:
        return self.client.post(f"/api/v1{path}", json=json, headers=self.auth(who))

    def results(self) -> ResultStore:
        """The results, alerts joined with their workflow, as the app reads them."""
        return ResultStore(self.store, AlertWorkflows(self.records))

    def auth(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"} if who else {}


def settings_for(store: InfluxStore, tmp_path: Path, **extra: object
                 ) -> tuple[ApiSettings, Fleet]:
    fleet = build_fleet(8, outlets_per=2, seed=3)
    fleet.write(tmp_path / "registry.toml", tmp_path / "secrets.toml")
    values: dict[str, object] = {
        "influx_url": store.url, "influx_database": store.database,
        "registry_path": tmp_path / "registry.toml", "limits_path": LIMITS,
        "mqtt_port": free_port(),  # nothing listens: the broker is down unless a test says so
        "api_key_cache_s": 0.2, "api_rankings_cache_s": 0.0, "api_public_prepare": False,
        "records_url": f"sqlite:///{tmp_path / 'records.db'}", **extra}
    return ApiSettings(**values), fleet  # type: ignore[arg-type]


# Fleet of 8 (seed 3): E0001..E0008; regions cycle north, south, east, west; industries cycle
# coal_power, boiler, incinerator, wastewater.
KEY_SPECS: dict[str, tuple[Role, str | None, tuple[str, ...]]] = {
    "admin": (Role.ADMIN, None, ()),
    "inspector": (Role.INSPECTOR, None, ()),
    "north": (Role.INSPECTOR, None, ("north",)),  # E0001, E0005
    "e1": (Role.ENTERPRISE, "E0001", ()),
    "e2": (Role.ENTERPRISE, "E0002", ()),
}


@contextmanager
def running_api(store: InfluxStore, tmp_path: Path, now_s: float = NOW_S,
                records: Records | None = None, clock: Callable[[], float] | None = None,
                **extra: object) -> Iterator[Api]:
    """The app served on a loopback port, its clock stopped at ``now_s`` (or ``clock``), with
    a key per entry of KEY_SPECS; ``records`` defaults to a SQLite file in ``tmp_path``."""
    settings, fleet = settings_for(store, tmp_path, **extra)
    registry = build_registry(fleet.registry, load_standards(LIMITS))
    own = records is None
    db = records_in(tmp_path) if records is None else records
    app = create_app(settings, store=store, registry=registry, clock=clock or (lambda: now_s),
                     records=db)
    server = ThreadedServer(app, free_port()).start()
    a = Api(httpx.Client(base_url=server.url, timeout=30), store, settings, registry, db,
            state=app.state.ems)
    try:
        for name, (role, ent, regions) in KEY_SPECS.items():
            record, key = app.state.ems.keys.create(role, ent, regions)
            a.keys[name], a.key_ids[name] = key, record.key_id
        yield a
    finally:
        a.client.close()
        server.stop()
        if own:
            db.close()


def records_in(tmp_path: Path) -> Records:
    return open_records(f"sqlite:///{tmp_path / 'records.db'}")


@pytest.fixture
def api(store: InfluxStore, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path) as a:
        yield a
