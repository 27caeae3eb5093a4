"""The application's lifespan: nothing runs before the server starts; on shutdown what
create_app opened is closed, and readiness means the database answered."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from devstack.servers import free_port
from store.influx import InfluxStore
from tests.api_support import settings_for


def warm_up_running() -> bool:
    return any(t.name == "warm-up" for t in threading.enumerate())


def test_shutdown_closes_the_store_create_app_opened(store: InfluxStore, tmp_path: Path) -> None:
    settings, _ = settings_for(store, tmp_path)
    app = create_app(settings)
    opened: InfluxStore = app.state.ems.store
    assert opened is not store
    with TestClient(app) as client:
        assert client.get("/api/v1/health/ready").status_code == 200
        assert not opened._client.is_closed  # the store's HTTP connection pool
    assert opened._client.is_closed


def test_shutdown_closes_the_records_database_create_app_opened(store: InfluxStore,
                                                               tmp_path: Path) -> None:
    settings, _ = settings_for(store, tmp_path)
    app = create_app(settings.model_copy(update={"records_url":
                                                 f"sqlite:///{tmp_path / 'own.db'}"}))
    pool = app.state.ems.records.engine.pool
    with TestClient(app) as client:
        assert client.get("/api/v1/health/ready").status_code == 200
        assert app.state.ems.records.engine.pool is pool
    assert app.state.ems.records.engine.pool is not pool  # disposed: its connections closed


def test_a_store_passed_in_stays_the_callers(store: InfluxStore, tmp_path: Path) -> None:
    settings, _ = settings_for(store, tmp_path)
    with TestClient(create_app(settings, store=store)) as client:
        assert client.get("/api/v1/health/ready").status_code == 200
    assert not store._client.is_closed
    assert store.ping()


def test_the_warm_up_starts_with_the_server_and_ends_before_shutdown(
        store: InfluxStore, tmp_path: Path) -> None:
    settings, _ = settings_for(store, tmp_path, api_rankings_cache_s=60.0,
                               api_rankings_warm_up=True)
    app = create_app(settings, store=store)
    cache = app.state.ems.rankings_cache
    assert not warm_up_running()
    assert len(cache) == 0
    with TestClient(app):
        pass
    assert not warm_up_running()
    assert len(cache) == 1  # the default rankings, computed by the warm-up


def test_not_ready_while_the_database_does_not_answer(store: InfluxStore,
                                                      tmp_path: Path) -> None:
    settings, _ = settings_for(store, tmp_path)
    dead = InfluxStore(f"http://127.0.0.1:{free_port()}", "nowhere", timeout_s=1)
    with TestClient(create_app(settings, store=dead)) as client:
        ready = client.get("/api/v1/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert (body["live"], body["ready"]) == (True, False)
        assert body["checks"]["influxdb"]["ok"] is False
        assert client.get("/api/v1/health").json()["ready"] is False
        assert client.get("/api/v1/health/live").json() == {"live": True}
