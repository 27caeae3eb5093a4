"""Issued reports in the records database: versions that never change once written.

A report is named by what it covers, ``(kind, enterprise, outlet, period label)``, whose hash
is its ``report_id``. Issuing one that exists changes nothing (a scheduled re-run, or two
schedulers at once, keep version 1; ``Issued.differs`` says when the data have changed since);
only a correction, with its reason, makes the next version. Each version keeps its content as
canonical JSON and that text's SHA-256, checked whenever it is read back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from store.audit import AuditEvent, append_in
from store.records import ReportRow
from store.sql import Records, write_lock

log = logging.getLogger(__name__)
IN_BATCH = 500  # ids per IN (...) list
ISSUE_BATCH = 100  # reports issued per transaction


class ReportTampered(Exception):
    """A stored version's content no longer matches its recorded SHA-256."""


class NoSuchReport(Exception):
    """No report (or no such version) with this id."""


def canonical(content: dict[str, Any]) -> bytes:
    """The content as canonical JSON: sorted keys, no spaces, UTF-8."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def sha256_of(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def report_id(kind: str, enterprise: str, outlet: str | None, label: str) -> str:
    key = "\x1f".join((kind, enterprise, outlet or "", label))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a report covers."""

    kind: str
    period: str  # day, month, quarter, year
    label: str
    enterprise: str
    outlet: str | None
    start_ms: int
    end_ms: int

    @property
    def report_id(self) -> str:
        return report_id(self.kind, self.enterprise, self.outlet, self.label)


@dataclass(frozen=True, slots=True)
class Version:
    """One issued version of a report."""

    report_id: str
    version: int
    subject: Subject
    sha256: str
    issued_ms: int
    issued_by: str
    reason: str | None
    content: dict[str, Any] | None = None  # None when listed without content


@dataclass(frozen=True, slots=True)
class Issued:
    version: Version
    created: bool  # False: it existed already and was left as it was
    differs: bool = False  # the data now give other content than the issued version


@dataclass(frozen=True, slots=True)
class ReportFilter:
    enterprises: Collection[str] | None = None  # None: every one; empty: none
    kind: str | None = None
    period: str | None = None
    outlet: str | None = None
    start_ms: int | None = None  # reports whose period starts in [start_ms, end_ms)
    end_ms: int | None = None


def _version(row: ReportRow, with_content: bool) -> Version:
    content = None
    if with_content:
        raw = row.content.encode()
        if hashlib.sha256(raw).hexdigest() != row.sha256:
            raise ReportTampered(f"report {row.report_id} version {row.version}")
        content = orjson.loads(raw)
    subject = Subject(row.kind, row.period, row.label, row.enterprise, row.outlet,
                      row.start_ms, row.end_ms)
    return Version(row.report_id, row.version, subject, row.sha256, row.issued_ms,
                   row.issued_by, row.reason, content)


