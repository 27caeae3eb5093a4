"""Exceedance episodes of *days*: a valid daily mean above a daily limit (compliance-rules.md
§1.5: waste incineration is judged on valid daily means against the 24-h limit, wastewater on
the daily mean, GB 8978-1996 §5.2).

Derived from the stored ``day`` verdicts (``alerts.judging``), of completed local days only (a
day still running has no daily mean yet), per outlet and pollutant with a daily limit:

- consecutive exceeded days are one episode, like hours (``episodes.derive_episodes``): it
  opens on the first exceeded valid day, grows with each further one, and closes on the first
  valid compliant day (``end_ms`` = that day's start); invalid or missing days neither grow nor
  close it;
- kind ``exceedance`` with the tag ``period=day``: the id is ``alert_id(..., period="day")``,
  so a day episode never takes the id of an hourly one starting at the same midnight, and
  hourly ids are unchanged;
- ``hours`` = 24 per exceeded day; ``peak_multiple`` and ``peak_value`` (the daily corrected
  mean) are the largest of its days; severity from the peak multiple, at least ``medium``:
  a whole day's mean over its limit is never a trifle (a product choice, not a rule);
- resolved by an inspector while it went on: split as hourly ones (``alerts.rules.splits``).

Stable ids: derivation starts at the first day re-judged by the pass, or earlier at the start of
a stored day episode still open or ended since; stored ones no longer found are withdrawn
(``alerting._withdraw``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from alerts.alerting import (
    AlertReport,
    _is_withdrawn,
    reconcile,
    resolved_cuts,
)
from alerts.plan import Key, SeriesPlan
from alerts.rules import episodes
from alerts.rules.splits import split_resolved
from store.influx import InfluxStore
from store.results import Alert, Episode, ResultStore

DAY = "day"
Verdict = tuple[int, bool, bool, float, float]  # day start s, valid, exceeded, multiple, mean


def maintain_day_alerts(store: InfluxStore, plan: SeriesPlan,
                        days: Sequence[tuple[int, int]], end_s: int) -> AlertReport:
    """Derive the day episodes of the completed ``days`` (re-judged by the pass) up to
    ``end_s`` and store what changed."""
    complete = [d for d in days if d[1] <= end_s]
    if not complete or not plan.has_day_limit.any():
        return AlertReport(0, 0, 0)
    w, last = complete[0][0], complete[-1][1]
    results = ResultStore(store)
    stored = _affected(results, plan, w, last)
    anchors: dict[Key, int] = {}
    for a in stored.values():
        if not _is_withdrawn(a):
            key = (a.enterprise, a.outlet, a.pollutant)
            anchors[key] = min(anchors.get(key, w), a.start_ms // 1000)
    verdicts = _read_days(store, plan, min([w, *anchors.values()]), last)
    cuts = resolved_cuts(stored)
    derived: list[Episode] = []
    for key, rows in verdicts.items():
        start = anchors.get(key, w)
        mine = [r for r in rows if r[0] >= start]
        if key in anchors or any(r[2] for r in mine if r[0] >= w):
            derived += _episodes(plan, key, mine, cuts.get(key, {}), dict(days), last)
    return reconcile(results, stored, derived, last)


def _affected(results: ResultStore, plan: SeriesPlan, w: int, last: int) -> dict[str, Alert]:
    where = (f"\"kind\" = 'exceedance' AND \"period\" = '{DAY}' AND (\"active\" = true OR "
             f'"end_ms" >= {w * 1000}) AND time < {last * 1000}ms')
    return {a.id: a for a in results.list_alerts(where, limit=1_000_000)
            if (a.enterprise, a.outlet, a.pollutant) in plan.index}


def _read_days(store: InfluxStore, plan: SeriesPlan, start_s: int, end_s: int
               ) -> dict[Key, list[Verdict]]:
    """Stored day verdicts of ``[start_s, end_s)`` per series with a daily limit, by day."""
    q = (f'SELECT "valid", "exceeded", "multiple", "mean_ref" FROM "day" WHERE '
         f"time >= {int(start_s)}s AND time < {int(end_s)}s "
         'GROUP BY "enterprise", "outlet", "pollutant"')
    with_limit = plan.has_day_limit
    out: dict[Key, list[Verdict]] = {}
    for s in store.query(q):
        key = (s.tags.get("enterprise", ""), s.tags.get("outlet", ""),
               s.tags.get("pollutant", ""))
        i = plan.index.get(key)
        if i is None or not with_limit[i]:
            continue
        out[key] = [(int(t) // 1000, bool(ok), bool(exc), _num(mult), _num(mean))
                    for t, ok, exc, mult, mean in s.values]
    return out


def _num(x: object) -> float:
    return float(x) if isinstance(x, int | float) else math.nan


def _bound(lim: float, low: float) -> str:
    if math.isnan(low):
        return f"{lim:g}"
    return f">= {low:g}" if math.isnan(lim) else f"{low:g}-{lim:g}"


def _episodes(plan: SeriesPlan, key: Key, rows: list[Verdict], cuts: dict[int, tuple[int, str]],
              ends: dict[int, int], last: int) -> list[Episode]:
    """Episodes of one series; ``ends``: local day start -> next midnight, of the pass's days
    (older days are taken as 24 h long: only the ``updated`` time of an episode uses it)."""
    i = plan.index[key]
    bound = _bound(float(plan.day_limit[i]), float(plan.day_limit_min[i]))
    verdicts = [episodes.ExceedanceHour(d, ok, exc, mult) for d, ok, exc, mult, _ in rows]
    out = []
    for part in split_resolved(verdicts, cuts):
        ep = part.episode
        inside = [r for r in rows if r[2] and ep.start_s <= r[0] <= ep.last_exceeded_s]
        peak_value = max((r[4] for r in inside if not math.isnan(r[4])), default=math.nan)
        grade = max(episodes.severity(ep.peak_multiple, 0), episodes.Severity.MEDIUM)
        out.append(Episode(
            "exceedance", *key, ep.start_s * 1000, active=ep.is_open,
            hours=24.0 * ep.exceeded_hours,
            updated_ms=(ep.closed_s if ep.closed_s is not None
                        else ends.get(ep.last_exceeded_s, ep.last_exceeded_s + 86_400)) * 1000,
            end_ms=None if ep.closed_s is None else ep.closed_s * 1000,
            peak_multiple=None if math.isnan(ep.peak_multiple) else ep.peak_multiple,
            peak_value=None if math.isnan(peak_value) else peak_value,
            severity=grade.name.lower(), period=DAY, follows=part.follows,
            detail=f"daily limit {bound} ({plan.day_limit_id[i]}): "
                   f"{ep.exceeded_hours} exceeded day(s)"))
    return out
