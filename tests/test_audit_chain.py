"""The access audit trail in the records database (store.audit), on SQLite and on a real
PostgreSQL (the ``records`` fixture): the hash chain verifies, and each kind of tampering is
named at its first broken batch; retention keeps the chain verifiable; the queue refuses rather
than drops; the command line verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from api.keys import KeyStore, Role
from api.services.audit import REFUSED, AuditTrail
from store.audit import GENESIS, AuditEvent, AuditQuery, append, find, prune, verify
from store.records import AuditBatchRow, AuditEventRow
from store.sql import Records

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_761_926_400_000  # 2025-11-01T00:00:00+08:00
DAY_MS = 86_400_000


def read(at_ms: int, key_id: str = "aaaaaaaaaaaa", enterprise: str = "E0001",
         status: int = 200) -> AuditEvent:
    return AuditEvent(at_ms, "read", key_id=key_id, role="inspector", scope="north",
                      client="127.0.0.1", method="GET",
                      route="/api/v1/enterprises/{enterprise_id}/readings",
                      path=f"/api/v1/enterprises/{enterprise}/readings", query="limit=10",
                      enterprise=enterprise, rows=10, status=status)


def chain_of(records: Records, n: int, per: int = 3) -> list[int]:
    return [append(records, [read(T0 + b * DAY_MS + i) for i in range(per)], T0 + b * DAY_MS)
            for b in range(n)]


def test_an_untouched_chain_verifies_and_lists_its_events(records: Records) -> None:
    assert verify(records).ok
    assert verify(records).batches == 0
    assert chain_of(records, 4) == [1, 2, 3, 4]
    v = verify(records)
    assert (v.ok, v.batches, v.events, v.head_seq) == (True, 4, 12, 4)
    with records.session() as s:
        first = s.scalar(select(AuditBatchRow).where(AuditBatchRow.seq == 1))
        assert first is not None
        assert first.prev_hash == GENESIS
    found = find(records, AuditQuery(since_ms=T0 + DAY_MS, until_ms=T0 + 2 * DAY_MS), 100)
    assert [e.event.at_ms for e in found] == [T0 + DAY_MS + 2, T0 + DAY_MS + 1, T0 + DAY_MS]
    assert found[0].event == read(T0 + DAY_MS + 2)  # every field comes back as written


@pytest.mark.parametrize("tamper", ["edit_event", "delete_event", "insert_event",
                                    "delete_batch", "rehash_batch", "delete_first"])
def test_tampering_is_named_at_the_first_broken_batch(records: Records, tamper: str) -> None:
    chain_of(records, 5)
    with records.session() as s:
        if tamper == "edit_event":  # a row count made smaller after the fact
            eid = s.scalar(select(AuditEventRow.id).where(AuditEventRow.batch_seq == 3)
                           .limit(1))
            s.execute(update(AuditEventRow).where(AuditEventRow.id == eid).values(rows=1))
        elif tamper == "delete_event":
            eid = s.scalar(select(AuditEventRow.id).where(AuditEventRow.batch_seq == 3)
                           .limit(1))
            s.execute(delete(AuditEventRow).where(AuditEventRow.id == eid))
        elif tamper == "insert_event":
            s.execute(insert(AuditEventRow), [{"batch_seq": 3, "at_ms": T0, "action": "read"}])
        elif tamper == "delete_batch":
            s.execute(delete(AuditEventRow).where(AuditEventRow.batch_seq == 3))
            s.execute(delete(AuditBatchRow).where(AuditBatchRow.seq == 3))
        elif tamper == "rehash_batch":  # a batch rewritten with a hash of its own
            s.execute(update(AuditBatchRow).where(AuditBatchRow.seq == 3)
                      .values(hash="f" * 64))
        else:
            s.execute(delete(AuditEventRow).where(AuditEventRow.batch_seq == 1))
            s.execute(delete(AuditBatchRow).where(AuditBatchRow.seq == 1))
    v = verify(records)
    expected = {"edit_event": 3, "delete_event": 3, "insert_event": 3, "delete_batch": 4,
                "rehash_batch": 3, "delete_first": 2}[tamper]
    assert (v.ok, v.broken_seq) == (False, expected), v.reason


def test_retention_removes_old_batches_and_the_chain_still_verifies(records: Records) -> None:
    chain_of(records, 6)
    now = T0 + 10 * DAY_MS
    assert prune(records, T0 + 3 * DAY_MS, now) == 3  # batches of days 0, 1 and 2
    v = verify(records)
    assert (v.ok, v.batches, v.events) == (True, 4, 3 * 3 + 1), v.reason
    pruned = find(records, AuditQuery(action="audit.pruned"), 10)
    assert [e.event.detail[:10] for e in pruned if e.event.detail] == ["through=3 "]
    assert prune(records, T0 + 3 * DAY_MS, now) == 0
    # Removing the first batch kept, as if pruned, without the record of it: named.
    with records.session() as s:
        s.execute(delete(AuditEventRow).where(AuditEventRow.batch_seq == 4))
        s.execute(delete(AuditBatchRow).where(AuditBatchRow.seq == 4))
    assert (verify(records).ok, verify(records).broken_seq) == (False, 5)


def test_keys_created_and_revoked_are_in_the_chain_without_the_key(records: Records) -> None:
    keys = KeyStore(records, cache_s=0, wall=lambda: T0 / 1000)
    record, key = keys.create(Role.INSPECTOR, regions=("north",))
    assert keys.revoke(record.key_id)
    found = find(records, AuditQuery(key_id=record.key_id), 10)
    assert [(e.event.action, e.event.role, e.event.scope) for e in found] == [
        ("key.revoked", "inspector", "north"), ("key.created", "inspector", "north")]
    with records.session() as s:
        texts = [str(v) for row in s.execute(select(AuditEventRow)).all() for v in row]
    assert not any(key in t or key.split("_")[-1] in t for t in texts)
    assert verify(records).ok


def test_a_full_queue_refuses_and_counts_then_drains(records: Records) -> None:
    trail = AuditTrail(records, queue_max=2, batch_max=10, flush_s=0.05,
                       clock=lambda: T0 / 1000)
    before = REFUSED._value.get()
    assert trail.admit()
    assert trail.admit()
    assert not trail.admit()  # nothing admitted is ever dropped: the third is refused
    assert REFUSED._value.get() == before + 1
    trail.put(read(T0))
    trail.put(read(T0 + 1))
    trail.start()
    try:
        assert trail.flush(20)
        assert trail.admit()  # room again once written
        trail.release()
    finally:
        trail.stop()
    assert len(find(records, AuditQuery(action="read"), 10)) == 2
    assert verify(records).ok


def test_the_command_verifies_and_names_the_broken_batch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    records = Records(url)
    chain_of(records, 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMS_")}
    env["EMS_RECORDS_URL"] = url

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api", "audit", "verify"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60, check=False)

    ok = run()
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit chain holds: 3 batches, 9 events; head 3 ")
    with records.session() as s:
        s.execute(update(AuditEventRow).where(AuditEventRow.batch_seq == 2)
                  .values(client="10.0.0.9"))
    records.close()
    bad = run()
    assert bad.returncode == 1
    assert bad.stdout.startswith("audit chain broken at batch 2: ")
