"""Expectations, what the service reports, and the differences between the two.

An ``Expectation`` is one checkable statement derived from what a scenario injected
(``simulators.expected``). ``Observed`` is the service's side as plain data (filled from the
API: judged hours and days, alerts, the ranking, rejection counts). ``compare`` lists every
expectation the observation does not meet; ``report`` prints them and the summary line.

Kinds of expectation:

=============  =================================================================================
hour, day      the judged hour (day) starting at ``start_ms`` of outlet/pollutant: ``valid`` and,
               when not None, ``exceeded``; ``status`` too when both sides give one
               (compliant, exceeded, suspected_exceedance, invalid, not_operating,
               unexplained_high_o2). A missing hour counts as not valid.
alert          an alert of ``alert_kind`` opens at ``start_ms`` and closes at ``end_ms`` (None:
               still open at the end of the scenario), both within ``tolerance_ms``, of the
               ``period`` (hour; day for exceedances of daily limits); an alert without a
               ``period`` in the API is an hourly one
no_alert       no alert of ``alert_kind`` ("" = any) for the outlet (and pollutant, if given)
               overlaps ``[start_ms, end_ms)``
rank_below     ``enterprise`` ranks below (after) ``other`` over the scenario period
rejections     exactly ``count`` rejections with ``reason`` for ``enterprise``
forwarded      every reading of enterprise/outlet in the (city's) store is also in the upper
               platform's, same pollutant, time and value (``simulators.forwarding``)
public_report  a report from the public about ``enterprise`` at ``start_ms``
               (``simulators.public``), by ``other``: ``public`` (its public view holds no
               personal data), ``beside`` (an ``alert_kind`` alert of ``pollutant`` beside it on
               the inspector's queue page and through its JSON link), ``not_beside``,
               ``alert_page`` (that alert's page lists it), ``grouped`` (a group of ``count``),
               ``answered`` (the reporter reads the response ``reason``), ``closed`` (public:
               closed with the finding ``reason``)
=============  =================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from core.times import format_ms

KINDS = ("hour", "day", "alert", "no_alert", "rank_below", "rejections", "forwarded",
         "public_report")
# What the public view of a report may hold (api.services.public_reports.public_view).
PUBLIC_REPORT_FIELDS = frozenset({"ticket", "enterprise", "kind", "hour", "status", "finding",
                                  "group_size", "lat", "lon"})


def _iso(ms: int | None) -> str:
    if ms is None:
        return "open"
    return format_ms(ms, "minutes")


@dataclass(frozen=True, slots=True)
class Expectation:
    kind: str
    enterprise: str
    outlet: str = ""
    pollutant: str = ""
    start_ms: int = 0
    end_ms: int | None = None
    valid: bool | None = None
    exceeded: bool | None = None
    alert_kind: str = ""
    tolerance_ms: int = 0
    other: str = ""
    reason: str = ""
    count: int = 0
    value: float | None = None  # nominal corrected mean (hour, day), for messages
    why: str = ""  # the injection behind it
    status: str = ""  # hour, day: the expected status ("" = not checked)
    period: str = "hour"  # alert: what it is judged on, hour or day (day: exceeded days)

    def where(self) -> str:
        parts = [self.enterprise, self.outlet, self.pollutant]
        return "/".join(p for p in parts if p)

    def describe(self) -> str:
        if self.kind in ("hour", "day"):
            state = "not valid" if not self.valid else (
                "exceeded" if self.exceeded else "not exceeded" if self.exceeded is False
                else "valid")
            nominal = f" (nominal {self.value:.4g})" if self.value is not None else ""
            status = f" [{self.status}]" if self.status else ""
            return f"{self.kind} {_iso(self.start_ms)} {self.where()}: {state}{status}{nominal}"
        if self.kind == "alert":
            period = f" ({self.period})" if self.period != "hour" else ""
            return (f"{self.alert_kind}{period} alert {self.where()} opens "
                    f"{_iso(self.start_ms)}, closes {_iso(self.end_ms)}")
        if self.kind == "no_alert":
            return (f"no {self.alert_kind or 'any'} alert {self.where()} "
                    f"{_iso(self.start_ms)}..{_iso(self.end_ms)}")
        if self.kind == "rank_below":
            return f"{self.enterprise} ranks below {self.other}"
        if self.kind == "forwarded":
            return f"every reading of {self.where()} in the upper platform ({self.other})"
        if self.kind == "public_report":
            what = {"beside": f"beside a {self.alert_kind} alert",
                    "not_beside": f"beside no {self.alert_kind} alert",
                    "alert_page": f"listed on its {self.alert_kind} alert's page",
                    "grouped": f"in a group of {self.count}",
                    "answered": "answered by the enterprise",
                    "closed": "closed with its finding",
                    "public": "public without personal data"}.get(self.other, self.other)
            return f"public report {self.where()} at {_iso(self.start_ms)}: {what}"
        return f"{self.count} rejections {self.reason} for {self.enterprise}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Expectation:
        return cls(**d)


@dataclass(frozen=True, slots=True)
class ObservedHour:
    enterprise: str
    outlet: str
    pollutant: str
    start_ms: int
    valid: bool
    exceeded: bool
    mean_ref: float | None = None
    status: str = ""  # "" when the API gives none


@dataclass(frozen=True, slots=True)
class ObservedAlert:
    kind: str
    enterprise: str
    outlet: str
    pollutant: str
    start_ms: int
    end_ms: int | None = None  # None: still open
    id: str = ""
    period: str = "hour"


@dataclass
class Observed:
    """The service's side, as plain data."""

    hours: list[ObservedHour] = field(default_factory=list)
    days: list[ObservedHour] = field(default_factory=list)
    alerts: list[ObservedAlert] = field(default_factory=list)
    ranking: list[str] = field(default_factory=list)  # enterprise ids, best first
    rejections: dict[str, dict[str, int]] = field(default_factory=dict)  # ent -> reason -> n
    # "enterprise/outlet" -> [readings in the store, of them in the upper platform]
    forwarded: dict[str, list[int]] = field(default_factory=dict)
    # report key (simulators.public.ReportPlan.key) -> what was read back about it
    public_reports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Observed:
        return cls(hours=[ObservedHour(**h) for h in d.get("hours", [])],
                   days=[ObservedHour(**h) for h in d.get("days", [])],
                   alerts=[ObservedAlert(**a) for a in d.get("alerts", [])],
                   ranking=list(d.get("ranking", [])),
                   rejections={e: dict(r) for e, r in d.get("rejections", {}).items()},
                   forwarded={o: list(n) for o, n in d.get("forwarded", {}).items()},
                   public_reports=dict(d.get("public_reports", {})))


