"""Expected fraud-sign alerts of one outlet and pollutant, from its judged hours. Pure.

``pinned_under_limit`` (rules.PINNED_*): the engine needs a run of ``PINNED_MIN_HOURS`` valid
hours with corrected means in ``[PINNED_BAND x limit, limit]``. Where the nominal means have
no such run (with the noise margin of the verdicts), no alert is expected. Inside a ``pinned``
incident that is not ``constant`` (the logger writes ratio x limit, a little jitter: a CV far
under ``PINNED_MAX_CV``) with a ratio in the band, the run of valid hours is expected to raise
one. Other runs in the band (an honest process near its limit, a constant pin whose corrected
means follow the O2) are not called either way: the CV of the noisy measured values decides.

``near_constant`` (rules.CONSTANT_*): the engine's rule (the lower quartile of the CVs of the
operating hours before) on the expected within-hour CV of each
key's valid minutes (``hours.spreads``: the planned values' spread and the noise), with the
outlet operating when one of its judged pollutants' hours does; a CV too close to its
threshold, or an hour whose operating state is not called, leaves the key uncalled.

``flags_follow_readings`` (rules.FLAGS_*): the engine's rule on the planned flags (exact) and the
hours' nominal corrected means; a mean too close to the "high" share of the limit leaves the
pollutant uncalled. ``manual_values``: the runs of hours with S values, exactly.

``o2_inconsistent`` (rules.O2_*): the engine's rule on the nominal hours, with a running
history of the valid hours not flagged; an hour too close to a threshold leaves the pollutant
uncalled.

``device_mismatch`` (rules.DEVICE_*): the hours an ``aggregates`` incident reports
(``simulators.devicemsgs``: whole hours inside it, not the last of the scenario) that are valid
(with ``days``, also each whole day it reports with a valid hour, ``period = day``), where its
``factor`` is farther from 1 than the tolerance (plus a margin: the service averages noisy
minutes); ``corrected_mismatch`` the same with ``zs_factor`` on the hours with a mean; none
where no such incident plays or its factor is within the tolerance (less the margin), uncalled
in between. ``analyser_change`` (rules.ANALYSER_*): the engine's rule on the nominal raw means
of the hours around an ``analyser_tuned`` incident's start, uncalled within the margin.
``copied_day``: one alert per whole day of a ``copied`` incident, closed at the day's end; none
elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from simulators.expected import rules as R
from simulators.expected.hours import Flags, Hour, Spread
from simulators.incidents import Incident

HOUR_MS = R.HOUR_MS
O2_MARGIN_PCT = 0.3  # an hour's O2 this close to the threshold is not called
RISE_MARGIN = 0.1  # nor a raw mean this close (in multiples of the history mean)
EXACT_CV = 1e-9  # an exact constant (the engine's alerts.rules.fraud.EXACT_CV)
CV_MARGIN = 0.35  # nor a within-hour CV within 35 % of the threshold (sampling: 60 minutes)

Span = tuple[int, int]  # first hour start, last hour start (ms)
Add = Callable[[str, Span | None], None]  # alert kind, expected run (None: none expected)


def _runs(starts: list[int]) -> list[Span]:
    out: list[Span] = []
    for t in starts:
        if out and t == out[-1][1] + HOUR_MS:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def pinned(hours: list[Hour], limit: float | None, incidents: list[Incident], pollutant: str,
           add: Add) -> None:
    if limit is None or not limit > 0:
        return
    margin = R.MARGIN_SHARE * limit

    def near(h: Hour) -> bool:
        return (bool(h.valid) and h.mean_ref is not None
                and R.PINNED_BAND * limit - margin - R.NOISE_SIGMAS * h.sigma <= h.mean_ref
                <= limit + margin + R.NOISE_SIGMAS * h.sigma)

    long_runs = [r for r in _runs([h.start_ms for h in hours if near(h)])
                 if (r[1] - r[0]) // HOUR_MS + 1 >= R.PINNED_MIN_HOURS]
    if not long_runs:
        add(R.ALERT_PINNED, None)
        return
    pins = [inc for inc in incidents if inc.kind == "pinned" and not inc.get("constant", False)
            and inc.get("pollutant") == pollutant
            and R.PINNED_BAND + R.MARGIN_SHARE <= inc.get("ratio", 0.97) < 1.0]
    for inc in pins:
        inside = [h.start_ms for h in hours if h.valid and inc.start_ms <= h.start_ms < inc.end_ms]
        for run in _runs(inside):
            if (run[1] - run[0]) // HOUR_MS + 1 >= R.PINNED_MIN_HOURS:
                add(R.ALERT_PINNED, run)


def forged_o2(hours: list[Hour], add: Add) -> None:
    """Only for an O2-corrected pollutant (hours with ``o2_mean``)."""
    n, o2_sum, o2_sq, raw_sum = 0, 0.0, 0.0, 0.0
    flagged: list[int] = []
    for h in hours:
        if not h.valid or h.o2_mean is None or h.mean is None:
            continue
        if n >= R.O2_HISTORY_MIN_HOURS:
            mean_o2, mean_raw = o2_sum / n, raw_sum / n
            sd = math.sqrt(max(0.0, (o2_sq - n * mean_o2 ** 2) / (n - 1)))
            line = mean_o2 - max(R.O2_SHIFT_PCT, R.O2_SHIFT_SIGMAS * sd)
            if abs(h.o2_mean - line) < O2_MARGIN_PCT or (
                    mean_raw > 0 and abs(h.mean / mean_raw - R.O2_RISE) < RISE_MARGIN):
                return  # too close to call
            if h.o2_mean <= line and h.mean >= R.O2_RISE * mean_raw > 0:
                flagged.append(h.start_ms)
                continue
        n += 1
        o2_sum += h.o2_mean
        o2_sq += h.o2_mean ** 2
        raw_sum += h.mean
    found = [r for r in _runs(flagged) if (r[1] - r[0]) // HOUR_MS + 1 >= R.O2_MIN_HOURS]
    for run in found:
        add(R.ALERT_FORGED_O2, run)
    if not found and not flagged:
        add(R.ALERT_FORGED_O2, None)


def near_constant(spread: dict[int, Spread], operating: dict[int, bool | None],
                  need: int, exact_ok: bool, add: Add) -> None:
    """``operating``: hour -> whether the outlet operated (None: not called)."""
    history: list[float] = []
    flagged: list[int] = []
    for h in sorted(spread):
        n, _, cv = spread[h]
        op = operating.get(h, False)
        if op is None:
            return
        if not op or n < need or not math.isfinite(cv):
            continue
        ranked = sorted(history)
        quartile = ranked[max(0, math.ceil(R.CONSTANT_QUANTILE * len(ranked)) - 1)] \
            if ranked else 0.0
        if len(history) >= R.CONSTANT_HISTORY_MIN_HOURS and quartile > 0 and (
                exact_ok or cv > EXACT_CV):
            line = R.CONSTANT_RATIO * quartile
            if abs(cv - line) < CV_MARGIN * line:
                return
            if cv <= line:
                flagged.append(h)
                continue
        history.append(cv)
    found = [r for r in _runs(flagged) if (r[1] - r[0]) // HOUR_MS + 1 >= R.CONSTANT_HOURS]
    for run in found:
        add(R.ALERT_NEAR_CONSTANT, run)
    if not flagged:
        add(R.ALERT_NEAR_CONSTANT, None)


def flags_follow(hours: list[Hour], counts: dict[int, Flags], limit: float | None,
                 add: Add) -> None:
    if limit is None or not limit > 0:
        return
    line = R.FLAGS_HIGH_SHARE * limit
    b_flagged, b_received, b_hours = 0, 0, 0
    flagged: list[int] = []
    for h in hours:
        received, n_flagged, _ = counts.get(h.start_ms, (0, 0, 0))
        if not received:
            continue
        ref = h.mean_ref
        if ref is not None and abs(ref - line) <= R.NOISE_SIGMAS * h.sigma + R.MARGIN_SHARE * limit:
            return  # high or not: too close to call
        if h.status == R.HIGH_O2 and ref is None:
            return  # the engine has no corrected mean: not high, but not called here
        if ref is None or ref < line:
            b_flagged, b_received, b_hours = b_flagged + n_flagged, b_received + received, \
                b_hours + 1
            continue
        base = b_flagged / b_received if b_received else 0.0
        share = n_flagged / received
        if b_hours >= R.FLAGS_HISTORY_MIN_HOURS and share >= max(R.FLAGS_MIN_SHARE,
                                                                R.FLAGS_RATIO * base):
            flagged.append(h.start_ms)
    found = [r for r in _runs(flagged) if (r[1] - r[0]) // HOUR_MS + 1 >= R.FLAGS_HOURS]
    for run in found:
        add(R.ALERT_FLAGS, run)
    if not flagged:
        add(R.ALERT_FLAGS, None)


def manual(counts: dict[int, Flags], add: Add) -> None:
    found = _runs(sorted(h for h, (_, _, s) in counts.items() if s))
    for run in found:
        add(R.ALERT_MANUAL, run)
    if not found:
        add(R.ALERT_MANUAL, None)


def device(hours: list[Hour], incidents: list[Incident], pollutant: str, span: Span,
           add: Add, add_day: Callable[[int, int], None]) -> None:
    """``device_mismatch`` and ``corrected_mismatch`` (see the module docstring); ``span``:
    the scenario's start and end."""
    aggs = [inc for inc in incidents if inc.kind == "aggregates"
            and inc.get("pollutant") == pollutant]
    end_ms = span[1]
    for inc in aggs:
        if not inc.get("days", False) or abs(inc.get("factor", 0.6) - 1) < (
                R.DEVICE_TOLERANCE + R.DEVICE_MARGIN):
            continue
        for d0 in range(span[0], end_ms, R.DAY_MS):
            d1 = d0 + R.DAY_MS
            mine = [h for h in hours if d0 <= h.start_ms < d1]
            if inc.start_ms <= d0 and d1 <= min(inc.end_ms, end_ms - 1) and any(
                    h.valid for h in mine) and all(h.valid is not None for h in mine):
                add_day(d0, d1)
    def valid(h: Hour) -> bool:
        return bool(h.valid)

    def converted(h: Hour) -> bool:
        return h.mean is not None and h.o2_mean is not None

    for kind, name, counts in ((R.ALERT_DEVICE, "factor", valid),
                               (R.ALERT_CORRECTED, "zs_factor", converted)):
        default = 0.6 if name == "factor" else 1.0
        found: list[Span] = []
        sure = True
        for inc in aggs:
            off = abs(inc.get(name, default) - 1)
            inside = [h for h in hours if inc.start_ms <= h.start_ms
                      and h.start_ms + HOUR_MS <= min(inc.end_ms, end_ms - 1)]
            if off <= R.DEVICE_TOLERANCE - R.DEVICE_MARGIN:
                continue
            if off < R.DEVICE_TOLERANCE + R.DEVICE_MARGIN or any(
                    h.valid is None for h in inside):
                sure = False
                continue
            found += _runs([h.start_ms for h in inside if counts(h)])
        for run in found:
            add(kind, run)
        if sure and not found:
            add(kind, None)


