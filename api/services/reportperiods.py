"""Report periods in local time: a day, month, quarter or year, named by its label
(2025-11-01, 2025-11, 2025-Q4, 2025); pure."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("day", "month", "quarter", "year")
LABEL_RE = {
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    "month": re.compile(r"(\d{4})-(\d{2})"),
    "quarter": re.compile(r"(\d{4})-Q([1-4])"),
    "year": re.compile(r"(\d{4})"),
}


class BadPeriod(ValueError):
    """A period or label that names no local period."""


def _first_day(period: str, label: str) -> date:
    m = LABEL_RE[period].fullmatch(label) if period in LABEL_RE else None
    if m is None:
        raise BadPeriod(f"{period} label {label!r}")
    g = [int(x) for x in m.groups()]
    try:
        if period == "day":
            return date(g[0], g[1], g[2])
        if period == "month":
            return date(g[0], g[1], 1)
        if period == "quarter":
            return date(g[0], 3 * (g[1] - 1) + 1, 1)
        return date(g[0], 1, 1)
    except ValueError as exc:
        raise BadPeriod(f"{period} label {label!r}") from exc


def _next_day(period: str, d: date) -> date:
    if period == "day":
        return d + timedelta(days=1)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def _ms(d: date, tz: ZoneInfo) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)


def bounds(period: str, label: str, zone: str) -> tuple[int, int]:
    """[start, end) of the period in epoch ms, from local midnight to local midnight."""
    tz = ZoneInfo(zone)
    first = _first_day(period, label)
    return _ms(first, tz), _ms(_next_day(period, first), tz)


def label_of(period: str, d: date) -> str:
    if period == "day":
        return d.isoformat()
    if period == "month":
        return f"{d.year}-{d.month:02d}"
    if period == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    return str(d.year)


def last_closed(period: str, now_ms: int, zone: str) -> str:
    """The label of the newest period of this kind that has ended by ``now_ms``."""
    today = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(zone)).date()
    current = _first_day(period, label_of(period, today))
    return label_of(period, current - timedelta(days=1))


def days_in(start_ms: int, end_ms: int, zone: str) -> list[int]:
    """The local midnights (epoch ms) in [start, end)."""
    tz = ZoneInfo(zone)
    d = datetime.fromtimestamp(start_ms / 1000, tz).date()
    out = []
    while (ms := _ms(d, tz)) < end_ms:
        out.append(ms)
        d += timedelta(days=1)
    return out


def local_date(ms: int, zone: str) -> date:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).date()


def local_iso(ms: int, zone: str) -> str:
    """RFC 3339 in the local zone with its offset, to the second."""
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).isoformat(timespec="seconds")
