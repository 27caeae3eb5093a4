"""The public tier's answers (issue 14; api/tiers.py): enterprises with their status now,
published judged hours with their review state, alerts' kind, time and status, rankings and
the open-data CSV. Everything public is computed here and cached for ``api_public_cache_s``
(``TtlCache``: one query per answer and period however many readers ask).

Whole answers are cached as they leave: an ``Answer`` holds the JSON bytes of an answer already
narrowed to the public tier (``api.tiers.restrict``), gzip-compressed, and its ETag, under a
key that names the route, the enterprise, the parameters and the publication cut
(``published_until``), so that a crowd costs one rendering per answer and period, and an answer
never crosses a period. The pages cache their HTML the same way (``page_body``). An answer may
lag the database by the cache's lifetime (twice it where it is built from the shared statuses
or amounts); confirming a day (``POST /enterprises/{id}/reviews``) clears the cache at once.

Publication: an hour is public once ``api_public_delay_s`` has passed since its end; until an
inspector confirms its local day (``store.reviews``) it is labelled "not yet reviewed"
(企业环境信息依法披露管理办法 2021, disclosure-marks-sharing.md: the public query system shows
the data with its verification state).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from api.access import Principal
from api.cache import TtlCache
from api.keys import Role
from api.params import PAGE_MAX, Page, TimeRange, iso
from api.services.queries import Scope, amount_totals, paged, where
from api.services.reports import permits_of
from api.services.standings import ranked
from api.state import AppState
from api.tiers import restrict
from core.registry import Enterprise
from store.alert_filter import AlertFilter
from store.reviews import DayReviews

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
DEFAULT_DAYS = 30  # the hours a default view shows: the API's default range, the page's
ALERTS_API, ALERTS_PAGE = 100, 200  # the alerts the API answers by default, a page shows
NOT_REVIEWED = "not yet reviewed"
REVIEWED = "reviewed"
HOUR_FIELDS = ("time", "outlet", "pollutant", "valid", "mean_ref", "limit", "limit_min",
               "exceeded", "multiple", "status")
CSV_COLUMNS = ("time", "enterprise", "outlet", "pollutant", "valid", "mean_ref", "limit",
               "exceeded", "status", "review")
GZIP_LEVEL = 6  # 169 kB of hours: 11.6 kB in 2.0 ms (level 1: 13.3 kB, 0.8 ms; 9: 10.7 kB, 4.7 ms)
# Who the public is when it reads rankings: every enterprise, nothing else (the answer is then
# narrowed to the public fields by api.tiers.restrict).
EVERYONE = Principal("public", Role.INSPECTOR)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3; no header: identity)."""
    parts = (p.partition(";q=") for p in accept_encoding.lower().replace(" ", "").split(","))
    q = {c.partition(";")[0]: float(w) if w.replace(".", "", 1).isdigit() else 1.0
         for c, _, w in parts}
    return q.get("gzip", q.get("x-gzip", q.get("*", 0.0))) > 0


