"""Alert episodes from judged hours: exceedance episodes, flat-lined values, severity. Pure.

The scheduler feeds these the hour verdicts of one outlet and pollutant, in time order
(``alerts.rules.compliance.judge_hours`` rows). Everything here is deterministic in its input, so
re-deriving episodes from the same hours (re-judged late data, a second scheduler) gives the same
episodes (DESIGN.md §4: alerts are episodes that open, grow and close).

Exceedance episode (``advance``, ``derive_episodes``):

- opens on the first exceeded hour (valid and above the limit);
- grows on every further exceeded hour: ``exceeded_hours`` counts them and ``peak_multiple``
  keeps the largest multiple (NaN multiples, as for pH ranges, are skipped);
- closes on the first valid hour that is not exceeded; ``closed_s`` is that hour's start;
- invalid hours (too few valid minutes, outlet not operating) and missing hours neither grow nor
  close it.

Status runs (``status_runs``): consecutive clock hours whose verdict has one status, e.g.
``unexplained_high_o2`` (O2 at or above the cut-off with no evidence of a stop,
compliance-rules.md §1.2: suspicious, for the inspector) or an invalid hour whose valid minutes'
corrected mean is over the limit (``invalid_hour_over_limit``). A run is one alert; it closes
once the hour after it has passed without the status.

Flat line (``flat_lines``): a run of at least ``min_hours`` consecutive valid hours whose hourly
means all stay within a tiny tolerance of the run's first mean. A stuck analyser repeats one
value; a live signal's hourly means differ well beyond 1e-9. Valid implies operating, so a
stopped plant reading a constant zero is not a flat line. A missing or invalid hour ends a run.

Severity: product thresholds, not taken from a standard (issue 16: a 72 %-over, 7-hour SO2
exceedance must rank above a flat line). Two grades, one for what was measured over a limit
and one for signs about the data.

Exceedances (``severity(multiple, hours)``, hidden exceedances of ``o2_inconsistent`` too):
each band reached on either scale raises the level one step from LOW, up to CRITICAL, so a
large multiple held for long is graded above either alone:

=============  ====================  =====================
band           multiple (C - L) / L  exceeded hours
=============  ====================  =====================
0              below 0.5             below 4
1              0.5 to below 1.0      4 to below 12
2              1.0 to below 3.0      12 to below 24
3              3.0 and above         24 and above
=============  ====================  =====================

level = LOW + multiple band + duration band, at most CRITICAL:

===================  =========  ==========  ===========  ========
multiple             < 4 h      4 to 12 h   12 to 24 h   24 h up
===================  =========  ==========  ===========  ========
below 0.5            LOW        MEDIUM      HIGH         CRITICAL
0.5 to below 1.0     MEDIUM     HIGH        CRITICAL     CRITICAL
1.0 to below 3.0     HIGH       CRITICAL    CRITICAL     CRITICAL
3.0 and above        CRITICAL   CRITICAL    CRITICAL     CRITICAL
===================  =========  ==========  ===========  ========

So 0.72 over for 7 hours is HIGH (band 1 + band 1); 0.3 over for 2 hours stays LOW. 0.5 ("half
again the limit") and 1.0 ("double the limit") are the bands commonly read off the exceedance
multiple; 3.0 (four times the limit) is treated as gross. 4, 12 and 24 hours are a shift
fragment, half a day and a whole day (a whole day can carry a daily mean over its limit). A
NaN multiple (range limits such as pH) counts as band 0: duration alone.

Signs (``sign_severity(hours)``: flat lines, data gaps, over-range, invalid data, status runs,
signs of falsified data with no hidden exceedance): nothing was measured over a limit, so they
grade on duration alone and lower: LOW below 12 hours, MEDIUM from 12 hours, HIGH from 72 hours
(three days), never CRITICAL. Any exceedance of HIGH or above outranks a sign shorter than
three days.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
import numpy.typing as npt

HOUR_S = 3600
MULTIPLE_BANDS = (0.5, 1.0, 3.0)  # MEDIUM, HIGH, CRITICAL from here up
DURATION_BANDS_H = (4, 12, 24)
SIGN_BANDS_H = (12, 72)  # signs: MEDIUM, HIGH from here up
FLAT_MIN_HOURS = 4
FLAT_ABS_TOL = 1e-9
FLAT_REL_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class ExceedanceHour:
    """The judged facts of one hour that episodes need."""

    hour_start_s: int
    valid: bool
    exceeded: bool
    multiple: float = math.nan


@dataclass(frozen=True, slots=True)
class ExceedanceEpisode:
    """Consecutive exceeded hours of one outlet and pollutant; open while ``closed_s`` is None."""

    start_s: int  # start of the first exceeded hour
    last_exceeded_s: int  # start of the latest exceeded hour
    exceeded_hours: int  # duration in hours: exceeded hours only
    peak_multiple: float  # NaN when no hour had a multiple
    closed_s: int | None = None  # start of the valid compliant hour that closed it

    @property
    def is_open(self) -> bool:
        return self.closed_s is None


def advance(episode: ExceedanceEpisode | None, hour: ExceedanceHour) -> ExceedanceEpisode | None:
    """The episode after one more hour. A closed episode passed in counts as none.

    Returns None (no episode), the open episode (new or grown, or unchanged by an invalid hour),
    or the episode closed by this hour (``closed_s`` set); the caller stores a closed episode and
    passes None next time.
    """
    current = episode if episode is not None and episode.is_open else None
    if current is not None and hour.hour_start_s <= current.last_exceeded_s:
        raise ValueError("hours must be given in increasing order")
    if hour.valid and hour.exceeded:
        if current is None:
            return ExceedanceEpisode(hour.hour_start_s, hour.hour_start_s, 1, hour.multiple)
        return replace(
            current,
            last_exceeded_s=hour.hour_start_s,
            exceeded_hours=current.exceeded_hours + 1,
            peak_multiple=float(np.fmax(current.peak_multiple, hour.multiple)),
        )
    if current is not None and hour.valid:
        return replace(current, closed_s=hour.hour_start_s)
    return current


def derive_episodes(
    hours: Iterable[ExceedanceHour], open_episode: ExceedanceEpisode | None = None
) -> list[ExceedanceEpisode]:
    """All episodes in ``hours`` (time order), continuing ``open_episode`` if given.

    Closed episodes come first in time order; the last one may still be open.
    """
    out: list[ExceedanceEpisode] = []
    current = open_episode
    last_s: int | None = None
    for hour in hours:
        if last_s is not None and hour.hour_start_s <= last_s:
            raise ValueError("hours must be given in increasing order")
        last_s = hour.hour_start_s
        current = advance(current, hour)
        if current is not None and not current.is_open:
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    return out


def status_runs(hour_start_s: npt.ArrayLike, flagged: npt.ArrayLike) -> list[tuple[int, int]]:
    """(first, last) hour starts of each run of consecutive flagged clock hours (time order)."""
    starts = np.asarray(hour_start_s, dtype=np.int64)
    if np.any(np.diff(starts) <= 0):
        raise ValueError("hours must be given in increasing order")
    out: list[tuple[int, int]] = []
    for h in starts[np.asarray(flagged, dtype=np.bool_)].tolist():
        if out and h == out[-1][1] + HOUR_S:
            out[-1] = (out[-1][0], h)
        else:
            out.append((h, h))
    return out


@dataclass(frozen=True, slots=True)
class FlatRun:
    """Hours ``start_s`` .. ``last_s`` (hour starts) whose means all equal ``value``."""

    start_s: int
    last_s: int
    hours: int
    value: float


def flat_lines(
    hour_start_s: npt.ArrayLike,
    mean: npt.ArrayLike,
    valid: npt.ArrayLike,
    *,
    min_hours: int = FLAT_MIN_HOURS,
    abs_tol: float = FLAT_ABS_TOL,
    rel_tol: float = FLAT_REL_TOL,
) -> list[FlatRun]:
    """Runs of >= ``min_hours`` consecutive valid hours with an unchanged mean (time order).

    Pass the raw hourly ``mean`` (before O2 correction: a stuck analyser repeats its raw value).
    """
    starts = np.asarray(hour_start_s, dtype=np.int64).tolist()
    values = np.asarray(mean, dtype=np.float64).tolist()
    oks = np.asarray(valid, dtype=np.bool_).tolist()
    runs: list[FlatRun] = []
    run: FlatRun | None = None
    if any(b <= a for a, b in itertools.pairwise(starts)):
        raise ValueError("hours must be given in increasing order")
    for t, v, ok in zip(starts, values, oks, strict=True):
        usable = ok and math.isfinite(v)
        if run is not None and usable and t == run.last_s + HOUR_S and math.isclose(
            v, run.value, rel_tol=rel_tol, abs_tol=abs_tol
        ):
            run = replace(run, last_s=t, hours=run.hours + 1)
            continue
        if run is not None and run.hours >= min_hours:
            runs.append(run)
        run = FlatRun(t, t, 1, v) if usable else None
    if run is not None and run.hours >= min_hours:
        runs.append(run)
    return runs


class Severity(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


def severity(multiple: float, duration_h: float) -> Severity:
    """Severity of an exceedance episode from its peak multiple and its exceeded hours: one
    step up from LOW per band reached on each scale (module docstring, the table)."""
    by_duration = sum(duration_h >= b for b in DURATION_BANDS_H)
    by_multiple = 0 if math.isnan(multiple) else sum(multiple >= b for b in MULTIPLE_BANDS)
    return Severity(min(Severity.LOW + by_duration + by_multiple, Severity.CRITICAL))


def sign_severity(duration_h: float) -> Severity:
    """Severity of an episode that is not an exceedance (a flat line, a data gap, ...) from
    its hours alone: LOW, MEDIUM from 12 h, HIGH from 72 h (module docstring)."""
    return Severity(Severity.LOW + sum(duration_h >= b for b in SIGN_BANDS_H))
