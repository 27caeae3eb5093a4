"""The public tier's answers (issue 14; api/tiers.py): enterprises with their status now,
published judged hours with their review state, alerts' kind, time and status, rankings and
the open-data CSV. Everything public is computed here and cached for ``api_public_cache_s``
(``TtlCache``: one query per answer and period however many readers ask).

Publication: an hour is public once ``api_public_delay_s`` has passed since its end; until an
inspector confirms its local day (``store.reviews``) it is labelled "not yet reviewed"
(企业环境信息依法披露管理办法 2021, disclosure-marks-sharing.md: the public query system shows
the data with its verification state).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.access import Principal
from api.keys import Role
from api.params import PAGE_MAX, Page, TimeRange, iso
from api.services.queries import Scope, amount_totals, where
from api.services.reports import permits_of
from api.services.series import judged_rows
from api.services.standings import ranked
from api.state import AppState
from core.registry import Enterprise
from store.alert_filter import AlertFilter
from store.reviews import DayReviews

HOUR_MS = 3_600_000
NOT_REVIEWED = "not yet reviewed"
REVIEWED = "reviewed"
HOUR_FIELDS = ("time", "outlet", "pollutant", "valid", "mean_ref", "limit", "limit_min",
               "exceeded", "multiple", "status")
CSV_COLUMNS = ("time", "enterprise", "outlet", "pollutant", "valid", "mean_ref", "limit",
               "exceeded", "status", "review")
# Who the public is when it reads rankings: every enterprise, nothing else (the answer is then
# narrowed to the public fields by api.tiers.restrict).
EVERYONE = Principal("public", Role.INSPECTOR)


def published_until(state: AppState) -> int:
    """The end of the last published clock hour (epoch ms)."""
    cutoff = state.now_ms() - state.settings.api_public_delay_s * 1000
    return cutoff - cutoff % HOUR_MS


def local_day(ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).date().isoformat()


def statuses(state: AppState) -> dict[str, str]:
    """Each enterprise's status now: ``exceeded`` when a pollutant exceeded in the last
    published hour, ``compliant`` when it was judged, ``no_data`` otherwise."""
    until = published_until(state)

    def compute() -> dict[str, str]:
        q = ('SELECT "exceeded", "valid" FROM "hourly"'
             + where(TimeRange(until - HOUR_MS, until).influxql()) + ' GROUP BY "enterprise"')
        out: dict[str, str] = {}
        for s in state.store.query(q):
            ent = s.tags.get("enterprise", "")
            judged = list(s.rows())
            if any(r.get("exceeded") for r in judged):
                out[ent] = "exceeded"
            elif any(r.get("valid") for r in judged):
                out[ent] = "compliant"
        return out

    found: dict[str, str] = state.public_cache.get_or_compute(("public-status", until),
                                                                 compute)
    return found


def enterprise_public(ent: Enterprise, status: str) -> dict[str, Any]:
    return {"id": ent.id, "name": ent.name, "region": ent.region, "industry": ent.industry,
            "lat": ent.lat, "lon": ent.lon,
            "status": status,
            "outlets": [{"id": o.id, "name": o.name, "medium": o.medium.value}
                        for o in ent.outlets.values()]}


def enterprises(state: AppState, q: str | None, region: str | None, industry: str | None
                ) -> list[dict[str, Any]]:
    """Registered enterprises matching the search (name contains ``q``, case-insensitive)."""
    st = statuses(state)
    needle = q.casefold() if q else None
    return [enterprise_public(e, st.get(e.id, "no_data"))
            for _, e in sorted(state.registry.enterprises.items())
            if (needle is None or needle in e.name.casefold() or needle in e.id.casefold())
            and (region is None or e.region == region)
            and (industry is None or e.industry == industry)]


def one_enterprise(state: AppState, ent: Enterprise) -> dict[str, Any]:
    return enterprise_public(ent, statuses(state).get(ent.id, "no_data"))


def hours(state: AppState, ent: Enterprise, tr: TimeRange) -> dict[str, Any]:
    """The published judged hours of ``tr`` (cut at ``published_until``), each with the review
    state of its local day."""
    until = published_until(state)
    end = min(tr.end_ms, until)

    def compute() -> dict[str, Any]:
        found: list[dict[str, Any]] = []
        if tr.start_ms < end:
            span = TimeRange(tr.start_ms, end)
            while len(found) < 100_000:
                got = judged_rows(state.store, "hourly", Scope(ent.id), span,
                                  Page(PAGE_MAX, len(found)))
                found.extend(got)
                if len(got) < PAGE_MAX:
                    break
        tz = state.settings.timezone
        days = {local_day(r["time"], tz) for r in found}
        reviewed = DayReviews(state.records).reviewed(ent.id, sorted(days))
        items = []
        for r in found:
            day = local_day(r["time"], tz)
            items.append({**{k: r.get(k) for k in HOUR_FIELDS}, "time": iso(r["time"]),
                          "day": day, "review": REVIEWED if day in reviewed else NOT_REVIEWED})
        return {"enterprise": ent.id, "start": iso(tr.start_ms), "end": iso(end),
                "published_until": iso(until), "reviewed": sorted(reviewed),
                "count": len(items), "items": items}

    result: dict[str, Any] = state.public_cache.get_or_compute(
        ("public-hours", ent.id, tr.start_ms, end), compute)
    return result


def alerts(state: AppState, ent: Enterprise, limit: int) -> list[dict[str, Any]]:
    """The enterprise's alerts that started before ``published_until``: kind, time, status."""
    until = published_until(state)

    def compute() -> list[dict[str, Any]]:
        found = state.results.list_alerts(AlertFilter(enterprises=(ent.id,), until_ms=until),
                                          limit)
        return [{"id": a.id, "kind": a.kind, "outlet": a.outlet, "pollutant": a.pollutant,
                 "start": iso(a.start_ms), "end": iso(a.end_ms), "active": a.active,
                 "status": a.status} for a in found]

    result: list[dict[str, Any]] = state.public_cache.get_or_compute(
        ("public-alerts", ent.id, until, limit), compute)
    return result


