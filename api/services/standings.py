"""The rankings as the route and the ranking page serve them: every enterprise's totals over
a period (cached for ``api_rankings_cache_s``), narrowed to the caller's reach and filters,
ranked (api.services.rankings holds the formulas), and each row's public form."""

from __future__ import annotations

import logging

from fastapi import HTTPException

from api.access import Principal
from api.keys import Role
from api.models import RankingPublic
from api.params import TimeRange, time_range
from api.services.queries import amount_totals, bucket_totals, open_alert_counts
from api.services.rankings import Ranked, Totals, buckets, ceil_day, permit_share, rank
from api.services.reports import permits_of
from api.state import AppState
from store.influx import StoreError

log = logging.getLogger(__name__)

Period = tuple[list[str], dict[str, list[Totals]], dict[str, int]]


def period_totals(state: AppState, tr: TimeRange, per: str) -> Period:
    """Bucket labels, every registered enterprise's totals per bucket and its open alerts.

    Kept for ``api_rankings_cache_s``: daily summaries change when the scheduler runs.
    """

    def compute() -> Period:
        bks = buckets(tr.start_ms, tr.end_ms, state.settings.timezone, per)
        found = bucket_totals(state.store, bks, state.settings.api_summaries_rp)
        empty = [Totals()] * len(bks)
        totals = {e: found.get(e, empty) for e in state.registry.enterprises}
        return [b.label for b in bks], totals, open_alert_counts(state.store, tr.end_ms,
                                                                    state.workflows)

    result: Period = state.rankings_cache.get_or_compute(
        ("rankings", tr.start_ms, tr.end_ms, per), compute)
    return result


def normalise(tr: TimeRange, timezone: str) -> TimeRange:
    return TimeRange(ceil_day(tr.start_ms, timezone), ceil_day(tr.end_ms, timezone))


def warm_up(state: AppState) -> None:
    """Compute the default rankings (the last 30 days, per month) ahead of the first request."""
    tr = normalise(time_range(None, None, state.settings.api_max_span_results_days, 30,
                              state.now_ms()), state.settings.timezone)
    try:
        period_totals(state, tr, "month")
    except StoreError as exc:
        log.warning("could not prepare the default rankings: %s", exc)


def ranked(state: AppState, user: Principal, tr: TimeRange, region: str | None = None,
           industry: str | None = None, per: str = "month",
           ) -> tuple[TimeRange, list[str], list[Ranked]]:
    """The enterprises in the caller's reach (and the filters), ranked over the local days of
    ``tr``: the period actually ranked, the bucket labels and the ranked rows."""
    tr, labels, rows, _among = ranked_among(state, user, tr, region, industry, per)
    return tr, labels, rows


def ranked_among(state: AppState, user: Principal, tr: TimeRange, region: str | None = None,
                 industry: str | None = None, per: str = "month",
                 ) -> tuple[TimeRange, list[str], list[Ranked], int]:
    """As ``ranked``, with how many enterprises the ranks are counted among.

    Inspectors and admins rank the enterprises in their reach. An enterprise's key is ranked
    among every enterprise of the filters and gets its own row only: its rank and the count,
    none of the others' names or figures.
    """
    tr = normalise(tr, state.settings.timezone)
    if tr.start_ms >= tr.end_ms:
        raise HTTPException(422, "the period holds no local midnight, where daily summaries start")
    labels, totals, open_alerts = period_totals(state, tr, per)
    ents = state.registry.enterprises
    own = user.role is Role.ENTERPRISE
    chosen = {e: t for e, t in totals.items()
              if (own or user.can_see(ents[e])) and region in (None, ents[e].region)
              and industry in (None, ents[e].industry)}
    rows = rank(chosen, open_alerts)
    if own:
        rows = [r for r in rows if r.enterprise == user.enterprise]
    with_amounts(state, tr, rows)
    return tr, labels, rows, len(chosen)


def with_amounts(state: AppState, tr: TimeRange, rows: list[Ranked]) -> None:
    """Each row's tonnes in the period and share of its permit (issue 12)."""
    kg: dict[str, dict[str, float]] = state.rankings_cache.get_or_compute(
        ("amounts", tr.start_ms, tr.end_ms), lambda: amount_totals(state.store, tr.start_ms,
                                                                   tr.end_ms))
    for r in rows:
        r.tonnes = {p: v / 1000.0 for p, v in sorted(kg.get(r.enterprise, {}).items())}
        r.permit_share = permit_share(r.tonnes, enterprise_permit(state, r.enterprise))


def enterprise_permit(state: AppState, enterprise: str) -> dict[str, float]:
    """The enterprise-wide permitted t/a, else the sum of its outlets' (per pollutant)."""
    return permits_of(state.registry.enterprises[enterprise])


def ranking_public(state: AppState, r: Ranked) -> RankingPublic:
    e, t, rt = state.registry.enterprises[r.enterprise], r.totals, r.rates
    return RankingPublic(
        rank=r.rank, enterprise=e.id, name=e.name, region=e.region, industry=e.industry,
        compliance_rate=rt.compliance, exceedance_hours=t.exceeded_hours,
        exceedance_days=t.exceeded_days, judged_hours=t.judged_hours,
        judged_days=t.judged_days, max_multiple=t.max_multiple,
        transmission_rate=rt.transmission, validity_rate=rt.validity,
        effective_transmission_rate=rt.effective_transmission, open_alerts=r.open_alerts,
        status=r.status, tonnes=r.tonnes, permit_share=r.permit_share)
