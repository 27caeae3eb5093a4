"""What the compliance engine writes and the API reads: judged hours and days, daily summaries,
alerts and the scheduler's watermark (DESIGN §3.3).

| measurement | tags                                   | time                     |
|-------------|----------------------------------------|--------------------------|
| hourly      | enterprise, outlet, pollutant          | hour start (UTC)         |
| day         | enterprise, outlet, pollutant          | local day start          |
| daily       | enterprise                             | local day start          |
| alert       | enterprise, outlet, pollutant, kind,   | episode start            |
|             | period (``day`` for exceeded days)     |                          |
| watermark   | job                                    | fixed (0)                |

A point with the same measurement, tags and time overwrites the earlier one, so re-judging an
hour or re-writing an alert never duplicates it. An alert's workflow (status, notes,
explanation, ``seen_until_ms`` when resolved while still active) is written by people through
the API, its episode (active, hours, peak, ``follows``) by the scheduler: each side writes only
its own fields, and InfluxDB merges the fields of a point.
All times here are integer epoch milliseconds. Each measurement is kept as long as its
retention policy says (``store.retention``): the store routes writes and queries there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from store.influx import InfluxStore
from store.lines import line as line  # "as": re-exported for store.marks
from store.lines import quote as quote

ALERT_KINDS = ("exceedance", "data_gap", "over_range", "suspicious_flatline", "invalid_data",
               "broker_drops", "unexplained_high_o2", "invalid_hour_over_limit",
               "pinned_under_limit", "o2_inconsistent", "near_constant",
               "flags_follow_readings", "manual_values")
# An hour's status (alerts.rules.compliance.STATUSES, the same strings in the same order).
HOUR_STATUSES = ("compliant", "exceeded", "suspected_exceedance", "invalid", "not_operating",
                 "unexplained_high_o2")
ALERT_STATUSES = ("open", "acknowledged", "resolved")
_HEX_ID = re.compile(r"[0-9a-f]{1,64}")


@dataclass(frozen=True, slots=True)
class HourVerdict:
    enterprise: str
    outlet: str
    pollutant: str
    start_ms: int
    n_received: int
    n_valid: int
    valid: bool
    operating: bool
    mean: float | None = None
    o2_mean: float | None = None
    mean_ref: float | None = None
    limit: float | None = None
    limit_id: str | None = None
    exceeded: bool = False
    multiple: float | None = None
    n_over_range: int = 0
    limit_min: float | None = None  # lower bound of a range limit (pH 6-9), else None
    status: str | None = None  # one of HOUR_STATUSES (None: written before statuses existed)
    target: float | None = None  # policy target (ultra-low), scored apart from the limit
    target_exceeded: bool | None = None  # valid and above the target; None without one

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in HOUR_STATUSES:
            raise ValueError(f"unknown hour status {self.status!r}")

    def to_line(self) -> str:
        tags = {"enterprise": self.enterprise, "outlet": self.outlet,
                "pollutant": self.pollutant}
        fields = {k: v for k, v in asdict(self).items() if k not in tags and k != "start_ms"}
        return line("hourly", tags, fields, self.start_ms)

    @classmethod
    def from_row(cls, tags: dict[str, str], row: dict[str, Any]) -> HourVerdict:
        """An ``hourly`` point read back (``time`` in ms); absent fields take their defaults."""
        known = {f for f in cls.__dataclass_fields__} - {"enterprise", "outlet", "pollutant",
                                                        "start_ms"}
        values = {k: v for k, v in row.items() if k in known and v is not None}
        return cls(tags.get("enterprise", ""), tags.get("outlet", ""), tags.get("pollutant", ""),
                   int(row["time"]), **{"n_received": 0, "n_valid": 0, "valid": False,
                                        "operating": True, **values})


@dataclass(frozen=True, slots=True)
class DayVerdict:
    """A local day of one outlet and pollutant judged against a daily limit."""

    enterprise: str
    outlet: str
    pollutant: str
    start_ms: int
    n_valid_hours: int
    valid: bool
    mean_ref: float | None = None
    limit: float | None = None
    limit_id: str | None = None
    exceeded: bool = False
    multiple: float | None = None
    limit_min: float | None = None  # lower bound of a range limit (pH 6-9), else None

    def to_line(self) -> str:
        tags = {"enterprise": self.enterprise, "outlet": self.outlet,
                "pollutant": self.pollutant}
        fields = {k: v for k, v in asdict(self).items() if k not in tags and k != "start_ms"}
        return line("day", tags, fields, self.start_ms)


@dataclass(frozen=True, slots=True)
class DailySummary:
    """One enterprise's local day, the input of rankings (compliance-rules.md §1.6)."""

    enterprise: str
    start_ms: int
    judged_hours: int  # valid hours of pollutants with an hourly limit
    exceeded_hours: int
    judged_days: int  # valid days of pollutants with a daily limit
    exceeded_days: int
    expected_values: int  # minute values that should have arrived
    received_values: int
    valid_values: int
    over_range_values: int = 0
    max_multiple: float | None = None
    # Rates count hours, not minutes (compliance-rules.md §1.6; a 44-minute hour is one invalid
    # hour), over the judged series: hours a value was expected (batch analysers: hours with a
    # sampling slot), less hours known stopped (marks, running state, process data); hours
    # that received a value (stopped ones left out); valid hours. Transmission rate =
    # received_hours / expected_hours, validity rate = valid_hours / received_hours.
    expected_hours: int = 0
    received_hours: int = 0
    valid_hours: int = 0
    stopped_hours: int = 0  # series-hours left out of the denominators by stop evidence
    suspected_hours: int = 0  # status suspected_exceedance (T values, §1.4)
    high_o2_hours: int = 0  # status unexplained_high_o2
    target_hours: int = 0  # valid hours of series with a policy target (ultra-low)
    target_exceeded_hours: int = 0

    def to_line(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k not in ("enterprise", "start_ms")}
        return line("daily", {"enterprise": self.enterprise}, fields, self.start_ms)


