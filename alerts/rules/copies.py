"""Copied data: a day whose minute values repeat another day's of the same series. Pure.

Platforms look for "repeated patterns: a day of data copied from another" (disclosure-marks-
sharing.md, "Fraud in automatic monitoring data" [S/M]). The thresholds are product choices
(``alerts.settings``).

Method (exact sequence match of rounded values, one 64-bit digest per series and hour):

- ``hour_digests``: each finite minute value is rounded to ``DIGITS`` significant digits (so a
  copy written again with other decimals still matches) and hashed with its minute of the hour
  (splitmix64); an hour's digest is the wrapping sum of its minutes' hashes, so equal digests
  mean the same values at the same minutes (a collision of unequal hours has a probability of
  about 2^-64). An hour whose rounded values are all equal (a stopped plant's zeros, a flat
  line) has no digest: equal constants are the flat line's sign, not a copy. Cost: a few numpy
  passes over the minutes the pass reads anyway, one integer per series and hour stored.
- ``copied_day``: the usable hours of a day (with a digest) against the same clock hours of
  each of the ``days`` days before; the best of them is a copy when at least ``min_hours``
  hours match and they are at least ``min_share`` of the day's usable hours. Cost: one lookup
  per hour and day compared. Not caught: a copy with noise added or shifted by minutes (a
  near-exact copy beyond rounding): those need a correlation of the sequences, left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.rules.compliance import F64, HOUR_S, I32, I64, Minutes

DIGITS = 4  # significant digits a value is rounded to before it is hashed
DAY_S = 24 * HOUR_S
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True, slots=True)
class HourDigests:
    """Per (series, hour) with a usable digest, sorted by series then hour."""

    series: I32
    hour_s: I64
    digest: I64
    n: I64  # finite minute values hashed


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 (wrapping)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def rounded(values: F64, digits: int = DIGITS) -> tuple[I64, I64]:
    """(mantissa, decimal exponent) of each value to ``digits`` significant digits."""
    a = np.abs(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(a > 0, np.floor(np.log10(np.where(a > 0, a, 1.0))), 0.0)
        mant = np.rint(values * 10.0 ** (digits - 1 - e))
    # 9.9996 rounds to 10000 at 4 digits: renormalise so that equal values get equal pairs
    over = np.abs(mant) >= 10 ** digits
    mant = np.where(over, np.rint(mant / 10), mant)
    e = np.where(over, e + 1, e)
    return mant.astype(np.int64), e.astype(np.int64)


def hour_digests(m: Minutes) -> HourDigests:
    ok = np.isfinite(m.value)
    series, ts, value = m.series[ok], m.ts_s[ok], m.value[ok]
    hour = ts // HOUR_S * HOUR_S
    key = series.astype(np.int64) * (1 << 40) + hour
    order = np.argsort(key, kind="stable")
    key, ts, value = key[order], ts[order], value[order]
    if not len(key):
        z = np.zeros(0, dtype=np.int64)
        return HourDigests(z.astype(np.int32), z, z, z)
    mant, exp = rounded(value)
    minute = ((ts % HOUR_S) // 60).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = _mix(minute * _GOLDEN + mant.view(np.uint64) * _M1 + exp.view(np.uint64) * _M2)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    total = np.add.reduceat(x, starts)
    n = np.diff(np.r_[starts, len(key)])
    varies = (np.minimum.reduceat(mant, starts) != np.maximum.reduceat(mant, starts)) | (
        np.minimum.reduceat(exp, starts) != np.maximum.reduceat(exp, starts))
    k = key[starts][varies]
    return HourDigests((k >> 40).astype(np.int32), k & ((1 << 40) - 1),
                       total[varies].view(np.int64), n[varies].astype(np.int64))


@dataclass(frozen=True, slots=True)
class Copied:
    """A day whose hours repeat another day's."""

    day_s: int  # the day's start (local midnight)
    source_s: int  # the start of the day it repeats
    matched: int  # hours of the day equal to the same clock hour of the source
    usable: int  # hours of the day with a digest
    first_s: int  # first and last matched hour
    last_s: int

    @property
    def share(self) -> float:
        return self.matched / self.usable

    def detail(self, day: str, source: str) -> str:
        return (f"{self.matched} of {self.usable} hours of the day {day} repeat the minute "
                f"values of the same hours of {source} minute for minute "
                f"({100 * self.share:.0f} %, values to {DIGITS} significant digits)")


def copied_day(day_s: int, day_end_s: int, digests: dict[int, int], *, days: int,
               min_hours: int, min_share: float) -> Copied | None:
    """The day of ``[day_s, day_end_s)`` against each of the ``days`` days before (hours at
    ``h - j x 24 h``); ``digests``: hour start -> digest of one series. The best source, or
    None when no day is copied."""
    mine = [h for h in digests if day_s <= h < day_end_s]
    if len(mine) < min_hours:
        return None
    best: Copied | None = None
    for j in range(1, days + 1):
        hit = [h for h in mine if digests.get(h - j * DAY_S) == digests[h]]
        if len(hit) >= min_hours and len(hit) >= min_share * len(mine) and (
                best is None or len(hit) > best.matched):
            best = Copied(day_s, day_s - j * DAY_S, len(hit), len(mine), min(hit), max(hit))
    return best
