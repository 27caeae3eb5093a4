"""Day reviews: an inspector confirms that an enterprise's published hours of one local day
were reviewed; until then the public tier labels them "not yet reviewed" (issue 14).

A review is a row of ``day_review`` (``store.records``), appended once per enterprise and day;
confirming a day twice keeps the first record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.records import DayReviewRow
from store.sql import Records

DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class DayReview:
    enterprise: str
    day: str
    reviewed_ms: int
    by: str


class DayReviews:
    def __init__(self, records: Records) -> None:
        self.records = records

    def confirm(self, enterprise: str, day: str, by: str, now_ms: int) -> DayReview:
        """Record the review of ``day`` (YYYY-MM-DD) or return the one already recorded."""
        if not DAY_RE.fullmatch(day):
            raise ValueError(f"day {day!r}: not YYYY-MM-DD")
        try:
            with self.records.session() as s:
                s.add(DayReviewRow(enterprise=enterprise, day=day, reviewed_ms=now_ms, by=by))
        except IntegrityError:
            pass
        found = self.reviewed(enterprise, [day])
        return found[day]

    def reviewed(self, enterprise: str, days: list[str]) -> dict[str, DayReview]:
        """The reviews of ``days`` that exist, by day."""
        if not days:
            return {}
        with self.records.session() as s:
            rows = s.scalars(select(DayReviewRow).where(
                DayReviewRow.enterprise == enterprise, DayReviewRow.day.in_(sorted(set(days)))))
            return {r.day: DayReview(r.enterprise, r.day, r.reviewed_ms, r.by) for r in rows}