class ReportStore:
    """Issues, corrects and reads report versions."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def _latest_row(self, s: Session, rid: str) -> ReportRow | None:
        return s.scalars(select(ReportRow).where(ReportRow.report_id == rid)
                         .order_by(ReportRow.version.desc()).limit(1)).first()

    def _add(self, s: Session, subject: Subject, version: int, content: dict[str, Any],
             by: str, now_ms: int, reason: str | None) -> ReportRow:
        text = canonical(content)
        row = ReportRow(report_id=subject.report_id, version=version, kind=subject.kind,
                        period=subject.period, label=subject.label,
                        enterprise=subject.enterprise, outlet=subject.outlet,
                        start_ms=subject.start_ms, end_ms=subject.end_ms,
                        content=text.decode(), sha256=hashlib.sha256(text).hexdigest(),
                        issued_ms=now_ms, issued_by=by, reason=reason)
        s.add(row)
        s.flush()
        # The audit trail (issue 15): an issued report or correction is a change, recorded in
        # the same transaction as the report itself.
        append_in(s, [AuditEvent(now_ms, "report.corrected" if reason else "report.issued",
                                 enterprise=subject.enterprise,
                                 detail=f"{by} {subject.kind} {subject.label} "
                                        f"{subject.outlet or ''} v{version}".strip()[:1024])],
                  now_ms)
        return row

    def issue(self, subject: Subject, content: dict[str, Any], by: str, now_ms: int) -> Issued:
        """Version 1 of the report, or the newest version as it stands if one exists."""
        return self.issue_many([(subject, content)], by, now_ms)[0]

    def issue_many(self, reports: Sequence[tuple[Subject, dict[str, Any]]], by: str,
                   now_ms: int) -> list[Issued]:
        """``issue`` of each report, in their order, ``ISSUE_BATCH`` reports a transaction
        (a commit per report was a third of a month's issuing); the locks are taken in the
        order of the report ids, so that issuers side by side cannot deadlock."""
        order = sorted(range(len(reports)), key=lambda i: reports[i][0].report_id)
        out: dict[int, Issued] = {}
        for a in range(0, len(order), ISSUE_BATCH):
            with self.records.session() as s:
                for i in order[a:a + ISSUE_BATCH]:
                    out[i] = self._issue_in(s, *reports[i], by, now_ms)
        return [out[i] for i in range(len(reports))]

    def _issue_in(self, s: Session, subject: Subject, content: dict[str, Any], by: str,
                  now_ms: int) -> Issued:
        rid = subject.report_id
        write_lock(s, f"report:{rid}")
        row = self._latest_row(s, rid)
        if row is not None:
            differs = sha256_of(content) != row.sha256
            if differs:
                log.warning("report %s (%s %s %s) version %d differs from the data now: "
                            "issue a correction to change it", rid, subject.kind,
                            subject.enterprise, subject.label, row.version)
            return Issued(_version(row, False), created=False, differs=differs)
        row = self._add(s, subject, 1, content, by, now_ms, None)
        return Issued(_version(row, False), created=True)

    def correct(self, rid: str, content: dict[str, Any], by: str, now_ms: int,
                reason: str) -> Version:
        """The next version of an issued report, with the reason of the correction."""
        if not reason.strip():
            raise ValueError("a correction needs its reason")
        with self.records.session() as s:
            write_lock(s, f"report:{rid}")
            row = self._latest_row(s, rid)
            if row is None:
                raise NoSuchReport(rid)
            subject = _version(row, False).subject
            new = self._add(s, subject, row.version + 1, content, by, now_ms, reason.strip())
            return _version(new, False)

    def get(self, rid: str, version: int | None = None) -> Version:
        """A version with its content (the newest when ``version`` is None)."""
        with self.records.session() as s:
            if version is None:
                row = self._latest_row(s, rid)
            else:
                row = s.scalars(select(ReportRow).where(ReportRow.report_id == rid,
                                                        ReportRow.version == version)).first()
            if row is None:
                raise NoSuchReport(rid)
            return _version(row, True)

    def issued_ids(self, ids: Collection[str]) -> set[str]:
        """Those of ``ids`` that have been issued."""
        out: set[str] = set()
        want = sorted(set(ids))
        with self.records.session() as s:
            for i in range(0, len(want), IN_BATCH):
                out.update(s.scalars(select(ReportRow.report_id).distinct().where(
                    ReportRow.report_id.in_(want[i:i + IN_BATCH]))).all())
        return out

    def versions(self, rid: str) -> list[Version]:
        """Every version of a report, oldest first, without content."""
        with self.records.session() as s:
            found = s.scalars(select(ReportRow).options(defer(ReportRow.content))
                              .where(ReportRow.report_id == rid)
                              .order_by(ReportRow.version)).all()
            return [_version(r, False) for r in found]

    def find(self, f: ReportFilter, limit: int, offset: int = 0) -> tuple[list[Version], int]:
        """The newest version of each report matching ``f`` (by period start, newest first,
        then kind and outlet) and how many there are in all."""
        if f.enterprises is not None and not f.enterprises:
            return [], 0
        newest = (select(ReportRow.report_id, func.max(ReportRow.version).label("v"))
                  .group_by(ReportRow.report_id).subquery())
        q = select(ReportRow).join(newest, (ReportRow.report_id == newest.c.report_id)
                                   & (ReportRow.version == newest.c.v))
        if f.enterprises is not None:
            q = q.where(ReportRow.enterprise.in_(sorted(f.enterprises)))
        if f.kind is not None:
            q = q.where(ReportRow.kind == f.kind)
        if f.period is not None:
            q = q.where(ReportRow.period == f.period)
        if f.outlet is not None:
            q = q.where(ReportRow.outlet == f.outlet)
        if f.start_ms is not None:
            q = q.where(ReportRow.start_ms >= f.start_ms)
        if f.end_ms is not None:
            q = q.where(ReportRow.start_ms < f.end_ms)
        with self.records.session() as s:
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            found = s.scalars(q.options(defer(ReportRow.content))
                              .order_by(ReportRow.start_ms.desc(), ReportRow.kind,
                                        ReportRow.enterprise, ReportRow.outlet)
                              .limit(limit).offset(offset)).all()
            return [_version(r, False) for r in found], int(total)
