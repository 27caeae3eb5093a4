"""Reports as routes, pages and the scheduled job share them: build from the stored judged
hours, issue (version 1, or nothing new if issued), correct (the next version, with its
reason), and find those in a caller's reach.

Reach: an enterprise key reaches its own reports, an inspector those of the enterprises in its
regions (``api.services.reach``), an admin every one; a report out of reach answers 404.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from api.access import Principal
from api.params import TimeRange
from api.services.reach import denied, reach_enterprise
from api.services.reportbuild import (
    KINDS,
    Episode,
    Header,
    disclosure,
    hj75_day,
    hj75_month,
    hj75_year,
    permit,
)
from api.services.reportdata import SeriesKey, Stats, day_stats, hour_rows
from api.services.reportperiods import BadPeriod, bounds
from api.state import AppState
from core.registry import Enterprise, Registry
from store.influx import InfluxStore
from store.reports import (
    Issued,
    NoSuchReport,
    ReportFilter,
    ReportStore,
    ReportTampered,
    Subject,
    Version,
)
from store.results import AlertFilter, ResultStore

log = logging.getLogger(__name__)

ALERT_KINDS_READ = ("exceedance", "data_gap", "invalid_data", "unexplained_high_o2",
                    "invalid_hour_over_limit")
ALERTS_MAX = 10_000  # alerts read per enterprise and period


@dataclass(frozen=True)
class Reporting:
    """What building and issuing reports needs."""

    store: InfluxStore
    results: ResultStore
    registry: Registry
    reports: ReportStore
    zone: str


def reporting(state: AppState) -> Reporting:
    return Reporting(state.store, state.results, state.registry, state.reports,
                     state.settings.timezone)


def permits_of(ent: Enterprise) -> dict[str, float]:
    """Permitted annual totals (t/a) per pollutant of the enterprise: its own, else the sum
    of its outlets' (registry, core.permits; the rule of the rankings' permit share, issue 12
    §2); empty where none is registered."""
    if ent.permit.t_a:
        return dict(ent.permit.t_a)
    total: dict[str, float] = {}
    for o in ent.outlets.values():
        for p, t in o.permit.t_a.items():
            total[p] = total.get(p, 0.0) + float(t)
    return total


def episodes(results: ResultStore, ent: str, tr: TimeRange) -> list[Episode]:
    """The enterprise's alerts of exceedance and invalid data live in [start, end)."""
    found = results.list_alerts(AlertFilter(enterprises=(ent,), kinds=ALERT_KINDS_READ,
                                            live_since_ms=tr.start_ms, until_ms=tr.end_ms),
                                limit=ALERTS_MAX)
    return [Episode(a.kind, a.outlet, a.pollutant, a.start_ms, a.end_ms, a.hours,
                    a.peak_multiple, a.explanation, a.status) for a in found]


def check_kind(kind: str, period: str) -> None:
    if kind not in KINDS:
        raise BadPeriod(f"kind {kind!r}: one of {', '.join(KINDS)}")
    if period not in KINDS[kind]:
        raise BadPeriod(f"a {kind} report covers a {' or '.join(KINDS[kind])}")


def build(r: Reporting, kind: str, period: str, label: str, ents: Sequence[Enterprise],
          outlet: str | None = None) -> list[tuple[Subject, dict[str, Any]]]:
    """The reports of ``ents`` for one period (HJ 75 tables: one per outlet, or the one
    ``outlet``), built from what is stored now."""
    check_kind(kind, period)
    start_ms, end_ms = bounds(period, label, r.zone)
    tr = TimeRange(start_ms, end_ms)
    h = Header(kind, period, label, start_ms, end_ms, r.zone)
    ids = [e.id for e in ents]
    out: list[tuple[Subject, dict[str, Any]]] = []
    if kind == "hj75" and period == "day":
        hours = hour_rows(r.store, ids, tr)
        for e in ents:
            for o in ([outlet] if outlet else sorted(e.outlets)):
                content = hj75_day(h, e, o, hours.get((e.id, o), []))
                out.append((Subject(kind, period, label, e.id, o, start_ms, end_ms), content))
        return out
    # Each enterprise's series apart: the builders look their series up by enterprise, which
    # over every series of a large run would cost outlets x series.
    stats: dict[str, dict[SeriesKey, dict[int, Stats]]] = {}
    for key, days in day_stats(r.store, ids, tr, r.zone).items():
        stats.setdefault(key[0], {})[key] = days
    for e in ents:
        mine = stats.get(e.id, {})
        if kind == "hj75":
            make = hj75_month if period == "month" else hj75_year
            for o in ([outlet] if outlet else sorted(e.outlets)):
                out.append((Subject(kind, period, label, e.id, o, start_ms, end_ms),
                            make(h, e, o, mine)))
        elif kind == "permit":
            out.append((Subject(kind, period, label, e.id, None, start_ms, end_ms),
                        permit(h, e, mine, episodes(r.results, e.id, tr), permits_of(e))))
        else:
            out.append((Subject(kind, period, label, e.id, None, start_ms, end_ms),
                        disclosure(h, e, mine, permits_of(e))))
    return out


def issue(r: Reporting, kind: str, period: str, label: str, ents: Sequence[Enterprise],
          by: str, now_ms: int, outlet: str | None = None) -> list[Issued]:
    """Issue the reports of one period (those already issued stay as they are)."""
    return r.reports.issue_many(build(r, kind, period, label, ents, outlet), by, now_ms)


def correct(r: Reporting, rid: str, by: str, now_ms: int, reason: str) -> Version:
    """The next version of a report, built again from what is stored now."""
    old = r.reports.get(rid)
    s = old.subject
    ent = r.registry.enterprises.get(s.enterprise)
    if ent is None:
        raise NoSuchReport(rid)
    built = build(r, s.kind, s.period, s.label, [ent], s.outlet)
    return r.reports.correct(rid, built[0][1], by, now_ms, reason)


def reach_report(request: Request, user: Principal, r: Reporting, rid: str,
                 version: int | None = None) -> Version:
    """A report version in the caller's reach; 404 alike otherwise."""
    try:
        v = r.reports.get(rid, version)
    except NoSuchReport:
        raise HTTPException(404, "not found") from None
    except ReportTampered:
        log.error("report %s: the stored content does not match its SHA-256", rid)
        raise HTTPException(500, "the stored report does not match its recorded hash: "
                                 "it was changed outside the service") from None
    if not (user.sees_everything() or user.can_see_id(r.registry, v.subject.enterprise)):
        raise denied(request, 404, f"report {rid!r} out of reach", user.key_id)
    return v


def reach_filter(request: Request, user: Principal, registry: Registry,
                 enterprise: str | None, **rest: Any) -> ReportFilter:
    """A filter of the reports in the caller's reach (narrowed to one enterprise)."""
    if enterprise is not None:
        ents: tuple[str, ...] | None = (reach_enterprise(request, user, registry,
                                                         enterprise).id,)
    elif user.sees_everything():
        ents = None
    else:
        ents = tuple(e.id for e in user.visible(registry))
    return ReportFilter(enterprises=ents, **rest)
