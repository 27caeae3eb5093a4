"""API keys, marks, revoked sessions and alert notes in the records database, on SQLite and on a
real PostgreSQL (the ``records`` fixture): what they keep, and what happens when writers race."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from api.keys import KeySpecError, KeyStore, Role
from api.web.revocation import RecordRevocations
from core.registry import Registry, build_registry
from core.settings import CommonSettings
from core.standards import load_standards
from simulators.fleet import build_fleet
from store.marks import MarkConflict, MarkNotFound, MarkStore
from store.registry_loads import load_recorded, loads, service_load
from store.sql import Records
from store.workflow import AlertWorkflows, Note

LIMITS = Path(__file__).resolve().parent.parent / "config" / "limits.toml"
T0 = 1_761_926_400_000  # 2025-11-01T00:00:00+08:00
H = 3_600_000


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry(build_fleet(2, outlets_per=2, seed=1).registry, load_standards(LIMITS))


def at_once(n: int, work: Callable[[int], object]) -> list[object]:
    """Run ``work(i)`` for i < n in threads released together; results (or exceptions)."""
    barrier = threading.Barrier(n)
    out: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait(10)
        try:
            out[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the caller looks at what each got
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_keys_are_created_listed_revoked_and_checked(records: Records) -> None:
    wall = [T0 / 1000]
    keys = KeyStore(records, cache_s=0, wall=lambda: wall[0])
    admin, admin_key = keys.create(Role.ADMIN)
    north, north_key = keys.create(Role.INSPECTOR, regions=("south", "north", "north"))
    assert north.regions == ("north", "south")
    assert keys.authenticate(admin_key) == admin
    assert keys.authenticate(north_key) == north
    assert keys.authenticate(admin_key[:-1] + ("a" if admin_key[-1] != "a" else "b")) is None
    assert keys.authenticate("not a key") is None
    # by creation time, then id (both were made at the same instant)
    assert [k.key_id for k in KeyStore(records).list_keys()] == sorted(
        [admin.key_id, north.key_id])
    with pytest.raises(KeySpecError):
        keys.create(Role.ENTERPRISE)
    wall[0] += 60
    assert keys.revoke(north.key_id)
    wall[0] += 60
    assert keys.revoke(north.key_id)  # again: the first revocation's time stays
    assert keys.get(north.key_id).revoked_ms == T0 + 60_000  # type: ignore[union-attr]
    assert keys.authenticate(north_key) is None
    assert not keys.revoke("0123456789ab")
    assert keys.active(admin.key_id) == admin


def test_a_revocation_reaches_a_caching_replica_within_its_cache_time(records: Records) -> None:
    now = [0.0]
    creator = KeyStore(records, cache_s=0)
    replica = KeyStore(records, cache_s=5, clock=lambda: now[0])
    record, key = creator.create(Role.ENTERPRISE, "E0001")
    assert replica.authenticate(key) == record
    creator.revoke(record.key_id)
    assert replica.authenticate(key) == record  # trusted for cache_s
    now[0] = 5.0
    assert replica.authenticate(key) is None


def test_of_overlapping_marks_declared_at_once_exactly_one_stands(records: Records,
                                                                  registry: Registry) -> None:
    marks = MarkStore(records)
    ent = next(iter(registry.enterprises.values()))
    outlet = next(iter(ent.outlets))

    def declare(i: int) -> object:
        return marks.declare(registry, ent.id, outlet, "maintenance", T0 + i * 60_000,
                             T0 + 4 * H, f"writer {i}", f"enterprise:k{i}", T0)

    got = at_once(4, declare)
    assert sum(isinstance(g, MarkConflict) for g in got) == 3, got
    (kept,) = marks.list(ent.id)
    assert kept.reason in {f"writer {i}" for i in range(4)}
    # Another kind, or the same kind after the period, is no overlap.
    marks.declare(registry, ent.id, outlet, "fault", T0, T0 + H, "x", "enterprise:k", T0)
    marks.declare(registry, ent.id, outlet, "maintenance", T0 + 4 * H, T0 + 5 * H, "y",
                  "enterprise:k", T0)
    assert len(marks.list(ent.id, outlet, T0, T0 + 5 * H)) == 3
    assert marks.list(ent.id, outlet, T0 + 5 * H, T0 + 6 * H) == []


def test_a_mark_withdrawn_at_once_twice_is_withdrawn_once(records: Records,
                                                          registry: Registry) -> None:
    marks = MarkStore(records)
    ent = next(iter(registry.enterprises.values()))
    outlet = next(iter(ent.outlets))
    mark = marks.declare(registry, ent.id, outlet, "shutdown", T0, T0 + H, "stop",
                         "enterprise:k", T0)
    got = at_once(2, lambda i: marks.withdraw(ent.id, mark.id, f"enterprise:k{i}", T0 + i))
    assert sum(isinstance(g, MarkConflict) for g in got) == 1, got
    (stored,) = marks.list(ent.id)
    winner = next(g for g in got if not isinstance(g, Exception))
    assert stored == winner
    assert marks.in_force([(ent.id, outlet)], T0, T0 + H) == {}
    with pytest.raises(MarkNotFound):
        marks.withdraw("E9999", mark.id, "enterprise:k", T0)


def test_notes_of_two_inspectors_at_once_are_both_kept(records: Records) -> None:
    flows = AlertWorkflows(records)
    flows.move("a5", "E0001", "acknowledged", Note(T0, "inspector:k0", "acknowledged", "seen"))

    def write(i: int) -> object:
        if i == 0:
            return flows.explain("a5", "E0001", "pump", Note(T0 + 1, "enterprise:k1",
                                                             "explanation", "pump"))
        return flows.add_note("a5", "E0001", Note(T0 + 1, f"inspector:k{i}", "note", str(i)))

    got = at_once(3, write)
    assert not [g for g in got if isinstance(g, Exception)], got
    final = flows.get("a5")
    assert final is not None
    assert sorted(n.text for n in final.notes) == ["1", "2", "pump", "seen"]
    assert (final.status, final.explanation) == ("acknowledged", "pump")


def test_revoked_sessions_are_kept_once(records: Records) -> None:
    revs = RecordRevocations(records, cache_s=0, wall=lambda: T0 / 1000)
    sid = "A" * 22
    assert not revs.is_revoked(sid)
    revs.revoke(sid, T0 // 1000 + 60)
    revs.revoke(sid, T0 // 1000 + 60)  # a second logout of the same cookie changes nothing
    assert RecordRevocations(records, cache_s=0).is_revoked(sid)
    assert not RecordRevocations(records, cache_s=0).is_revoked("B" * 22)


def test_a_service_records_the_registry_it_loads(records: Records, tmp_path: Path) -> None:
    fleet = build_fleet(2, outlets_per=2, seed=1)
    fleet.write(tmp_path / "registry.toml", tmp_path / "secrets.toml")
    settings = CommonSettings(registry_path=tmp_path / "registry.toml", limits_path=LIMITS,
                              records_url=records.url, clock_offset_s=0.0)
    registry = load_recorded(settings, "ingest", records=records)
    load_recorded(settings, "api")  # opens the records database of the settings itself
    first, second = loads(records)
    assert first.loaded_by.startswith("ingest@")
    assert second.loaded_by.startswith("api@")
    assert (first.source, first.enterprises, first.outlets) == (
        str(tmp_path / "registry.toml"), len(registry.enterprises), 4)
    assert first.sha256 == second.sha256 == hashlib.sha256(
        (tmp_path / "registry.toml").read_bytes()).hexdigest()
    # Two replicas loading the file in one millisecond are both recorded.
    a = service_load(records, tmp_path / "registry.toml", registry, "api", T0)
    b = service_load(records, tmp_path / "registry.toml", registry, "api", T0)
    assert (a.loaded_ms, b.loaded_ms) == (T0, T0 + 1)
