"""``python -m store.migrate_influx``: records that older versions kept in InfluxDB (written here
as they wrote them) arrive in the records database, on SQLite and PostgreSQL; twice is once."""

from __future__ import annotations

import orjson

from api.keys import KeyStore, Role, hash_key
from api.web.revocation import RecordRevocations
from store.influx import InfluxStore
from store.marks import MarkStore
from store.migrate_influx import Copied, migrate
from store.results import Episode, ResultStore, alert_tags, line
from store.sql import Records
from store.workflow import AlertWorkflows, Note

T0 = 1_761_926_400_000  # 2025-11-01T00:00:00+08:00
H = 3_600_000
SID = "S" * 22


def old_points(store: InfluxStore) -> tuple[Episode, Episode, Episode]:
    """What the InfluxDB-only versions wrote: keys, alert workflow fields, marks, sessions."""
    lines = [
        line("api_key", {"key_id": "0123456789ab"}, {
            "role": "inspector", "sha256": hash_key("ems_0123456789ab_" + "x" * 43),
            "enterprise": "", "regions": "north,south", "created_ms": T0}, 0),
        line("api_key", {"key_id": "ba9876543210"}, {
            "role": "enterprise", "sha256": "ab" * 32, "enterprise": "E0001", "regions": "",
            "created_ms": T0 + 1}, 0),
        line("api_key", {"key_id": "ba9876543210"}, {"revoked_ms": T0 + 5}, 0),
        line("mark", {"enterprise": "E0001", "outlet": "G1", "mark_id": "0123456789abcdef"}, {
            "kind": "shutdown", "start_ms": T0, "end_ms": T0 + 4 * H, "reason": "boiler out",
            "declared_by": "enterprise:ba9876543210", "declared_ms": T0 - H}, T0),
        line("mark", {"enterprise": "E0001", "outlet": "G2", "mark_id": "fedcba9876543210"}, {
            "kind": "fault", "start_ms": T0, "end_ms": T0 + H, "reason": "analyser",
            "declared_by": "enterprise:ba9876543210", "declared_ms": T0,
            "withdrawn_ms": T0 + 2 * H, "withdrawn_by": "enterprise:ba9876543210"}, T0),
        line("web_session_revoked", {"session_id": SID}, {"expires_s": T0 // 1000 + 3600}, 0),
    ]
    acked = Episode("exceedance", "E0001", "G1", "so2", T0, True, 2, T0 + 2 * H)
    resolved = Episode("exceedance", "E0002", "G1", "so2", T0 + H, False, 3, T0 + 4 * H,
                       end_ms=T0 + 4 * H)
    untouched = Episode("data_gap", "E0001", "G2", "", T0, True, 1, T0 + H)
    results = ResultStore(store)
    results.upsert_episodes([acked, resolved, untouched])
    notes = [{"at": "2025-11-01T02:00:00Z", "by": "inspector:0123456789ab",
              "action": "acknowledged", "text": 'calling "them"\nnow'},
             {"at": "2025-11-01T03:00:00.500Z", "by": "enterprise:ba9876543210",
              "action": "explanation", "text": "pump"}]
    lines += [
        line("alert", alert_tags(acked), {
            "status": "acknowledged", "notes": orjson.dumps(notes).decode(),
            "acknowledged_ms": T0 + 2 * H, "explanation": "pump", "explained_ms": T0 + 3 * H},
            acked.start_ms),
        line("alert", alert_tags(resolved), {
            "status": "resolved", "notes": orjson.dumps([]).decode(),
            "resolved_ms": T0 + 5 * H, "seen_until_ms": T0 + 3 * H}, resolved.start_ms),
        line("alert", alert_tags(untouched), {"status": "open"}, untouched.start_ms),
    ]
    store.write_lines(lines, precision="ms")
    return acked, resolved, untouched


def test_old_records_arrive_and_a_second_run_changes_nothing(store: InfluxStore,
                                                            records: Records) -> None:
    acked, resolved, untouched = old_points(store)
    assert migrate(store, records) == Copied(keys=2, workflows=2, marks=2, sessions=1)

    keys = KeyStore(records, cache_s=0)
    inspector = keys.authenticate("ems_0123456789ab_" + "x" * 43)
    assert inspector is not None
    assert (inspector.role, inspector.regions, inspector.created_ms) == (
        Role.INSPECTOR, ("north", "south"), T0)
    revoked = keys.get("ba9876543210")
    assert revoked is not None
    assert (revoked.enterprise, revoked.revoked_ms) == ("E0001", T0 + 5)

    flows = AlertWorkflows(records)
    a = flows.get(acked.id)
    assert a is not None
    assert (a.enterprise, a.status, a.acknowledged_ms, a.explanation, a.explained_ms) == (
        "E0001", "acknowledged", T0 + 2 * H, "pump", T0 + 3 * H)
    assert a.notes == (
        Note(T0 + 10 * H, "inspector:0123456789ab", "acknowledged", 'calling "them"\nnow'),
        Note(T0 + 11 * H + 500, "enterprise:ba9876543210", "explanation", "pump"))
    r = flows.get(resolved.id)
    assert r is not None
    assert (r.status, r.resolved_ms, r.seen_until_ms, r.notes) == (
        "resolved", T0 + 5 * H, T0 + 3 * H, ())
    assert flows.get(untouched.id) is None  # open and unnoted: nothing to keep
    joined = ResultStore(store, flows).get_alert(acked.id)
    assert joined is not None
    assert (joined.status, len(joined.notes), joined.hours) == ("acknowledged", 2, 2.0)

    marks = MarkStore(records).list("E0001")
    assert [(m.id, m.outlet, m.kind, m.withdrawn_ms) for m in marks] == [
        ("0123456789abcdef", "G1", "shutdown", None),
        ("fedcba9876543210", "G2", "fault", T0 + 2 * H)]
    assert RecordRevocations(records, cache_s=0).is_revoked(SID)

    before = (keys.list_keys(), flows.many([acked.id, resolved.id]), marks)
    assert migrate(store, records) == Copied()
    assert (keys.list_keys(), flows.many([acked.id, resolved.id]),
            MarkStore(records).list("E0001")) == before
