"""Rankings of enterprises from their daily summaries (pure; compliance-rules.md §1.6).

Per enterprise, over a period, from the sums of its ``daily`` summaries (a period holds the
local days whose midnight lies in [start, end); an answer is reused for a short while and
refreshed in the background, since summaries change only when the scheduler runs):

- compliance rate = 1 - (exceeded hours + exceeded days) / (judged hours + judged days);
  null when nothing was judged.
- transmission rate (数据传输率) = received hours / expected hours, counted in hours, not
  minutes (a 44-minute hour is one invalid hour): an hour is expected of each judged series
  while its outlet operates (hours with evidence of a stop leave the denominators; a batch
  analyser expects only its sample hours) and only from the outlet's registration
  (``registered`` in the registry); received when it holds at least one value; null when none
  expected. Summaries written before hour counts existed fall back to received values /
  expected values.
- validity rate (数据有效率) = valid hours / received hours (the same fallback: valid values /
  received values); null when none received.
- effective transmission rate (数据传输有效率) = transmission rate x validity rate.
- maximum multiple = the largest (C - L) / L of the period.

Amounts (issue 12): tonnes of each pollutant emitted in the period (measured and filled
amounts, ``amount_day``), and the share of the permit used: the largest, over the pollutants
the enterprise holds a permit for, of tonnes / permitted annual tonnes (the enterprise-wide
permit, else the sum of its outlets' permits); null without a permit.

Ranked by compliance rate, then effective transmission rate, both descending, nulls last;
equal pairs share a rank (1, 2, 2, 4). Ranks are among the enterprises asked for (after
the region and industry filters). Open alerts: alerts opened before the period's end and not
resolved. The status string has one letter per calendar month (or
quarter) of the period in local time: C compliant (judged, nothing exceeded), E exceeded,
U undetermined (nothing judged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

BUCKETS = ("month", "quarter")


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums of daily summaries over some days."""

    judged_hours: int = 0
    exceeded_hours: int = 0
    judged_days: int = 0
    exceeded_days: int = 0
    expected_values: int = 0
    received_values: int = 0
    valid_values: int = 0
    expected_hours: int = 0
    received_hours: int = 0
    valid_hours: int = 0
    max_multiple: float | None = None

    def __add__(self, other: Totals) -> Totals:
        mm = [m for m in (self.max_multiple, other.max_multiple) if m is not None]
        return Totals(
            self.judged_hours + other.judged_hours, self.exceeded_hours + other.exceeded_hours,
            self.judged_days + other.judged_days, self.exceeded_days + other.exceeded_days,
            self.expected_values + other.expected_values,
            self.received_values + other.received_values,
            self.valid_values + other.valid_values, self.expected_hours + other.expected_hours,
            self.received_hours + other.received_hours, self.valid_hours + other.valid_hours,
            max(mm) if mm else None)

    @property
    def letter(self) -> str:
        if self.judged_hours + self.judged_days == 0:
            return "U"
        return "E" if self.exceeded_hours + self.exceeded_days > 0 else "C"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


@dataclass(frozen=True, slots=True)
class Rates:
    compliance: float | None
    transmission: float | None
    validity: float | None
    effective_transmission: float | None

    @classmethod
    def of(cls, t: Totals) -> Rates:
        judged = t.judged_hours + t.judged_days
        exceeded = t.exceeded_hours + t.exceeded_days
        compliance = 1.0 - exceeded / judged if judged > 0 else None
        if t.expected_hours > 0:  # hour counts (alerts.rules.rates); older summaries: values
            transmission = _ratio(t.received_hours, t.expected_hours)
            validity = _ratio(t.valid_hours, t.received_hours)
        else:
            transmission = _ratio(t.received_values, t.expected_values)
            validity = _ratio(t.valid_values, t.received_values)
        effective = (transmission * validity
                     if transmission is not None and validity is not None else None)
        return cls(compliance, transmission, validity, effective)


@dataclass(slots=True)
class Ranked:
    enterprise: str
    totals: Totals
    rates: Rates
    status: str
    open_alerts: int = 0
    rank: int = 0
    buckets: list[Totals] = field(default_factory=list)
    tonnes: dict[str, float] = field(default_factory=dict)  # pollutant -> t in the period
    permit_share: float | None = None


def permit_share(tonnes: dict[str, float], permit_t_a: dict[str, float]) -> float | None:
    """The largest share of a permitted annual total used (None without a permit)."""
    shares = [tonnes.get(p, 0.0) / t for p, t in permit_t_a.items() if t > 0]
    return max(shares) if shares else None


def rank(per_bucket: dict[str, list[Totals]], open_alerts: dict[str, int]) -> list[Ranked]:
    """Ranked enterprises from their totals per bucket (every list as long as the buckets)."""
    rows = []
    for ent, parts in per_bucket.items():
        total = sum(parts, Totals())
        rows.append(Ranked(ent, total, Rates.of(total), "".join(p.letter for p in parts),
                           open_alerts.get(ent, 0), buckets=parts))

    def order(r: Ranked) -> tuple[bool, float, bool, float, str]:
        c, e = r.rates.compliance, r.rates.effective_transmission
        return (c is None, -(c or 0.0), e is None, -(e or 0.0), r.enterprise)

    rows.sort(key=order)
    for i, r in enumerate(rows):
        prev = rows[i - 1] if i else None
        same = prev is not None and order(prev)[:4] == order(r)[:4]
        r.rank = prev.rank if same and prev is not None else i + 1
    return rows


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str  # 2026-11 or 2026-Q4
    start_ms: int
    end_ms: int


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def ceil_day(ms: int, timezone: str) -> int:
    """The first local midnight at or after ``ms``.

    Daily summaries are stamped at local midnight, so [start, end) and
    [ceil_day(start), ceil_day(end)) hold the same summaries.
    """
    local = datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if _ms(midnight) < ms:
        nxt = midnight.date().toordinal() + 1
        midnight = datetime.combine(date.fromordinal(nxt), time(0), midnight.tzinfo)
    return _ms(midnight)


def buckets(start_ms: int, end_ms: int, timezone: str, per: str = "month") -> list[Bucket]:
    """Calendar months (or quarters) in local time that overlap [start, end), clipped to it."""
    if per not in BUCKETS:
        raise ValueError(f"unknown bucket {per!r}")
    tz = ZoneInfo(timezone)
    step = 1 if per == "month" else 3
    first = datetime.fromtimestamp(start_ms / 1000, tz)
    month = first.month if per == "month" else 3 * ((first.month - 1) // 3) + 1
    cur = datetime(first.year, month, 1, tzinfo=tz)
    out: list[Bucket] = []
    while _ms(cur) < end_ms:
        y, m = divmod(cur.month - 1 + step, 12)
        nxt = datetime(cur.year + y, m + 1, 1, tzinfo=tz)
        label = (f"{cur.year}-{cur.month:02d}" if per == "month"
                 else f"{cur.year}-Q{(cur.month - 1) // 3 + 1}")
        out.append(Bucket(label, max(start_ms, _ms(cur)), min(end_ms, _ms(nxt))))
        cur = nxt
    return out
