"""The records database (store/) on SQLite and on a real PostgreSQL: migrations agree with the
models, notes written at once are all kept, and of two moves from one state exactly one wins."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.registry import build_registry
from core.standards import load_standards
from simulators.fleet import build_fleet
from store.records import Base
from store.registry_loads import loads, record_load
from store.sql import Records, migrate
from store.workflow import AlertWorkflows, Conflict, Note

LIMITS = Path(__file__).resolve().parent.parent / "config" / "limits.toml"
T0 = 1_761_926_400_000  # 2025-11-01T00:00:00+08:00


def test_migrations_create_exactly_the_models(records: Records) -> None:
    with records.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    assert diff == []
    tables = set(inspect(records.engine).get_table_names())
    assert {"api_key", "alert_workflow", "alert_note", "mark", "registry_load",
            "revoked_session"} <= tables
    migrate(records.engine)  # again: nothing to do, nothing breaks


def test_an_alert_without_a_row_is_open_until_moved(records: Records) -> None:
    flows = AlertWorkflows(records)
    assert flows.get("a1") is None
    moved = flows.move("a1", "E0001", "acknowledged", Note(T0, "inspector:k1", "acknowledged",
                                                           "calling them"))
    assert (moved.status, moved.acknowledged_ms, moved.resolved_ms) == ("acknowledged", T0, None)
    done = flows.move("a1", "E0001", "resolved", Note(T0 + 5, "inspector:k1", "resolved", "ok"))
    assert done.status == "resolved"
    assert [n.action for n in done.notes] == ["acknowledged", "resolved"]
    with pytest.raises(Conflict, match="resolved cannot become acknowledged"):
        flows.move("a1", "E0001", "acknowledged", Note(T0 + 9, "inspector:k1", "x", "again"))
    assert len(flows.get("a1").notes) == 2  # type: ignore[union-attr]


def test_an_explanation_replaces_the_last_but_notes_keep_both(records: Records) -> None:
    flows = AlertWorkflows(records)
    flows.explain("a2", "E0002", "<b>first</b>", Note(T0, "enterprise:k2", "explanation", "1"))
    w = flows.explain("a2", "E0002", "second", Note(T0 + 1, "enterprise:k2", "explanation", "2"))
    assert (w.status, w.explanation, w.explained_ms) == ("open", "second", T0 + 1)
    assert [n.text for n in w.notes] == ["1", "2"]


def test_notes_written_at_once_are_all_kept(records: Records) -> None:
    flows = AlertWorkflows(records)
    writers, per_writer = 4, 10
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                flows.add_note("a3", "E0001", Note(T0 + i, f"inspector:k{w}", "note", f"{w}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    got = flows.get("a3")
    assert got is not None
    assert sorted(n.text for n in got.notes) == sorted(
        f"{w}-{i}" for w in range(writers) for i in range(per_writer))


def test_of_two_moves_from_one_state_exactly_one_wins(records: Records) -> None:
    flows = AlertWorkflows(records)
    flows.add_note("a4", "E0001", Note(T0, "inspector:k0", "note", "seen"))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ack(who: str) -> None:
        barrier.wait(10)
        try:
            flows.move("a4", "E0001", "acknowledged", Note(T0 + 1, who, "acknowledged", who))
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=ack, args=(f"inspector:k{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict", "ok"]
    got = flows.get("a4")
    assert got is not None
    assert [n.action for n in got.notes].count("acknowledged") == 1


def test_each_registry_load_is_recorded_with_its_file_hash(records: Records,
                                                          tmp_path: Path) -> None:
    fleet = build_fleet(3, outlets_per=2, seed=1)
    path = tmp_path / "registry.toml"
    fleet.write(path, tmp_path / "secrets.toml")
    registry = build_registry(fleet.registry, load_standards(LIMITS))
    first = record_load(records, path, registry, "admin:cli", T0)
    path.write_text(path.read_text() + "\n# reviewed\n")
    second = record_load(records, path, registry, "admin:cli", T0 + 1000)
    assert (first.enterprises, first.outlets) == (3, 6)
    assert first.devices == len(registry.devices) > 0
    assert first.sha256 != second.sha256
    assert loads(records) == [first, second]
