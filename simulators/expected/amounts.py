"""Amount, rate-limit and permit expectations (issue 12). Pure: no I/O.

For outlets whose scenario entry names registry amount entries (``OutletSpec.registry_extra``,
``enterprise_extra``: ``permit_t_a``, ``stack_height_m``, ``rate_limits``, ``flow_basis``):

- an hour's amount is its nominal measured (not corrected) mean x the hour's mean stored flow
  (flag N) x 3600 s (standard dry flow, the scenarios' basis; an outlet with another basis is
  left out as ambiguous); a valid hour only: an invalid one would be filled (HJ 75-2017 §12),
  which the oracle does not predict, so a permit holder with one is left out;
- ``rate_limit``: runs of hours above the kg/h limit at the stack's height (linear between the
  listed heights), each hour farther than ``RATE_MARGIN_SHARE`` from it;
- ``permit_80``/``permit_100``: the hour the running total (from the scenario start: nothing
  is stored before) passes the share of the permitted t/a, within ``AMOUNT_TOLERANCE_MS``;
  ``permit_projection``: the first hour, from a day of data on, when the total so far at its
  rate since the scenario start (the outlets' registration) would pass the permit by year end
  while it has not yet. Otherwise no such alert. Enterprise permits sum its outlets.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime

from simulators.expected import rules as R
from simulators.expected.hours import OutletResult, collect
from simulators.outcome import Expectation
from simulators.process import INDUSTRY_MODELS
from simulators.scenario import Scenario

HOUR_MS = R.HOUR_MS
Series = dict[int, float | None]  # hour start ms -> kg (None: unknown)


def _flow(scenario: Scenario, i: int) -> dict[int, float]:
    stored, _, _ = collect(scenario, i)
    key = INDUSTRY_MODELS[scenario.outlets[i].industry].flow_key
    sums: dict[int, list[float]] = defaultdict(list)
    for stamp, slot in stored.items():
        entry = slot.get(key)
        if entry is not None and entry[1] == "N":
            sums[stamp // HOUR_MS * HOUR_MS].append(entry[0])
    return {h: sum(v) / len(v) for h, v in sums.items()}


def _hourly(res: OutletResult, flow: dict[int, float]) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for p, hours in res.hours.items():
        if p == "ph":
            continue
        kg: Series = {}
        for h in hours:
            q = flow.get(h.start_ms)
            if h.valid is True and h.mean is not None and q is not None:
                kg[h.start_ms] = h.mean * q * 3600 * R.KG_PER_MG
            elif h.valid is None or (h.status == R.INVALID and h.operating is not False):
                kg[h.start_ms] = None
        out[p] = kg
    return out


def _rate_at(table: dict[str, float], height: float) -> float | None:
    pts = sorted((float(k), float(v)) for k, v in table.items())
    for (h0, q0), (h1, q1) in itertools.pairwise(pts):
        if h0 <= height <= h1:
            return q0 + (q1 - q0) * (height - h0) / (h1 - h0)
    return next((q for h, q in pts if h == height), None)


def amount_expectations(scenario: Scenario, results: dict[int, OutletResult]
                        ) -> tuple[list[Expectation], list[str]]:
    out: list[Expectation] = []
    unsure: list[str] = []
    end = scenario.end_ms
    series: dict[tuple[str, str, str], Series] = {}
    ent_permits: dict[str, dict[str, float]] = {}
    for i, spec in enumerate(scenario.outlets):
        extra, ent_extra = dict(spec.registry_extra), dict(spec.enterprise_extra)
        if not extra and not ent_extra:
            continue
        if extra.get("flow_basis", "standard_dry") != "standard_dry":
            unsure.append(f"amounts {spec.name}: flow basis not standard dry")
            continue
        if ent_extra.get("permit_t_a"):
            ent_permits[spec.enterprise] = dict(ent_extra["permit_t_a"])
        kg = _hourly(results[i], _flow(scenario, i))
        for p, s in kg.items():
            series[(spec.enterprise, spec.outlet, p)] = s
        for p, table in dict(extra.get("rate_limits", {})).items():
            limit = _rate_at(dict(table), float(extra.get("stack_height_m", 0.0)))
            if limit is None or p not in kg:
                unsure.append(f"rate_limit {spec.name}/{p}: no limit at the stack's height")
                continue
            out += _rate(spec.enterprise, spec.outlet, p, kg[p], limit, end, unsure)
        for p, t_a in dict(extra.get("permit_t_a", {})).items():
            out += _permit(scenario, (spec.enterprise, spec.outlet, p), t_a, [kg.get(p, {})],
                           unsure)
    for e, permits in sorted(ent_permits.items()):
        for p, t_a in sorted(permits.items()):
            mine = [s for (ee, _, pp), s in series.items() if ee == e and pp == p]
            out += _permit(scenario, (e, "", p), t_a, mine, unsure)
    return out, unsure


def _rate(e: str, o: str, p: str, kg: Series, limit: float, end: int,
          unsure: list[str]) -> list[Expectation]:
    over: list[int] = []
    for h, v in sorted(kg.items()):
        if v is None or abs(v - limit) <= R.RATE_MARGIN_SHARE * limit:
            unsure.append(f"rate_limit {h} {e}/{o}/{p}: {v!r} kg/h too close to {limit:g}")
            return []
        if v > limit:
            over.append(h)
    runs: list[list[int]] = []
    for h in over:
        if runs and h == runs[-1][1] + HOUR_MS:
            runs[-1][1] = h
        else:
            runs.append([h, h])
    if not runs:
        return [Expectation("no_alert", e, o, p, 0, end, alert_kind=R.RATE_KIND)]
    return [Expectation("alert", e, o, p, first, None if last + HOUR_MS >= end
                        else last + HOUR_MS, alert_kind=R.RATE_KIND,
                        tolerance_ms=R.HOUR_TOLERANCE_MS, why="GB 16297 kg/h limit")
            for first, last in runs]


def _permit(scenario: Scenario, holder: tuple[str, str, str], t_a: float,
            parts: list[Series], unsure: list[str]) -> list[Expectation]:
    e, o, p = holder
    hourly: dict[int, float] = defaultdict(float)
    for s in parts:
        for h, v in s.items():
            if v is None:
                unsure.append(f"permit {e}/{o}/{p}: hour {h} not measured")
                return []
            hourly[h] += v
    permit = t_a * R.KG_PER_T
    out: list[Expectation] = []
    cum = 0.0
    passed: dict[str, int] = {}
    projected_at: int | None = None
    start = scenario.start_ms
    for h in sorted(hourly):
        cum += hourly[h]
        for kind, level in R.PERMIT_LEVELS:
            if kind not in passed and cum >= level * permit:
                passed[kind] = h
        year = datetime.fromtimestamp(h / 1000, scenario.tz).year
        y1 = int(datetime(year + 1, 1, 1, tzinfo=scenario.tz).timestamp() * 1000)
        y0 = int(datetime(year, 1, 1, tzinfo=scenario.tz).timestamp() * 1000)
        since = max(start, y0)
        elapsed = h + HOUR_MS - since
        if (projected_at is None and elapsed >= R.PROJECTION_MIN_ELAPSED_MS and cum < permit
                and cum * (y1 - since) / elapsed > permit):
            projected_at = h
    found = {**passed, **({R.PROJECTION_KIND: projected_at} if projected_at is not None else {})}
    for kind in (*(k for k, _ in R.PERMIT_LEVELS), R.PROJECTION_KIND):
        if kind in found:
            h = found[kind]
            out.append(Expectation("alert", e, o, p, h, h + HOUR_MS, alert_kind=kind,
                                   tolerance_ms=R.AMOUNT_TOLERANCE_MS,
                                   why=f"permit {t_a:g} t/a"))
        else:
            out.append(Expectation("no_alert", e, o, p, scenario.start_ms, scenario.end_ms,
                                   alert_kind=kind))
    return out
