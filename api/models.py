"""Response and request bodies of the API (``XPublic`` is what a client receives).

Times are RFC 3339 UTC text (``2026-11-26T10:00:00Z``); concentrations are in the catalogue's
unit of the pollutant (core/pollutants.py).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field, computed_field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing, in order: at most ``limit`` items after skipping ``offset``.
    While a page comes full, the next one starts at ``offset + limit``."""

    limit: int = Field(description="Items asked for")
    offset: int = Field(description="Items skipped")
    total: int | None = Field(default=None, description="Items in all pages; null where they "
                                                        "are not counted (time series)")
    items: list[T]

    @computed_field(description="Items in this page; a full page may have a next one")
    def count(self) -> int:
        return len(self.items)


class PeriodPage(Page[T], Generic[T]):
    """A page of what happened in [start, end)."""

    start: str = Field(description="Start of the period (inclusive)")
    end: str = Field(description="End of the period (exclusive)")


class SeriesPage(PeriodPage[T], Generic[T]):
    """A page of one enterprise's series in [start, end)."""

    enterprise: str


class ErrorPublic(BaseModel):
    detail: str = Field(description="What went wrong, in words")


class FieldErrorPublic(BaseModel):
    loc: str = Field(description="Where: query.start, body.text, ...")
    msg: str


class ValidationErrorPublic(BaseModel):
    detail: str = Field(description="Every problem, in words")
    errors: list[FieldErrorPublic] = Field(default_factory=list)


class OutletPublic(BaseModel):
    id: str
    name: str
    medium: str
    interval_s: int
    limit_ids: list[str]


class EnterprisePublic(BaseModel):
    id: str
    name: str
    region: str
    industry: str
    outlets: list[OutletPublic]


class ReadingPublic(BaseModel):
    time: str
    outlet: str
    pollutant: str
    value: float | None
    flag: str | None = Field(description="HJ 212 data flag: N normal, F stopped, M maintenance, "
                                  "S manual, D fault, C calibration, T over range, "
                                  "B communication fault")


class HourPublic(BaseModel):
    time: str = Field(description="Start of the clock hour")
    outlet: str
    pollutant: str
    n_received: int
    n_valid: int
    valid: bool
    operating: bool | None = None
    mean: float | None = None
    o2_mean: float | None = None
    mean_ref: float | None = Field(None, description="Mean corrected to the reference O2")
    limit: float | None = None
    limit_id: str | None = None
    exceeded: bool = False
    multiple: float | None = Field(None, description="(C - L) / L")
    enterprise: str | None = None
    n_over_range: int | None = Field(None, description="Minute values flagged T (over range)")
    limit_min: float | None = Field(None, description="Lower bound of a range limit (pH)")
    status: str | None = Field(None, description="compliant, exceeded, suspected_exceedance, "
                                                 "invalid, not_operating or "
                                                 "unexplained_high_o2; null in hours judged "
                                                 "before statuses existed")
    target: float | None = Field(None, description="Policy target (ultra-low emission), "
                                                   "scored apart from the limit")
    target_exceeded: bool | None = None


class DayPublic(BaseModel):
    time: str = Field(description="Start of the local day")
    outlet: str
    pollutant: str
    n_valid_hours: int
    valid: bool
    mean_ref: float | None = None
    limit: float | None = None
    limit_id: str | None = None
    exceeded: bool = False
    multiple: float | None = None
    enterprise: str | None = None
    limit_min: float | None = Field(None, description="Lower bound of a range limit (pH)")


class RankingPublic(BaseModel):
    rank: int
    enterprise: str
    name: str
    region: str
    industry: str
    compliance_rate: float | None
    exceedance_hours: int
    exceedance_days: int
    judged_hours: int
    judged_days: int
    max_multiple: float | None
    transmission_rate: float | None
    validity_rate: float | None
    effective_transmission_rate: float | None
    open_alerts: int
    status: str = Field(description="One letter per bucket: C compliant, E exceeded, "
                                    "U undetermined")
    tonnes: dict[str, float] = Field(default_factory=dict, description=(
        "Tonnes of each pollutant emitted in the period (measured and filled amounts)"))
    permit_share: float | None = Field(None, description=(
        "Largest share of a permitted annual total used in the period (1.0 = all of it); "
        "null without a permit"))