def alert_id(kind: str, enterprise: str, outlet: str, pollutant: str, start_ms: int,
             period: str = "") -> str:
    """Stable: the same episode always gets the same id, whoever judges it.

    ``period`` is empty for hour-based episodes (their ids are unchanged by it) and ``day`` for
    episodes of exceeded days, which may start at the same local midnight as an hourly one.
    """
    suffix = f"|{period}" if period else ""
    key = f"{kind}|{enterprise}|{outlet}|{pollutant}|{start_ms}{suffix}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Episode:
    """The scheduler's side of an alert."""

    kind: str
    enterprise: str
    outlet: str
    pollutant: str  # "" for outlet-wide alerts (data_gap)
    start_ms: int
    active: bool
    hours: float
    updated_ms: int
    end_ms: int | None = None
    peak_multiple: float | None = None
    peak_value: float | None = None
    severity: str = "low"
    detail: str = ""
    period: str = ""  # "" for hour-based episodes, "day" for exceeded days (a tag)
    follows: str | None = None  # id of the resolved alert this episode continues

    @property
    def id(self) -> str:
        return alert_id(self.kind, self.enterprise, self.outlet, self.pollutant, self.start_ms,
                        self.period)

    def tags(self) -> dict[str, str]:
        return alert_tags(self)

    def to_line(self, new: bool) -> str:
        fields: dict[str, Any] = {
            "id": self.id, "active": self.active, "hours": float(self.hours),
            "updated_ms": self.updated_ms, "end_ms": self.end_ms,
            "peak_multiple": self.peak_multiple, "peak_value": self.peak_value,
            "severity": self.severity, "detail": self.detail, "follows": self.follows}
        if new:
            fields.update(status="open", opened_ms=self.updated_ms)
        return line("alert", self.tags(), fields, self.start_ms)


@dataclass
class Alert:
    """An alert as read back: its episode and its workflow."""

    id: str
    kind: str
    enterprise: str
    outlet: str
    pollutant: str
    start_ms: int
    status: str
    active: bool
    hours: float
    severity: str
    updated_ms: int
    opened_ms: int | None = None
    end_ms: int | None = None
    peak_multiple: float | None = None
    peak_value: float | None = None
    detail: str = ""
    notes: list[dict[str, Any]] = field(default_factory=list)
    explanation: str | None = None
    explained_ms: int | None = None
    period: str = ""
    follows: str | None = None
    resolved_ms: int | None = None
    seen_until_ms: int | None = None  # resolved while active: the end of the part seen