@dataclass(frozen=True, slots=True)
class Difference:
    expectation: Expectation
    found: str

    def __str__(self) -> str:
        why = f" [{self.expectation.why}]" if self.expectation.why else ""
        return f"expected {self.expectation.describe()}; found {self.found}{why}"


HourKey = tuple[str, str, str, int]


def _index(hours: Iterable[ObservedHour]) -> dict[HourKey, ObservedHour]:
    return {(h.enterprise, h.outlet, h.pollutant, h.start_ms): h for h in hours}


def _check_period(e: Expectation, got: ObservedHour | None) -> str | None:
    if got is None:
        return None if e.valid is False else f"no judged {e.kind}"
    if e.valid is not None and got.valid != e.valid:
        return f"{e.kind} {'valid' if got.valid else 'not valid'}"
    if e.valid and e.exceeded is not None and got.exceeded != e.exceeded:
        mean = f" (mean_ref {got.mean_ref:.4g})" if got.mean_ref is not None else ""
        return f"{'exceeded' if got.exceeded else 'not exceeded'}{mean}"
    if e.status and got.status and got.status != e.status:
        return f"status {got.status}"
    return None


def _same_place(e: Expectation, a: ObservedAlert) -> bool:
    return (a.enterprise == e.enterprise and (not e.outlet or a.outlet == e.outlet)
            and (not e.pollutant or a.pollutant == e.pollutant))


def _check_alert(e: Expectation, alerts: list[ObservedAlert]) -> str | None:
    mine = [a for a in alerts if a.kind == e.alert_kind and _same_place(e, a)
            and a.period == e.period]
    hits = [a for a in mine if abs(a.start_ms - e.start_ms) <= e.tolerance_ms]
    if not hits:
        others = ", ".join(f"{_iso(a.start_ms)}..{_iso(a.end_ms)}" for a in mine[:5])
        return f"no such alert (this outlet has: {others or 'none'})"
    if len(hits) > 1:
        return f"{len(hits)} alerts opening then"
    got = hits[0]
    if e.end_ms is None:
        return None if got.end_ms is None else f"closed at {_iso(got.end_ms)}"
    if got.end_ms is None:
        return "still open"
    if abs(got.end_ms - e.end_ms) > e.tolerance_ms:
        return f"closed at {_iso(got.end_ms)}"
    return None


