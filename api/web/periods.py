"""Periods chosen on the pages as local dates (``YYYY-MM-DD``, both ends included), turned
into the API's validated time ranges ([local midnight of the first day, local midnight after the
last day)) by the API's own ``time_range``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from api.params import TimeRange, iso, time_range

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text: str, name: str) -> date:
    if not DATE_RE.fullmatch(text):
        raise HTTPException(422, f"{name}: expected a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, f"{name}: not a valid date") from None


def midnight_ms(day: date, timezone: str) -> int:
    """Epoch ms of the local midnight that starts ``day``."""
    return int(datetime.combine(day, time(0), ZoneInfo(timezone)).timestamp() * 1000)


def local_today(now_ms: int, timezone: str) -> date:
    return datetime.fromtimestamp(now_ms / 1000, ZoneInfo(timezone)).date()


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date  # included
    range: TimeRange

    def form(self) -> dict[str, str]:
        return {"start": self.first.isoformat(), "end": self.last.isoformat()}


def period(start: str | None, end: str | None, timezone: str, now_ms: int, default_days: int,
           max_days: int) -> Period:
    """The local days from ``start`` to ``end`` (defaults: the ``default_days`` up to today);
    422 when ``start`` is after ``end`` or the span exceeds ``max_days``."""
    last = parse_date(end, "end") if end else local_today(now_ms, timezone)
    first = parse_date(start, "start") if start else last - timedelta(days=default_days - 1)
    if first > last:
        raise HTTPException(422, "start must not be after end")
    if not date(1970, 1, 2) <= first <= last <= date(2199, 12, 30):
        raise HTTPException(422, "dates must lie between 1970 and 2200")
    start_ms = midnight_ms(first, timezone)
    end_ms = midnight_ms(last + timedelta(days=1), timezone)
    return Period(first, last,
                  time_range(iso(start_ms), iso(end_ms), max_days, default_days, now_ms))


def day(text: str | None, timezone: str, now_ms: int) -> Period:
    """One local day (default: today)."""
    return period(text, text, timezone, now_ms, 1, 2)  # 2: a day may last 25 hours (DST)


def local_to_rfc3339(value: str, timezone: str, name: str) -> str:
    """``2025-11-01T08:00`` (a datetime-local field, in the service's zone) as RFC 3339."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name}: expected a date and time") from None
    if naive.tzinfo is not None:
        raise HTTPException(422, f"{name}: expected a local date and time")
    return naive.replace(tzinfo=ZoneInfo(timezone)).isoformat()