def alert_tags(a: Episode | Alert) -> dict[str, str]:
    """The tags of an alert's point (an empty ``period``, hour-based, is left out)."""
    return {"enterprise": a.enterprise, "outlet": a.outlet, "pollutant": a.pollutant,
            "kind": a.kind, "period": a.period}


def _alert_from_row(tags: dict[str, str], row: dict[str, Any]) -> Alert:
    notes = row.get("notes")
    return Alert(
        id=row["id"], kind=tags.get("kind") or row.get("kind", ""),
        enterprise=tags.get("enterprise") or row.get("enterprise", ""),
        outlet=tags.get("outlet") or row.get("outlet", ""),
        pollutant=tags.get("pollutant") or row.get("pollutant") or "",
        start_ms=int(row["time"]), status=row.get("status") or "open",
        active=bool(row.get("active")), hours=float(row.get("hours") or 0),
        severity=row.get("severity") or "low", updated_ms=int(row.get("updated_ms") or 0),
        opened_ms=row.get("opened_ms"), end_ms=row.get("end_ms"),
        peak_multiple=row.get("peak_multiple"), peak_value=row.get("peak_value"),
        detail=row.get("detail") or "", notes=orjson.loads(notes) if notes else [],
        explanation=row.get("explanation"), explained_ms=row.get("explained_ms"),
        period=tags.get("period") or row.get("period") or "", follows=row.get("follows"),
        resolved_ms=row.get("resolved_ms"), seen_until_ms=row.get("seen_until_ms"))


class ResultStore:
    """Reads and writes the compliance results in one InfluxDB database."""

    def __init__(self, store: InfluxStore) -> None:
        self.store = store

    def write_lines(self, lines: list[str]) -> None:
        self.store.write_lines(lines, precision="ms")

    # Alerts ---------------------------------------------------------------------------------
    def existing_alert_ids(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        if all(_HEX_ID.fullmatch(i) for i in ids):
            # One regex: InfluxDB 1.x evaluates a long OR of field conditions very slowly
            # (measured: 100 ORed ids 2.6 s, a regex of 500 ids 0.06 s).
            cond = '"id" =~ /^(' + "|".join(ids) + ")$/"
        else:
            cond = " OR ".join(f'"id" = {quote(i)}' for i in ids)
        series = self.store.query(f'SELECT "id" FROM alert WHERE {cond}')
        return {row["id"] for s in series for row in s.rows()}

    def upsert_episodes(self, episodes: list[Episode]) -> None:
        """Write episodes; a new one opens its alert, a known one keeps its workflow fields."""
        known = self.existing_alert_ids([e.id for e in episodes])
        self.write_lines([e.to_line(new=e.id not in known) for e in episodes])

    def get_alert(self, alert_id_: str) -> Alert | None:
        series = self.store.query(f'SELECT * FROM alert WHERE "id" = {quote(alert_id_)}')
        for s in series:
            for row in s.rows():
                return _alert_from_row(s.tags, row)
        return None

    def list_alerts(self, where: str = "", limit: int = 1000) -> list[Alert]:
        """Alerts, newest first; ``where`` is an InfluxQL condition built by the caller from
        validated values (use ``quote`` for every string)."""
        clause = f" WHERE {where}" if where else ""
        series = self.store.query(
            f"SELECT * FROM alert{clause} ORDER BY time DESC LIMIT {int(limit)}")
        return [_alert_from_row(s.tags, row) for s in series for row in s.rows()]

    def update_workflow(self, alert: Alert, **fields: Any) -> None:
        """Write workflow fields (status, notes, explanation, ...) of an existing alert."""
        if "notes" in fields:
            fields["notes"] = orjson.dumps(fields["notes"]).decode()
        self.write_lines([line("alert", alert_tags(alert), fields, alert.start_ms)])

    # Watermark ------------------------------------------------------------------------------
    def get_watermark(self, job: str) -> int | None:
        series = self.store.query(
            f'SELECT last("until_ms") FROM watermark WHERE "job" = {quote(job)}')
        for s in series:
            for row in s.values:
                return int(row[1]) if row[1] is not None else None
        return None

    def set_watermark(self, job: str, until_ms: int) -> None:
        self.write_lines([line("watermark", {"job": job}, {"until_ms": until_ms}, 0)])

