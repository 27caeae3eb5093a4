"""Every rule constant the oracle applies, in one place, with the clause it comes from.

The oracle must predict what the compliance engine (``alerts/``) concludes, without running
it; align these with the engine's constants when either changes. References are to
``shared/reference/compliance-rules.md`` (§) unless named otherwise; [M] marks a value no text
we read fixes: the engine's configurable choice, mirrored here.
"""

from __future__ import annotations

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# Validity (§1.3, HJ 76-2017 App. B) ------------------------------------------------------
MIN_VALID_SECONDS_PER_HOUR = 45 * 60  # 45 valid minutes of 60; other intervals: the same
# 3/4 share rounded up, ceil(2700 / interval_s): 1 for a batch analyser sampling every 1 h+.
MIN_VALID_HOURS_PER_DAY = 20  # a valid day; a batch analyser (interval > 1 h) needs the same
# 20/24 share of its expected samples, ceil(20 * 3600 / interval_s) (HJ 356-2019 not read [M]).
VALID_FLAGS = frozenset("N")  # §1.4: only N values are measured values
OVER_RANGE_FLAG = "T"  # §1.4: a lower bound, valid at max(value, range_max) (§2 design)
# F (HJ 212-2017: analyser stopped), M, S, D, C, B: invalid data, counted as received (§1.2
# note, §1.4); never evidence that the source stopped.

# Operating state (§1.2 guard, §1.4 marks, §1.6 declared stops) ----------------------------
O2_CUTOFF_PCT = 19.0  # O2 mean at or above it: stopped with evidence, else unexplained [M]
STOP_EVIDENCE_MIN_S = 1800  # evidence covering half an hour stops it; any evidence with high
# O2 too (the engine's design choice: HJ 75-2017 on partly stopped hours not read [M])
CAPPED_MARK_KINDS = frozenset({"shutdown", "startup", "fault"})  # §1.4 work-state marking
MARK_EVENT_CAP_H = 4.0  # exempt at most 4 h per event ... [M]
MARK_ANNUAL_CAP_H = 60.0  # ... and 60 h a year (local calendar year) [M]
CAPPED_LIMIT_PREFIXES = ("cn.gb18485",)  # the caps come with GB 18485 (waste incineration)
# limit entries (the engine reads mark_event_cap_h / mark_annual_cap_h from limits.toml)

# Hour statuses, in the engine's order of precedence -------------------------------------
COMPLIANT = "compliant"
EXCEEDED = "exceeded"
SUSPECTED = "suspected_exceedance"  # valid, not exceeded, with T minutes (§1.4)
INVALID = "invalid"
NOT_OPERATING = "not_operating"  # stop evidence: out of every rate's denominator (§1.6)
HIGH_O2 = "unexplained_high_o2"  # O2 >= cut-off without evidence: not valid, alerted (§1.2)

# Exceedance (§1.5, §2) -----------------------------------------------------------------
# Hourly: valid and O2-corrected mean > limit, strictly; daily: valid day mean > daily limit;
# multiple (C - L) / L; ranges (pH) judged on hourly and daily values, bounds included.
AIR_O2_PCT = 21.0  # §1.2 formula (1): C_ref = C x (21 - O2_ref) / (21 - O2)

