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
hour or re-writing an alert never duplicates it. An alert's episode (active, hours, peak,
``follows``) is written by the scheduler; its workflow (status, notes, explanation,
``seen_until_ms`` when resolved while still active) by people through the API, into the records
database (``store.workflow``), and joined by alert id when alerts are read (an alert without a
workflow row is ``open``). Workflow fields that older versions wrote to alert points are
ignored (``python -m store.migrate_influx`` copies them over).
All times here are integer epoch milliseconds. Each measurement is kept as long as its
retention policy says (``store.retention``): the store routes writes and queries there.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from store.alert_filter import ALERT_KINDS, ALERT_STATUSES, AlertFilter
from store.influx import InfluxStore
from store.lines import line as line  # "as": re-exported for store.marks
from store.lines import quote as quote
from store.workflow import AlertWorkflows, Note, Workflow

__all__ = ["ALERT_KINDS", "ALERT_STATUSES", "AlertFilter", "quote"]
# An hour's status (alerts.rules.compliance.STATUSES, the same strings in the same order).
HOUR_STATUSES = ("compliant", "exceeded", "suspected_exceedance", "invalid", "not_operating",
                 "unexplained_high_o2")
OPEN_PAGE = 500  # alerts read per step when looking for open ones


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
            fields.update(opened_ms=self.updated_ms)
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
    notes: list[Note] = field(default_factory=list)
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
    """The episode of an alert point, its workflow ``open`` (``with_workflow`` sets it)."""
    return Alert(
        id=row["id"], kind=tags.get("kind") or row.get("kind", ""),
        enterprise=tags.get("enterprise") or row.get("enterprise", ""),
        outlet=tags.get("outlet") or row.get("outlet") or "",  # "" enterprise-wide (permits)
        pollutant=tags.get("pollutant") or row.get("pollutant") or "",
        start_ms=int(row["time"]), status="open",
        active=bool(row.get("active")), hours=float(row.get("hours") or 0),
        severity=row.get("severity") or "low", updated_ms=int(row.get("updated_ms") or 0),
        opened_ms=row.get("opened_ms"), end_ms=row.get("end_ms"),
        peak_multiple=row.get("peak_multiple"), peak_value=row.get("peak_value"),
        detail=row.get("detail") or "",
        period=tags.get("period") or row.get("period") or "", follows=row.get("follows"))


def with_workflow(alert: Alert, w: Workflow | None) -> Alert:
    """The alert with its workflow (None: open, no notes)."""
    if w is None:
        return alert
    return replace(alert, status=w.status, notes=list(w.notes), explanation=w.explanation,
                   explained_ms=w.explained_ms, resolved_ms=w.resolved_ms,
                   seen_until_ms=w.seen_until_ms)


class ResultStore:
    """Reads and writes the compliance results in one InfluxDB database; alerts are read with
    their workflow from ``workflows`` (the records database) when given."""

    def __init__(self, store: InfluxStore, workflows: AlertWorkflows | None = None) -> None:
        self.store = store
        self.workflows = workflows

    def write_lines(self, lines: list[str]) -> None:
        self.store.write_lines(lines, precision="ms")

    # Alerts ---------------------------------------------------------------------------------
    def existing_alert_ids(self, ids: list[str], where: AlertFilter | None = None) -> set[str]:
        """Which of ``ids`` are stored; ``where`` narrows what InfluxDB reads (kinds, times)."""
        if not ids:
            return set()
        f = replace(where or AlertFilter(), ids=tuple(ids))
        series = self.store.query(f'SELECT "id" FROM alert WHERE {f.influxql()}')
        return {row["id"] for s in series for row in s.rows()}

    def upsert_episodes(self, episodes: list[Episode]) -> None:
        """Write episodes; a new one opens its alert (its workflow is not in InfluxDB).

        An alert's point is at its episode's start, so the check for stored ones reads only
        the alert points of the episodes' kinds between their first and last start: without
        that bound every batch read every alert point ever stored (they only grow)."""
        if not episodes:
            return
        starts = [e.start_ms for e in episodes]
        where = AlertFilter(kinds=tuple(sorted({e.kind for e in episodes})),
                            since_ms=min(starts), until_ms=max(starts) + 1)
        known = self.existing_alert_ids([e.id for e in episodes], where)
        self.write_lines([e.to_line(new=e.id not in known) for e in episodes])

    def get_alert(self, alert_id_: str) -> Alert | None:
        series = self.store.query(f'SELECT * FROM alert WHERE "id" = {quote(alert_id_)}')
        for s in series:
            for row in s.rows():
                return self._joined([_alert_from_row(s.tags, row)])[0]
        return None

    def list_alerts(self, f: AlertFilter | None = None, limit: int = 1000) -> list[Alert]:
        """Alerts matching ``f``, newest first, with their workflow."""
        f = f or AlertFilter()
        if f.matches_nothing():
            return []
        if f.status is None:
            return self._joined(self._episodes(f, limit))
        if self.workflows is None:
            raise ValueError("filtering by status needs the workflows (records database)")
        if f.status == "open":
            return self._open(f, limit)
        moved = set(self.workflows.ids_with_status(f.status, f.enterprises))
        if f.ids is not None:
            moved &= set(f.ids)
        ids = sorted(moved)
        found: list[Alert] = []
        for i in range(0, len(ids), OPEN_PAGE):
            found += self._episodes(replace(f, ids=tuple(ids[i:i + OPEN_PAGE])), limit)
        found.sort(key=lambda a: a.start_ms, reverse=True)
        return [a for a in self._joined(found[:limit]) if a.status == f.status]

    def _open(self, f: AlertFilter, limit: int) -> list[Alert]:
        """Open alerts: pages of episodes, leaving out those whose workflow moved them."""
        out: list[Alert] = []
        offset = 0
        while len(out) < limit:
            page = self._episodes(f, OPEN_PAGE, offset)
            out += [a for a in self._joined(page) if a.status == "open"]
            if len(page) < OPEN_PAGE:
                break
            offset += OPEN_PAGE
        return out[:limit]

    def _episodes(self, f: AlertFilter, limit: int, offset: int = 0) -> list[Alert]:
        cond = f.influxql()
        clause = f" WHERE {cond}" if cond else ""
        tail = f" OFFSET {int(offset)}" if offset else ""
        series = self.store.query(
            f"SELECT * FROM alert{clause} ORDER BY time DESC LIMIT {int(limit)}{tail}")
        return [_alert_from_row(s.tags, row) for s in series for row in s.rows()]

    def _joined(self, alerts: list[Alert]) -> list[Alert]:
        if self.workflows is None or not alerts:
            return alerts
        flows = self.workflows.many(a.id for a in alerts)
        return [with_workflow(a, flows.get(a.id)) for a in alerts]

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