class RankingsPublic(PeriodPage[RankingPublic]):
    """Ranked enterprises of a period (the period actually ranked: whole local days)."""

    per: str
    buckets: list[str] = Field(description="Label of each letter of `status`")


class NotePublic(BaseModel):
    at: str = ""
    by: str = Field("", description="role:key id of the author (never the key)")
    action: str = ""
    text: str = ""


class AlertPublic(BaseModel):
    id: str
    kind: str
    enterprise: str
    outlet: str
    pollutant: str
    start: str
    status: str
    active: bool
    hours: float
    severity: str
    updated: str | None
    opened: str | None
    end: str | None
    peak_multiple: float | None
    peak_value: float | None
    detail: str
    notes: list[NotePublic]
    explanation: str | None
    explained: str | None
    period: str = Field("hour", description="What an exceedance was judged on: `hour` "
                                            "(valid hourly means) or `day` (valid daily means)")
    follows: str | None = Field(None, description="The resolved alert this one continues: it "
                                                  "was resolved while its episode went on")


class AlertsPublic(BaseModel):
    count: int
    items: list[AlertPublic]


class NoteIn(BaseModel):
    note: str = Field("", max_length=2000, description="Why; kept with the alert")


class ExplanationIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000, description="The enterprise's explanation")


class MarkIn(BaseModel):
    """An operating-state mark to declare (MEE 2022 marking rules)."""

    outlet: str = Field(max_length=32, description="One of the enterprise's outlet ids")
    kind: str = Field(max_length=32, description="shutdown, startup, shutdown_process, "
                                                 "maintenance or fault")
    start: str = Field(max_length=40, description="Start (inclusive), RFC 3339 with an offset")
    end: str = Field(max_length=40, description="End (exclusive), RFC 3339 with an offset; at "
                                                "most 366 days after start")
    reason: str = Field(min_length=1, max_length=1000, description="Why; kept with the mark")


class MarkPublic(BaseModel):
    id: str
    enterprise: str
    outlet: str
    kind: str
    start: str
    end: str = Field(description="Exclusive")
    reason: str
    declared_by: str = Field(description="role:key id of the declarer (never the key)")
    declared: str
    withdrawn: str | None = Field(None, description="When it was withdrawn; null while it "
                                                    "stands")
    withdrawn_by: str | None = None


class MarksPublic(BaseModel):
    enterprise: str
    count: int
    items: list[MarkPublic]


class RejectionPublic(BaseModel):
    time: str
    reason: str
    source: str
    enterprise: str | None = None
    topic: str | None = None
    detail: str | None = None
    pollutant: str | None = None
    size: int | None = None
    payload: str | None = Field(None, description="The rejected payload, cut to 1 KiB")


class LimitPublic(BaseModel):
    id: str
    pollutant: str
    averaging: str
    limit: float | None
    limit_min: float | None
    limit_max: float | None
    unit: str
    o2_ref_pct: float | None
    standard: str
    clause: str
    category: str
    verification: str
    source: str


class PollutantPublic(BaseModel):
    key: str
    code_2017: str
    code_2005: str | None
    name_en: str
    name_zh: str
    unit: str
    medium: str
    role: str
    min_value: float
    max_value: float


class CheckPublic(BaseModel):
    ok: bool
    latency_ms: float | None = None
    detail: str = ""


class LivePublic(BaseModel):
    live: bool


class HealthPublic(BaseModel):
    live: bool = Field(description="The process answers")
    ready: bool = Field(description="The database answered: requests can be served")
    checks: dict[str, CheckPublic] = Field(description="Each dependency: influxdb, broker")