# Alerts (DESIGN §4; the scheduler's settings) -------------------------------------------
FLAT_MIN_HOURS = 4  # suspicious_flatline: this many valid hours with one identical mean
GAP_ALERT_MIN_MS = HOUR_MS  # data_gap: a silence of at least an hour
GAP_QUIET_MAX_MS = 15 * 60_000  # holes up to this raise nothing
INVALID_HOURS_MAX = 4  # invalid_data: more than this many operating, received, invalid hours
# in a local day (alerts_invalid_hours)
ALERT_HIGH_O2 = "unexplained_high_o2"  # one alert per run of such hours (opening checked)
ALERT_INVALID_OVER = "invalid_hour_over_limit"  # an invalid hour whose valid minutes' corrected
# mean is over the limit anyway
DAY_PERIOD = "day"  # exceeded days open exceedance alerts of their own (period=day)
# Fraud signs (alerts.rules.fraud; the scheduler's alerts_pinned_* and alerts_o2_* defaults)
ALERT_PINNED = "pinned_under_limit"
PINNED_MIN_HOURS = 6  # consecutive valid hours ...
PINNED_BAND = 0.90  # ... with corrected means in [0.90 x limit, limit] and a CV of at most
PINNED_MAX_CV = 0.005  # 0.5 %: a "pinned" incident (not constant) writes ratio x limit
ALERT_FORGED_O2 = "o2_inconsistent"
O2_MIN_HOURS = 2  # consecutive valid hours whose O2 is ...
O2_SHIFT_PCT = 3.0  # ... this many points (and 3 sd) below the mean of the hours before ...
O2_SHIFT_SIGMAS = 3.0
O2_RISE = 1.5  # ... while the raw reading is this many times its mean before
O2_HISTORY_MIN_HOURS = 3  # valid hours before, at least
ALERT_NEAR_CONSTANT = "near_constant"
CONSTANT_HOURS = 3  # consecutive operating hours whose minutes' within-hour CV is at most ...
CONSTANT_RATIO = 0.25  # ... this x the lower-quartile CV of the operating hours before ...
CONSTANT_HISTORY_MIN_HOURS = 12  # ... at least this many of them (CO spikes come in runs)
CONSTANT_QUANTILE = 0.25  # the lower quartile, nearest rank (alerts.rules.fraud)
CONSTANT_KEYS = ("o2", "flow", "temp", "water_flow")  # besides the judged pollutants
CONSTANT_MIN_SHARE = 0.75  # an hour needs 3/4 of its expected minutes
ALERT_BELOW_NORM = "o2_below_norm"  # operating hours with O2 under the source type's floor
O2_NORM_HOURS = 3  # ... this many in a row (floors: config/o2_norms.toml, alerts.rules.oxygen)
ALERT_AGAINST_FLOW = "o2_against_flow"  # O2 this many points under the usual O2 ...
O2_FLOW_SHIFT_PCT = 1.5
O2_FLOW_TOLERANCE = 0.15  # ... of the hours whose flow was within this share ...
O2_FLOW_SIMILAR_MIN_HOURS = 3  # ... (at least 3 of them) ...
O2_FLOW_HISTORY_MS = 48 * HOUR_MS  # ... in the 48 h before
O2_FLOW_HOURS = 3  # ... for this many hours in a row
ALERT_FLAGS = "flags_follow_readings"
FLAGS_HOURS = 2  # consecutive hours whose valid minutes' corrected mean is at least ...
FLAGS_HIGH_SHARE = 0.80  # ... this share of the limit, with M/C/D/S flags on at least ...
FLAGS_MIN_SHARE = 0.10  # ... this share of their minutes and ...
FLAGS_RATIO = 3.0  # ... this many times the share in the other hours (at least ...
FLAGS_HISTORY_MIN_HOURS = 12  # ... this many of them)
ALERT_MANUAL = "manual_values"  # a run of hours with S (manually set) values
# The device's own word (alerts.rules.devices, analysers; alerts_device_*, alerts_analyser_*):
# only the ``aggregates`` and ``analyser_tuned`` incidents make a device report anything, so
# none of these is expected elsewhere (the honest outlets' guard against false positives).
ALERT_DEVICE = "device_mismatch"  # a device -Avg off the service's mean by more than ...
ALERT_CORRECTED = "corrected_mismatch"  # (a -ZsAvg off the prescribed conversion by more than)
DEVICE_TOLERANCE = 0.05  # ... 5 % of the larger value (for at least 1 hour)
DEVICE_MARGIN = 0.03  # a factor this close to the tolerance is not called
ALERT_ANALYSER = "analyser_change"
ANALYSER_HOURS = 3  # valid hourly means of the 3 h after a change at most ...
ANALYSER_DROP = 0.20  # ... (1 - 0.20) x those of the 3 h before
ANALYSER_MARGIN = 0.05  # a ratio this close to 1 - ANALYSER_DROP is not called
ALERT_COPIED = "copied_day"  # a day of a ``copied`` incident; noisy minutes never repeat

# What the oracle dares to predict (noise is added on the wire) --------------------------
NOISE_SIGMAS = 6.0  # a verdict only when the nominal value is farther from the limit ...
MARGIN_SHARE = 0.01  # ... and at least 1 % of the limit (or of a range's span)
ROUNDING_VAR = 0.0005**2 / 3  # values go out with three decimals
O2_MARGIN_PCT = 0.05  # an O2 mean this close to the cut-off (plus noise) is not called
HOUR_TOLERANCE_MS = HOUR_MS  # alerts whose opening the engine may place by the hour


def min_valid(interval_s: int) -> int:
    """Valid samples an hour needs (§1.3): ceil(2700 / interval_s)."""
    return -(-MIN_VALID_SECONDS_PER_HOUR // interval_s)


def min_valid_hours(interval_s: int) -> int:
    """Valid hours a day needs: 20, or 20/24 of a batch analyser's expected samples."""
    if interval_s <= HOUR_MS // 1000:
        return MIN_VALID_HOURS_PER_DAY
    return -(-MIN_VALID_HOURS_PER_DAY * 3600 // interval_s)


def mark_caps(limit_ids: tuple[str, ...]) -> tuple[float | None, float | None]:
    """(event cap, annual cap) in hours for an outlet with these limits, or (None, None)."""
    if any(x.startswith(CAPPED_LIMIT_PREFIXES) for x in limit_ids):
        return MARK_EVENT_CAP_H, MARK_ANNUAL_CAP_H
    return None, None

# Amounts and permits (issue 12; alerts.rules.amounts, alerts.permitalerts) ------------------
KG_PER_MG = 1e-6
KG_PER_T = 1000.0
RATE_KIND = "rate_limit"  # a run of hours whose measured kg/h is above the GB 16297 limit
PERMIT_LEVELS = (("permit_80", 0.8), ("permit_100", 1.0))  # the year's total passing a share
PROJECTION_KIND = "permit_projection"  # on course to pass the permit before year end
PROJECTION_MIN_ELAPSED_MS = 24 * HOUR_MS  # judged from a day of data on
RATE_MARGIN_SHARE = 0.05  # an hour within 5 % of the rate limit is too close to call
AMOUNT_TOLERANCE_MS = 2 * HOUR_MS  # the hour a running total passes a share, noise allowing