def _check_no_alert(e: Expectation, alerts: list[ObservedAlert]) -> str | None:
    end = e.end_ms if e.end_ms is not None else 2**62
    bad = [a for a in alerts
           if (not e.alert_kind or a.kind == e.alert_kind) and _same_place(e, a)
           and a.start_ms < end and (a.end_ms is None or a.end_ms > e.start_ms)]
    if not bad:
        return None
    return "; ".join(f"{a.kind} {a.outlet}/{a.pollutant} {_iso(a.start_ms)}..{_iso(a.end_ms)}"
                     for a in bad[:5])


def _check_rank(e: Expectation, ranking: list[str]) -> str | None:
    pos = {ent: i for i, ent in enumerate(ranking)}
    if e.enterprise not in pos or e.other not in pos:
        missing = [x for x in (e.enterprise, e.other) if x not in pos]
        return f"{', '.join(missing)} not in the ranking"
    if pos[e.enterprise] > pos[e.other]:
        return None
    return f"{e.enterprise} ranked {pos[e.enterprise] + 1}, {e.other} {pos[e.other] + 1}"


def _check_forwarded(e: Expectation, forwarded: dict[str, list[int]]) -> str | None:
    total, there = forwarded.get(e.where(), [0, 0])
    if total == 0:
        return "no readings of this outlet in the store"
    return None if there == total else f"{there} of {total} readings there"


def _check_public_report(e: Expectation, seen: dict[str, Any] | None) -> str | None:
    if seen is None:
        return "the report was not read back"
    beside = [a for a in seen["beside_json"] if a["kind"] == e.alert_kind
              and (not e.pollutant or a["pollutant"] == e.pollutant)]
    if e.other == "beside":
        on_page = [a for a in beside if a["id"] in seen["beside_page"]]
        if on_page:
            return None
        return (f"through its link {len(beside)} such alerts, on the page "
                f"{len(seen['beside_page'])} alerts, none such")
    if e.other == "not_beside":
        return f"{len(beside)} such alerts beside it" if beside else None
    if e.other == "alert_page":
        return None if any(a["id"] in seen["alert_pages"] for a in beside) else \
            "no such alert's page lists it"
    if e.other == "grouped":
        return None if seen["group_size"] == e.count else f"a group of {seen['group_size']}"
    if e.other == "answered":
        return None if e.reason in seen.get("responses", []) else \
            f"the reporter reads {seen.get('responses')}"
    if e.other == "closed":
        got = (seen.get("status"), seen.get("finding"))
        return None if got == ("closed", e.reason) else f"public status {got}"
    extra = sorted(set(seen["public_fields"]) - PUBLIC_REPORT_FIELDS)
    return f"public fields {extra}" if extra else None


def compare(expectations: Iterable[Expectation], observed: Observed) -> list[Difference]:
    """Every expectation that ``observed`` does not meet, with what was found instead."""
    hours, days = _index(observed.hours), _index(observed.days)
    out: list[Difference] = []
    for e in expectations:
        key = (e.enterprise, e.outlet, e.pollutant, e.start_ms)
        if e.kind == "hour":
            problem = _check_period(e, hours.get(key))
        elif e.kind == "day":
            problem = _check_period(e, days.get(key))
        elif e.kind == "alert":
            problem = _check_alert(e, observed.alerts)
        elif e.kind == "no_alert":
            problem = _check_no_alert(e, observed.alerts)
        elif e.kind == "rank_below":
            problem = _check_rank(e, observed.ranking)
        elif e.kind == "rejections":
            n = observed.rejections.get(e.enterprise, {}).get(e.reason, 0)
            problem = None if n == e.count else f"{n}"
        elif e.kind == "forwarded":
            problem = _check_forwarded(e, observed.forwarded)
        elif e.kind == "public_report":
            problem = _check_public_report(e, observed.public_reports.get(e.why))
        else:
            raise ValueError(f"unknown expectation kind {e.kind!r}")
        if problem is not None:
            out.append(Difference(e, problem))
    return out


def report(name: str, expectations: list[Expectation], differences: list[Difference]) -> str:
    """Each difference on its line, then ``scenario <name>: <k>/<n> expectations met``."""
    lines = [str(d) for d in differences]
    met = len(expectations) - len(differences)
    lines.append(f"scenario {name}: {met}/{len(expectations)} expectations met")
    return "\n".join(lines)
