"""Reports from the public (举报 / 公众反馈, issue 14) in the records database.

Anyone may report a suspected pollution event about a registered enterprise or a place, with a
time, a kind, a description, an optional photo (already cleaned, ``core.photos``) and an
optional contact. ``submit`` checks every field (``Rejected`` names the field) and returns a
ticket (``R`` and 8 base32 characters) and a private follow token: only the token's SHA-256 is
kept, compared in constant time.

Duplicates: a report of the same enterprise (or, when only a place is given, within 1 km of a
place-only report) and the same kind, whose event lies within 2 h of an open report's, joins
that report's group (``group_ticket``); inspectors see the group's size.

Workflow: received -> assigned -> investigating -> closed (with a finding); an assignment may
be repeated while assigned. Any other move raises ``Conflict``; a move is a compare-and-set on
the row's ``version``. Every move, inspector note and enterprise response is an appended row of
``public_report_event`` (store.records), never an edit. What each tier may read of a report is
decided by the API (api.services.public_reports); this module stores and finds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from core.photos import CleanPhoto
from core.registry import Registry
from store.records import PublicReportEventRow, PublicReportPhotoRow, PublicReportRow
from store.sql import Records, write_lock

KINDS = ("smoke", "odour", "water_colour", "noise", "other")
STATUSES = ("received", "assigned", "investigating", "closed")
MOVES: dict[str, tuple[str, ...]] = {"assigned": ("received", "assigned"),
                                     "investigating": ("assigned",),
                                     "closed": ("investigating",)}
TEXT_MAX = 2000  # description, finding, note, response
CONTACT_MAX = 200
FUTURE_MS = 10 * 60_000  # an event may lie this far after "now" (clocks differ)
PAST_MS = 30 * 86_400_000  # and at most this long before it
GROUP_MS = 2 * 3_600_000
GROUP_M = 1000.0
EARTH_M = 6_371_000.0
TICKET_RE = re.compile(r"R[A-Z2-7]{8}")
# Text may hold line breaks and tabs; no other control character, no bidirectional override
# (it would make the text read otherwise than it is stored), no lone surrogate.
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\n\r\t")


class Rejected(ValueError):
    """A field of a report or of a workflow step is invalid: ``field`` names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.field = name


class NotFound(LookupError):
    """No such report (or not one the caller may reach)."""


class Conflict(Exception):
    """The report's status does not allow the move (or another move came first)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A report as it was sent; times are epoch milliseconds (UTC)."""

    event_ms: int
    kind: str
    description: str
    enterprise: str | None = None
    lat: float | None = None
    lon: float | None = None
    contact: str | None = None
    photo: CleanPhoto | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    ticket: str
    token: str  # given to the reporter once; never stored


@dataclass(frozen=True, slots=True)
class Event:
    at_ms: int
    by: str
    action: str  # status, note, response
    status: str
    text: str | None