def analyser(hours: list[Hour], incidents: list[Incident], pollutant: str, add: Add) -> None:
    """``analyser_change`` (see the module docstring)."""
    n, found, sure = R.ANALYSER_HOURS, 0, True
    by_start = {h.start_ms: h for h in hours}
    for inc in incidents:
        if inc.kind != "analyser_tuned" or inc.get("pollutant") != pollutant:
            continue
        ch = inc.start_ms // HOUR_MS * HOUR_MS
        around = [by_start.get(ch + k * HOUR_MS) for k in (*range(-n, 0), *range(1, n + 1))]
        if any(h is None or h.valid is None for h in around):
            sure = False
            continue
        means = [h.mean for h in around if h is not None and h.valid and h.mean is not None]
        if len(means) < 2 * n:
            continue  # the engine needs every hour around valid: no alert
        ratio = sum(means[n:]) / sum(means[:n])
        if ratio <= 1 - R.ANALYSER_DROP - R.ANALYSER_MARGIN:
            add(R.ALERT_ANALYSER, (ch, ch + n * HOUR_MS))
            found += 1
        elif ratio < 1 - R.ANALYSER_DROP + R.ANALYSER_MARGIN:
            sure = False
    if sure and not found:
        add(R.ALERT_ANALYSER, None)


def copied(incidents: list[Incident], add_day: Callable[[int, int], None], add: Add) -> None:
    """``copied_day``: each whole day of a ``copied`` incident (its start a local midnight)
    repeats the day before value for value, every hour of it; else none expected."""
    days = [(d0, d0 + R.DAY_MS) for inc in incidents if inc.kind == "copied"
            for d0 in range(inc.start_ms, inc.end_ms - R.DAY_MS + 1, R.DAY_MS)]
    for d0, d1 in days:
        add_day(d0, d1)
    if not days:
        add(R.ALERT_COPIED, None)
