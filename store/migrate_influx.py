"""``python -m store.migrate_influx``: copy the records that older versions kept in InfluxDB into
the records database (``EMS_INFLUX_*`` and ``EMS_RECORDS_URL`` say which ones).

What is copied, as those versions wrote it:

- ``api_key`` (tag ``key_id``; fields role, sha256, enterprise, regions, created_ms,
  revoked_ms): each key, only its hash, as it was (a revocation recorded in InfluxDB is applied
  to a key already copied);
- ``alert`` points' workflow fields (status, notes as a JSON list of ``{at, by, action, text}``,
  explanation, explained_ms, acknowledged_ms, resolved_ms, seen_until_ms): one workflow row per
  alert that was moved, explained or noted, with its notes; the episodes stay in InfluxDB;
- ``mark`` (tags enterprise, outlet, mark_id; fields kind, start_ms, end_ms, reason,
  declared_by, declared_ms, withdrawn_ms, withdrawn_by): each mark, withdrawn or not;
- ``web_session_revoked`` (tag session_id, field expires_s): each revoked session.

A record already in the records database is left as it is, so running the copy again changes
nothing (it prints what it copied: 0 the second time). The InfluxDB points are not deleted.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from core.logs import setup_logging
from core.settings import CommonSettings
from store.influx import InfluxStore, store_from_settings
from store.marks import Mark, MarkStore
from store.records import ApiKeyRow, RevokedSessionRow
from store.sql import Records, open_records
from store.workflow import STATUSES, AlertWorkflows, Note, Workflow

log = logging.getLogger("store.migrate_influx")


@dataclass
class Copied:
    keys: int = 0
    workflows: int = 0
    marks: int = 0
    sessions: int = 0

    def line(self) -> str:
        return (f"copied {self.keys} API keys, {self.workflows} alert workflows, "
                f"{self.marks} marks, {self.sessions} revoked sessions")


def _rows(store: InfluxStore, measurement: str) -> list[dict[str, Any]]:
    """Every point of ``measurement``, its tags merged into its fields."""
    out: list[dict[str, Any]] = []
    for s in store.query(f'SELECT * FROM "{measurement}" GROUP BY *', epoch="ms"):
        out += [{**row, **{k: v for k, v in s.tags.items() if v}} for row in s.rows()]
    return out


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ms(text: object) -> int:
    """Epoch ms of an RFC 3339 text as older versions stamped notes (0 if unreadable)."""
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def copy_keys(store: InfluxStore, records: Records) -> int:
    n = 0
    for r in _rows(store, "api_key"):
        if not r.get("key_id") or not r.get("sha256") or not r.get("role"):
            continue
        with records.session() as s:
            row = s.get(ApiKeyRow, str(r["key_id"]))
            revoked = _int(r.get("revoked_ms"))
            if row is None:
                s.add(ApiKeyRow(key_id=str(r["key_id"]), role=str(r["role"]),
                                sha256=str(r["sha256"]),
                                enterprise=str(r.get("enterprise") or "") or None,
                                regions=str(r.get("regions") or ""),
                                created_ms=_int(r.get("created_ms")) or 0, revoked_ms=revoked))
                n += 1
            elif row.revoked_ms is None and revoked is not None:
                row.revoked_ms = revoked
                n += 1
    return n


def _notes(raw: object) -> tuple[Note, ...]:
    try:
        items = orjson.loads(str(raw)) if raw else []
    except orjson.JSONDecodeError:
        return ()
    return tuple(Note(_ms(i.get("at")), str(i.get("by") or ""), str(i.get("action") or "note"),
                      str(i.get("text") or "")) for i in items if isinstance(i, dict))


def copy_workflows(store: InfluxStore, records: Records) -> int:
    flows, n = AlertWorkflows(records), 0
    for r in _rows(store, "alert"):
        status = str(r.get("status") or "open")
        notes = _notes(r.get("notes"))
        if not r.get("id") or status not in STATUSES:
            continue
        if status == "open" and not notes and r.get("explanation") is None:
            continue  # nothing was decided: an alert without a row is open
        n += flows.restore(Workflow(
            str(r["id"]), str(r.get("enterprise") or ""), status,
            _int(r.get("acknowledged_ms")), _int(r.get("resolved_ms")), r.get("explanation"),
            _int(r.get("explained_ms")), notes, _int(r.get("seen_until_ms"))))
    return n


def copy_marks(store: InfluxStore, records: Records) -> int:
    marks, n = MarkStore(records), 0
    for r in _rows(store, "mark"):
        start, end = _int(r.get("start_ms")), _int(r.get("end_ms"))
        if not r.get("mark_id") or start is None or end is None:
            continue
        n += marks.restore(Mark(
            str(r["mark_id"]), str(r.get("enterprise") or ""), str(r.get("outlet") or ""),
            str(r.get("kind") or ""), start, end, str(r.get("reason") or ""),
            str(r.get("declared_by") or ""), _int(r.get("declared_ms")) or 0,
            _int(r.get("withdrawn_ms")), r.get("withdrawn_by")))
    return n


def copy_sessions(store: InfluxStore, records: Records) -> int:
    n = 0
    for r in _rows(store, "web_session_revoked"):
        sid, expires_s = r.get("session_id"), _int(r.get("expires_s"))
        if not sid or expires_s is None:
            continue
        with records.session() as s:
            if s.get(RevokedSessionRow, str(sid)) is None:
                # When it was revoked was not kept: its cookie's end stands for it.
                s.add(RevokedSessionRow(session_id=str(sid), revoked_ms=expires_s * 1000,
                                        expires_ms=expires_s * 1000))
                n += 1
    return n


def migrate(store: InfluxStore, records: Records) -> Copied:
    """Copy everything listed in the module doc; idempotent."""
    return Copied(copy_keys(store, records), copy_workflows(store, records),
                  copy_marks(store, records), copy_sessions(store, records))


def main() -> int:
    settings = CommonSettings()
    setup_logging(settings.log_level)
    store = store_from_settings(settings)
    records = open_records(settings.records_url)
    try:
        copied = migrate(store, records)
    finally:
        records.close()
        store.close()
    log.info("%s", copied.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