@dataclass(frozen=True)
class Report:
    ticket: str
    group_ticket: str
    group_size: int
    enterprise: str | None
    region: str | None
    lat: float | None
    lon: float | None
    event_ms: int
    kind: str
    description: str
    contact: str | None
    submitted_ms: int
    status: str
    assignee: str | None
    finding: str | None
    closed_ms: int | None
    has_photo: bool
    events: tuple[Event, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which reports: ``enterprises``/``regions`` None for any (a region filter keeps the
    reports whose region is one of them); event time in [start_ms, end_ms)."""

    enterprises: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    status: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


def check_text(name: str, value: str | None, max_len: int, *, lines: bool = True) -> str:
    """``value`` as given if it holds 1..max_len characters and no control character."""
    if value is None or not value.strip():
        raise Rejected(name, "required")
    if len(value) > max_len:
        raise Rejected(name, f"at most {max_len} characters")
    for ch in value:
        if ch in LINE_BREAKS and lines:
            continue
        if ch in BIDI or unicodedata.category(ch) in ("Cc", "Cs"):
            raise Rejected(name, f"control character U+{ord(ch):04X} not allowed")
    return value


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def check_draft(d: Draft, registry: Registry, now_ms: int) -> str | None:
    """The region whose inspectors see the report (its enterprise's, or that of the nearest
    enterprise with coordinates to its place); ``Rejected`` for the first bad field."""
    if d.kind not in KINDS:
        raise Rejected("kind", f"one of {', '.join(KINDS)}")
    check_text("description", d.description, TEXT_MAX)
    if d.contact is not None:
        check_text("contact", d.contact, CONTACT_MAX, lines=False)
    if d.event_ms > now_ms + FUTURE_MS:
        raise Rejected("time", "in the future")
    if d.event_ms < now_ms - PAST_MS:
        raise Rejected("time", "more than 30 days ago")
    if (d.lat is None) != (d.lon is None):
        raise Rejected("lat" if d.lat is None else "lon", "give both lat and lon, or neither")
    if d.lat is not None and d.lon is not None:
        if not (math.isfinite(d.lat) and -90.0 <= d.lat <= 90.0):
            raise Rejected("lat", "between -90 and 90 degrees")
        if not (math.isfinite(d.lon) and -180.0 <= d.lon <= 180.0):
            raise Rejected("lon", "between -180 and 180 degrees")
    if d.enterprise is not None:
        ent = registry.enterprises.get(d.enterprise)
        if ent is None:
            raise Rejected("enterprise", "not a registered enterprise")
        return ent.region
    if d.lat is None or d.lon is None:
        raise Rejected("enterprise", "give an enterprise or a place (lat and lon)")
    placed = [(distance_m(d.lat, d.lon, e.lat, e.lon), e.region)
              for e in registry.enterprises.values() if e.lat is not None and e.lon is not None]
    return min(placed)[1] if placed else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_ticket() -> str:
    return "R" + base64.b32encode(secrets.token_bytes(5)).decode()


class PublicReports:
    """Stores, groups, moves and finds public reports."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def submit(self, d: Draft, registry: Registry, now_ms: int) -> Submitted:
        """Check and store a report; it joins the group of a matching open report."""
        region = check_draft(d, registry, now_ms)
        token = secrets.token_urlsafe(24)
        with self.records.session() as s:
            write_lock(s, "public_report")  # the duplicate check and the insert hold together
            ticket = new_ticket()
            while s.get(PublicReportRow, ticket) is not None:
                ticket = new_ticket()
            group = self._group_of(s, d) or ticket
            s.add(PublicReportRow(
                ticket=ticket, group_ticket=group, enterprise=d.enterprise, region=region,
                lat=d.lat, lon=d.lon, event_ms=d.event_ms, kind=d.kind,
                description=d.description, contact=d.contact, token_sha256=token_hash(token),
                submitted_ms=now_ms, status="received", has_photo=int(d.photo is not None),
                version=0))
            s.flush()
            s.add(PublicReportEventRow(ticket=ticket, at_ms=now_ms, by="public",
                                       action="status", status="received", text=None))
            if d.photo is not None:
                s.add(PublicReportPhotoRow(ticket=ticket, jpeg=d.photo.jpeg,
                                           width=d.photo.width, height=d.photo.height))
        return Submitted(ticket, token)

    def _group_of(self, s: Session, d: Draft) -> str | None:
        """The group ticket of the earliest open report that ``d`` duplicates, if any."""
        R = PublicReportRow
        q = (select(R.group_ticket, R.lat, R.lon)
             .where(R.status != "closed", R.kind == d.kind,
                    R.event_ms >= d.event_ms - GROUP_MS, R.event_ms <= d.event_ms + GROUP_MS)
             .order_by(R.submitted_ms, R.ticket))
        if d.enterprise is not None:
            return s.scalars(q.where(R.enterprise == d.enterprise).with_only_columns(
                R.group_ticket)).first()
        if d.lat is None or d.lon is None:
            return None
        for group, lat, lon in s.execute(q.where(R.enterprise.is_(None))):
            if lat is not None and lon is not None and \
                    distance_m(d.lat, d.lon, lat, lon) <= GROUP_M:
                return str(group)
        return None

    def get(self, ticket: str, *, events: bool = True) -> Report | None:
        if not TICKET_RE.fullmatch(ticket):
            return None
        with self.records.session() as s:
            row = s.get(PublicReportRow, ticket)
            return None if row is None else self._reports(s, [row], events)[0]

    def for_reporter(self, ticket: str, token: str) -> Report | None:
        """The report if ``token`` is its follow token; None alike for a wrong token and a
        missing ticket."""
        with self.records.session() as s:
            row = s.get(PublicReportRow, ticket) if TICKET_RE.fullmatch(ticket) else None
            expected = row.token_sha256 if row is not None else "0" * 64
            if not hmac.compare_digest(token_hash(token), expected) or row is None:
                return None
            return self._reports(s, [row], True)[0]

    def find(self, f: ReportFilter, limit: int = 100, offset: int = 0, *,
             events: bool = False) -> tuple[int, list[Report]]:
        """(how many match, a page of them, newest submitted first)."""
        R = PublicReportRow
        conds: list[ColumnElement[bool]] = []
        if f.enterprises is not None:
            conds.append(R.enterprise.in_(list(f.enterprises)))
        if f.regions is not None:
            conds.append(R.region.in_(list(f.regions)))
        if f.status is not None:
            conds.append(R.status == f.status)
        if f.start_ms is not None:
            conds.append(R.event_ms >= f.start_ms)
        if f.end_ms is not None:
            conds.append(R.event_ms < f.end_ms)
        with self.records.session() as s:
            total = s.scalar(select(func.count()).select_from(R).where(*conds)) or 0
            rows = s.scalars(select(R).where(*conds).order_by(R.submitted_ms.desc(), R.ticket)
                             .limit(limit).offset(offset)).all()
            return total, self._reports(s, list(rows), events)

    def _reports(self, s: Session, rows: list[PublicReportRow], events: bool) -> list[Report]:
        groups = sorted({r.group_ticket for r in rows})
        sizes: dict[str, int] = {}
        if groups:
            sizes = {str(g): int(n) for g, n in s.execute(
                select(PublicReportRow.group_ticket, func.count())
                .where(PublicReportRow.group_ticket.in_(groups))
                .group_by(PublicReportRow.group_ticket))}
        history: dict[str, list[Event]] = {}
        if events and rows:
            E = PublicReportEventRow
            for e in s.scalars(select(E).where(E.ticket.in_([r.ticket for r in rows]))
                               .order_by(E.id)):
                history.setdefault(e.ticket, []).append(
                    Event(e.at_ms, e.by, e.action, e.status, e.text))
        return [Report(r.ticket, r.group_ticket, sizes.get(r.group_ticket, 1), r.enterprise,
                       r.region, r.lat, r.lon, r.event_ms, r.kind, r.description, r.contact,
                       r.submitted_ms, r.status, r.assignee, r.finding, r.closed_ms,
                       bool(r.has_photo), tuple(history.get(r.ticket, ())))
                for r in rows]

    def photo(self, ticket: str) -> bytes | None:
        if not TICKET_RE.fullmatch(ticket):
            return None
        with self.records.session() as s:
            row = s.get(PublicReportPhotoRow, ticket)
            return None if row is None else bytes(row.jpeg)

    def move(self, ticket: str, status: str, by: str, now_ms: int, *,
             assignee: str | None = None, finding: str | None = None) -> Report:
        """Move the report to ``status`` (``assigned`` needs ``assignee``, ``closed`` a
        finding); ``Conflict`` when its status does not allow it. Closing the first report of
        a group closes its duplicates still open with the same finding (one event, one
        investigation: each ticket's history says so)."""
        if status not in MOVES:
            raise Rejected("status", f"one of {', '.join(MOVES)}")
        if status == "closed":
            finding = check_text("finding", finding, TEXT_MAX)
        if status == "assigned":
            assignee = check_text("assignee", assignee, 64, lines=False)
        with self.records.session() as s:
            row = self._row(s, ticket)
            if row.status not in MOVES[status]:
                raise Conflict(f"a {row.status} report cannot be moved to {status}")
            values: dict[str, object] = {"status": status, "version": row.version + 1}
            if status == "assigned":
                values["assignee"] = assignee
            if status == "closed":
                values.update(finding=finding, closed_ms=now_ms)
            R = PublicReportRow
            done = s.execute(update(R).where(R.ticket == ticket, R.version == row.version)
                             .values(**values))
            if getattr(done, "rowcount", 1) != 1:
                raise Conflict("the report was moved meanwhile; read it again")
            s.add(PublicReportEventRow(ticket=ticket, at_ms=now_ms, by=by, action="status",
                                       status=status, text=assignee if status == "assigned"
                                       else finding))
            if status == "closed" and row.group_ticket == ticket:
                self._close_group(s, ticket, str(finding), by, now_ms)
        return self._get(ticket)

    @staticmethod
    def _close_group(s: Session, group: str, finding: str, by: str, now_ms: int) -> None:
        R = PublicReportRow
        for m in s.scalars(select(R).where(R.group_ticket == group, R.ticket != group,
                                           R.status != "closed")).all():
            s.execute(update(R).where(R.ticket == m.ticket, R.version == m.version).values(
                status="closed", finding=finding, closed_ms=now_ms, version=m.version + 1))
            s.add(PublicReportEventRow(ticket=m.ticket, at_ms=now_ms, by=by, action="status",
                                       status="closed", text=f"with {group}: {finding}"))

    def note(self, ticket: str, text: str, by: str, now_ms: int) -> Report:
        """Append an inspector's note (inspectors only ever read it)."""
        return self._append(ticket, "note", check_text("text", text, TEXT_MAX), by, now_ms)

    def respond(self, ticket: str, enterprise: str, text: str, by: str, now_ms: int) -> Report:
        """Append the enterprise's response to a report about it (another's: NotFound)."""
        check_text("text", text, TEXT_MAX)
        report = self.get(ticket, events=False)
        if report is None or report.enterprise != enterprise:
            raise NotFound(ticket)
        return self._append(ticket, "response", text, by, now_ms)

    def _append(self, ticket: str, action: str, text: str, by: str, now_ms: int) -> Report:
        with self.records.session() as s:
            row = self._row(s, ticket)
            s.add(PublicReportEventRow(ticket=ticket, at_ms=now_ms, by=by, action=action,
                                       status=row.status, text=text))
        return self._get(ticket)

    def _row(self, s: Session, ticket: str) -> PublicReportRow:
        row = s.get(PublicReportRow, ticket) if TICKET_RE.fullmatch(ticket) else None
        if row is None:
            raise NotFound(ticket)
        return row

    def _get(self, ticket: str) -> Report:
        report = self.get(ticket)
        if report is None:
            raise NotFound(ticket)
        return report