@dataclass(frozen=True, slots=True)
class Answer:
    """A public answer (JSON, or a page's HTML) gzip-compressed, and its plain bytes' ETag."""

    gz: bytes
    etag: str

    @classmethod
    def packed(cls, body: bytes) -> Answer:
        return cls(gzip.compress(body, GZIP_LEVEL, mtime=0),
                   f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"')

    @classmethod
    def of(cls, value: Any) -> Answer:
        return cls.packed(orjson.dumps(restrict(value)))

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.gz)

    def value(self) -> Any:
        return orjson.loads(self.body)

    def sent(self, accept_encoding: str) -> tuple[bytes, dict[str, str]]:
        """The bytes to send to a client with this ``Accept-Encoding``, and their headers."""
        if accepts_gzip(accept_encoding):
            return self.gz, {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return self.body, {"Vary": "Accept-Encoding"}


def cache_of(state: AppState, search: bool) -> TtlCache:
    return state.public_search_cache if search else state.public_cache


def cached(state: AppState, until: int, key: tuple[Hashable, ...],
           compute: Callable[[], Any], *, search: bool = False) -> Answer:
    """``compute()`` (an answer of the publication cut ``until``) as an ``Answer``, cached
    under ``key`` and ``until`` (``search``: in the searches' cache)."""
    found: Answer = cache_of(state, search).get_or_compute(("answer", until, *key),
                                                           lambda: Answer.of(compute()))
    return found


def page_body(state: AppState, until: int, key: tuple[Hashable, ...],
              render: Callable[[], bytes], *, search: bool = False) -> Answer:
    """A public page's HTML (``render()``, of the cut ``until``) as an ``Answer``, cached under
    ``key`` and ``until`` (``search``: in the searches' cache)."""
    found: Answer = cache_of(state, search).get_or_compute(("page", until, *key),
                                                           lambda: Answer.packed(render()))
    return found


def forget(state: AppState, enterprise_id: str) -> int:
    """Forget the cached answers and pages about one enterprise (its day was reviewed)."""
    return state.public_cache.drop(lambda key: isinstance(key, tuple) and enterprise_id in key)


def published_until(state: AppState) -> int:
    """The end of the last published clock hour (epoch ms)."""
    cutoff = state.now_ms() - state.settings.api_public_delay_s * 1000
    return cutoff - cutoff % HOUR_MS


def until_next_cut_s(state: AppState) -> int:
    """Seconds until the next hour is published: how long an answer of this cut stays true."""
    cutoff = state.now_ms() - state.settings.api_public_delay_s * 1000
    return -(-(HOUR_MS - cutoff % HOUR_MS) // 1000)


def usual_range(start_ms: int, end_ms: int, until: int) -> bool:
    """True for the default view's hours (shared by every reader; prepared each hour)."""
    usual = default_range(until)
    return (start_ms, end_ms) == (usual.start_ms, usual.end_ms)


def local_day(ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).date().isoformat()


def local_days(times: list[int], timezone: str) -> list[str]:
    """The local day of each time (epoch ms, ascending): one time-zone conversion a day."""
    tz = ZoneInfo(timezone)
    out: list[str] = []
    start = end = 0
    day = ""
    for ms in times:
        if not start <= ms < end:
            midnight = datetime.fromtimestamp(ms / 1000, tz).replace(hour=0, minute=0, second=0,
                                                                     microsecond=0)
            day = midnight.date().isoformat()
            start = int(midnight.timestamp() * 1000)
            end = int((midnight + timedelta(days=1)).timestamp() * 1000)
        out.append(day)
    return out


def statuses(state: AppState, until: int) -> dict[str, str]:
    """Each enterprise's status at the cut ``until``: ``exceeded`` when a pollutant exceeded in
    the last published hour, ``compliant`` when it was judged, ``no_data`` otherwise."""

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


def enterprises(state: AppState, until: int, q: str | None, region: str | None,
                industry: str | None) -> Answer:
    """Registered enterprises matching the search (name or id contains ``q``,
    case-insensitive; region; industry) with their status: ``total`` and ``items``."""

    def compute() -> dict[str, Any]:
        st = statuses(state, until)
        needle = q.casefold() if q else None
        items = [enterprise_public(e, st.get(e.id, "no_data"))
                 for _, e in sorted(state.registry.enterprises.items())
                 if (needle is None or needle in e.name.casefold()
                     or needle in e.id.casefold())
                 and (region is None or e.region == region)
                 and (industry is None or e.industry == industry)]
        return {"total": len(items), "items": items}

    return cached(state, until, ("enterprises", q, region, industry), compute,
                  search=bool(q or region or industry))


def one_enterprise(state: AppState, until: int, ent: Enterprise) -> Answer:
    return cached(state, until, ("enterprise", ent.id),
                  lambda: enterprise_public(ent, statuses(state, until).get(ent.id, "no_data")))


def hour_rows(state: AppState, ent: Enterprise, span: TimeRange) -> list[list[Any]]:
    """The enterprise's judged hours of ``span`` in time order, as values in the order of
    HOUR_FIELDS (time in epoch ms): only the public fields are read."""
    fields = ", ".join(f'"{f}"' for f in HOUR_FIELDS[1:])
    found: list[list[Any]] = []
    while len(found) < 100_000:
        q = (f'SELECT {fields} FROM "hourly"' + where(Scope(ent.id).conditions(),
                                                      span.influxql())
             + paged(Page(PAGE_MAX, len(found))))
        got = 0
        for s in state.store.query(q):
            at = {c: i for i, c in enumerate(s.columns)}
            pos = [at.get(f) for f in HOUR_FIELDS]  # a field never written has no column
            found.extend([None if i is None else v[i] for i in pos] for v in s.values)
            got += len(s.values)
        if got < PAGE_MAX:
            break
    return found


def hours(state: AppState, until: int, ent: Enterprise, tr: TimeRange) -> Answer:
    """The published judged hours of ``tr`` (cut at ``until``), each with the review state of
    its local day."""
    end = min(tr.end_ms, until)

    def compute() -> dict[str, Any]:
        found = hour_rows(state, ent, TimeRange(tr.start_ms, end)) if tr.start_ms < end else []
        days = local_days([r[0] for r in found], state.settings.timezone)
        reviewed = DayReviews(state.records).reviewed(ent.id, sorted(set(days)))
        items = []
        for r, day in zip(found, days, strict=True):
            item = dict(zip(HOUR_FIELDS, r, strict=True))
            item["time"] = iso(r[0])
            item["day"] = day
            item["review"] = REVIEWED if day in reviewed else NOT_REVIEWED
            items.append(item)
        return {"enterprise": ent.id, "start": iso(tr.start_ms), "end": iso(end),
                "published_until": iso(until), "reviewed": sorted(reviewed),
                "count": len(items), "items": items}

    return cached(state, until, ("hours", ent.id, tr.start_ms, end), compute,
                  search=not usual_range(tr.start_ms, end, until))


def alerts(state: AppState, until: int, ent: Enterprise, limit: int) -> Answer:
    """The enterprise's alerts that started before ``until``: kind, time, status (``count``,
    ``items``)."""

    def compute() -> dict[str, Any]:
        found = state.results.list_alerts(AlertFilter(enterprises=(ent.id,), until_ms=until),
                                          limit)
        items = [{"id": a.id, "kind": a.kind, "outlet": a.outlet, "pollutant": a.pollutant,
                  "start": iso(a.start_ms), "end": iso(a.end_ms), "active": a.active,
                  "status": a.status} for a in found]
        return {"count": len(items), "items": items}

    return cached(state, until, ("alerts", ent.id, limit), compute,
                  search=limit not in (ALERTS_API, ALERTS_PAGE))


def rankings(state: AppState, until: int, tr: TimeRange) -> Answer:
    """Every enterprise ranked over ``tr`` (``total``, ``items``)."""

    def compute() -> dict[str, Any]:
        _, _, found = ranked(state, EVERYONE, tr)
        items = [{"rank": r.rank, "enterprise": r.enterprise, "name": e.name,
                  "region": e.region, "industry": e.industry,
                  "compliance_rate": r.rates.compliance,
                  "effective_transmission_rate": r.rates.effective_transmission,
                  "status": r.status, "exceedance_hours": r.totals.exceeded_hours,
                  "exceedance_days": r.totals.exceeded_days,
                  "judged_hours": r.totals.judged_hours, "judged_days": r.totals.judged_days}
                 for r in found if (e := state.registry.enterprises.get(r.enterprise))
                 is not None]
        return {"total": len(items), "items": items}

    return cached(state, until, ("rankings", tr.start_ms, tr.end_ms), compute,
                  search=not usual_range(tr.start_ms, tr.end_ms, until))


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


def amounts(state: AppState, until: int, ent: Enterprise) -> Answer:
    """The enterprise's emitted tonnes of the local year so far (the days published) against
    its permitted t/a (core.permits; the rankings' permit share, issue 12)."""
    tz = ZoneInfo(state.settings.timezone)
    year = datetime.fromtimestamp(until / 1000, tz).year
    start = int(datetime(year, 1, 1, tzinfo=tz).timestamp() * 1000)

    def compute() -> dict[str, Any]:
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

    return cached(state, until, ("amounts", ent.id), compute)


def default_range(until: int) -> TimeRange:
    """The hours of a default view: the ``DEFAULT_DAYS`` before the cut."""
    return TimeRange(max(0, until - DEFAULT_DAYS * DAY_MS), until)