def rankings(state: AppState, tr: TimeRange) -> list[dict[str, Any]]:
    _, _, found = ranked(state, EVERYONE, tr)
    return [{"rank": r.rank, "enterprise": r.enterprise, "name": e.name, "region": e.region,
             "industry": e.industry, "compliance_rate": r.rates.compliance,
             "effective_transmission_rate": r.rates.effective_transmission, "status": r.status,
             "exceedance_hours": r.totals.exceeded_hours,
             "exceedance_days": r.totals.exceeded_days,
             "judged_hours": r.totals.judged_hours, "judged_days": r.totals.judged_days}
            for r in found if (e := state.registry.enterprises.get(r.enterprise)) is not None]


def csv_lines(state: AppState, ent: Enterprise, answer: dict[str, Any]) -> Iterator[str]:
    """The published hours as CSV: a licence line and the review state first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([f"# {state.settings.api_public_licence}"])
    w.writerow([f"# {ent.name}; published until {answer['published_until']}; days reviewed: "
                f"{' '.join(answer['reviewed']) or 'none'}; other days {NOT_REVIEWED}"])
    w.writerow(CSV_COLUMNS)
    for r in answer["items"]:
        w.writerow([r["time"], ent.id, r["outlet"], r["pollutant"], r["valid"],
                    "" if r["mean_ref"] is None else r["mean_ref"],
                    "" if r["limit"] is None else r["limit"], r["exceeded"], r["status"] or "",
                    r["review"]])
    yield buf.getvalue()



def amounts(state: AppState, ent: Enterprise) -> dict[str, Any]:
    """The enterprise's emitted tonnes of the local year so far (the days published) against
    its permitted t/a (core.permits; the rankings' permit share, issue 12)."""
    until = published_until(state)
    tz = ZoneInfo(state.settings.timezone)
    year = datetime.fromtimestamp(until / 1000, tz).year
    start = int(datetime(year, 1, 1, tzinfo=tz).timestamp() * 1000)
    kg = state.public_cache.get_or_compute(
        ("public-amounts", start, until), lambda: amount_totals(state.store, start, until))
    permit = permits_of(ent)
    emitted = kg.get(ent.id, {})
    items = []
    for p in sorted(set(emitted) | set(permit)):
        tonnes = emitted.get(p, 0.0) / 1000.0
        allowed = permit.get(p)
        items.append({"pollutant": p, "tonnes": round(tonnes, 3), "permit_t_a": allowed,
                      "permit_share": round(tonnes / allowed, 4) if allowed else None})
    return {"enterprise": ent.id, "year": year, "start": iso(start), "end": iso(until),
            "items": items}
