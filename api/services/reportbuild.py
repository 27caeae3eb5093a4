"""The content of reports, from judged hours and their day aggregates (pure: no I/O).

A report is a JSON document: what it covers, the basis of its numbers and a list of sections,
each a table (``columns`` and ``rows``), so that CSV, XLSX and HTML render it alike
(``api.services.reportformats``). Numbers are rounded to 4 decimals (concentrations in
mg/m3 or mg/L, amounts in kg and t), times are local with their offset.

- ``hj75``: the daily, monthly and annual tables of one outlet (HJ 75-2017 report tables;
  compliance-rules.md §1.3): hourly or daily means (measured, O2 and O2-corrected), min and max
  of the valid hourly corrected means, amounts, valid-data counts and a flags summary (hours
  by status). A valid day has at least 20 valid hours, a valid month 25 valid days (February
  23); a month's or year's mean is the mean of its valid days' means (§1.3; the annual rule is
  not in the reference [M]: the same rule is applied). These thresholds are those of
  ``alerts.rules.days``, restated here because the API may not import the engine; batch water
  analysers (20/24 of their samples) are counted with the hour rule, a known simplification.
- ``permit``: the permit execution report of an enterprise (HJ 944-2018): actual amounts per
  pollutant against the permitted annual totals, concentrations against limits, exceedances
  with the enterprise's explanation, and invalid periods (the alerts of invalid or missing data).
- ``disclosure``: the draft annual disclosure of an enterprise (MEE Order 24 of 2021, the part
  on pollutant generation, treatment and discharge, self-monitoring included;
  disclosure-marks-sharing.md): per outlet and pollutant, the annual means, the limit, the
  exceedances and the amounts; per outlet, the monitoring and its data quality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.services.reportdata import COUNTED_STATUSES, SeriesKey, Stats
from api.services.reportperiods import label_of, local_date, local_iso
from core.registry import Enterprise

KINDS = {"hj75": ("day", "month", "year"), "permit": ("month", "quarter", "year"),
         "disclosure": ("year",)}
TITLES = {"hj75": "HJ 75-2017 report table / 自动监测数据报表",
          "permit": "Permit execution report (HJ 944-2018) / 排污许可证执行报告",
          "disclosure": "Annual environmental disclosure, draft / "
                        "企业环境信息依法披露年度报告（草稿）"}
VALID_DAY_HOURS = 20  # HJ 75-2017 via compliance-rules.md §1.3
VALID_MONTH_DAYS = 25  # §1.3; February 23
VALID_FEBRUARY_DAYS = 23
FLAG_COLUMNS = ("exceeded_hours", *(f"{s}_hours" for s in COUNTED_STATUSES))
Table = dict[str, Any]


def r4(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def tonnes(kg: float | None) -> float | None:
    return None if kg is None else round(kg / 1000.0, 6)


@dataclass(frozen=True, slots=True)
class Header:
    kind: str
    period: str
    label: str
    start_ms: int
    end_ms: int
    zone: str


def document(h: Header, ent: Enterprise, outlet: str | None, sections: list[Table],
             basis: str) -> dict[str, Any]:
    out = ent.outlets.get(outlet) if outlet else None
    return {"kind": h.kind, "title": TITLES[h.kind], "period": h.period, "label": h.label,
            "start": local_iso(h.start_ms, h.zone), "end": local_iso(h.end_ms, h.zone),
            "timezone": h.zone,
            "enterprise": {"id": ent.id, "name": ent.name, "region": ent.region,
                           "industry": ent.industry},
            "outlet": None if out is None else {"id": out.id, "name": out.name,
                                                "medium": str(out.medium.value)},
            "basis": basis, "sections": sections}


def table(sid: str, title: str, columns: Sequence[str], rows: list[list[Any]]) -> Table:
    return {"id": sid, "title": title, "columns": list(columns), "rows": rows}


def flags(st: Stats) -> list[int]:
    # COUNTED_STATUSES, in its order, spelt out: this runs per row of every report.
    return [st.exceeded, st.invalid, st.not_operating, st.unexplained_high_o2,
            st.suspected_exceedance]


def combine(days: Sequence[Stats], month_rule: bool = False,
            february: bool = False) -> tuple[Stats, int, bool]:
    """Days summed into one Stats (the mean of the valid days' means), the number of valid
    days, and whether the days make a valid month (§1.3)."""
    valid_days = [d for d in days if d.valid >= VALID_DAY_HOURS and d.mean_ref is not None]
    out = Stats()
    for d in days:
        for name in ("hours", "received", "valid", "exceeded", *COUNTED_STATUSES):
            setattr(out, name, getattr(out, name) + getattr(d, name))
    refs = [d.mean_ref for d in valid_days if d.mean_ref is not None]
    out.mean_ref = sum(refs) / len(refs) if refs else None
    means = [d.mean for d in valid_days if d.mean is not None]
    out.mean = sum(means) / len(means) if means else None
    o2s = [d.o2_mean for d in valid_days if d.o2_mean is not None]
    out.o2_mean = sum(o2s) / len(o2s) if o2s else None
    mins = [d.ref_min for d in days if d.ref_min is not None]
    maxs = [d.ref_max for d in days if d.ref_max is not None]
    out.ref_min, out.ref_max = (min(mins) if mins else None), (max(maxs) if maxs else None)
    measured = [d.measured_kg for d in days if d.measured_kg is not None]
    out.measured_kg = sum(measured) if measured else None
    filled = [d.filled_kg for d in days if d.filled_kg is not None]
    out.filled_kg = sum(filled) if filled else None
    out.filled_hours = sum(d.filled_hours for d in days)
    limits = [d.limit for d in days if d.limit is not None]
    out.limit = max(limits) if limits else None
    need = VALID_FEBRUARY_DAYS if february else VALID_MONTH_DAYS
    return out, len(valid_days), month_rule and len(valid_days) >= need


PERIOD_COLUMNS = ("pollutant", "hours", "received_hours", "valid_hours", "mean", "o2_mean",
                  "mean_ref", "ref_min", "ref_max", "limit", "measured_kg", "filled_kg",
                  "filled_hours", "amount_kg", *FLAG_COLUMNS)


def stat_row(st: Stats) -> list[Any]:
    return [st.hours, st.received, st.valid, r4(st.mean), r4(st.o2_mean), r4(st.mean_ref),
            r4(st.ref_min), r4(st.ref_max), r4(st.limit), r4(st.measured_kg),
            r4(st.filled_kg), st.filled_hours, r4(st.amount_kg), *flags(st)]


HJ75_BASIS = ("Judged hours of the service: an hour is valid with 45 valid minute values, its "
              "corrected mean is mean x (21 - O2_ref) / (21 - O2_mean); a valid day has 20 "
              "valid hours, a valid month 25 valid days (February 23); a longer period's mean "
              "is the mean of its valid days' means (HJ 75-2017, HJ 76-2017 Appendix B; "
              "compliance-rules.md §1.3). Concentrations dry, standard state, NOx as NO2; "
              "amounts in kg where flow data exist, measured apart from those filled for "
              "CEMS-invalid hours (HJ 75-2017 §12).")


def hj75_day(h: Header, ent: Enterprise, outlet: str, hours: Sequence[dict[str, Any]]
             ) -> dict[str, Any]:
    """The day table of an outlet: each judged hour, and each pollutant's day."""
    by_pollutant: dict[str, list[dict[str, Any]]] = {}
    rows = []
    for hr in sorted(hours, key=lambda x: (x["time"], x.get("pollutant", ""))):
        by_pollutant.setdefault(hr.get("pollutant", ""), []).append(hr)
        rows.append([local_iso(hr["time"], h.zone), hr.get("pollutant"), hr.get("n_received"),
                     hr.get("n_valid"), bool(hr.get("valid")), r4(hr.get("mean")),
                     r4(hr.get("o2_mean")), r4(hr.get("mean_ref")), r4(hr.get("limit")),
                     hr.get("status"), bool(hr.get("exceeded")), r4(hr.get("measured_kg")),
                     r4(hr.get("filled_kg"))])
    summary = []
    for p in sorted(by_pollutant):
        st = Stats.of_hours(by_pollutant[p])
        summary.append([p, *stat_row(st), st.valid >= VALID_DAY_HOURS])
    sections = [
        table("hours", "Hourly values / 小时数据",
              ("hour", "pollutant", "n_received", "n_valid", "valid", "mean", "o2_mean",
               "mean_ref", "limit", "status", "exceeded", "measured_kg", "filled_kg"), rows),
        table("summary", "Day summary / 日统计", (*PERIOD_COLUMNS, "valid_day"), summary)]
    return document(h, ent, outlet, sections, HJ75_BASIS)


def _series_of(stats: Mapping[SeriesKey, dict[int, Stats]], ent: str, outlet: str
               ) -> dict[str, dict[int, Stats]]:
    return {k[2]: v for k, v in stats.items() if k[0] == ent and k[1] == outlet}


def hj75_month(h: Header, ent: Enterprise, outlet: str,
               stats: Mapping[SeriesKey, dict[int, Stats]]) -> dict[str, Any]:
    """The month table of an outlet: each local day per pollutant, and the month."""
    series = _series_of(stats, ent.id, outlet)
    rows, summary = [], []
    february = local_date(h.start_ms, h.zone).month == 2
    for p in sorted(series):
        days = series[p]
        for day_ms in sorted(days):
            st = days[day_ms]
            rows.append([label_of("day", local_date(day_ms, h.zone)), p, *stat_row(st),
                         st.valid >= VALID_DAY_HOURS])
        st, n_days, valid = combine(list(days.values()), True, february)
        summary.append([p, *stat_row(st), n_days, valid])
    sections = [
        table("days", "Daily values / 日数据", ("date", *PERIOD_COLUMNS, "valid_day"), rows),
        table("summary", "Month summary / 月统计",
              (*PERIOD_COLUMNS, "valid_days", "valid_month"), summary)]
    return document(h, ent, outlet, sections, HJ75_BASIS)


def hj75_year(h: Header, ent: Enterprise, outlet: str,
              stats: Mapping[SeriesKey, dict[int, Stats]]) -> dict[str, Any]:
    """The year table of an outlet: each month per pollutant, and the year."""
    series = _series_of(stats, ent.id, outlet)
    rows, summary = [], []
    for p in sorted(series):
        months: dict[str, list[Stats]] = {}
        for day_ms, st in sorted(series[p].items()):
            months.setdefault(label_of("month", local_date(day_ms, h.zone)), []).append(st)
        valid_months = 0
        for label, days in sorted(months.items()):
            st, n_days, valid = combine(days, True, label.endswith("-02"))
            valid_months += valid
            rows.append([label, p, *stat_row(st), n_days, valid])
        st, n_days, _ = combine([d for ds in months.values() for d in ds])
        summary.append([p, *stat_row(st), n_days, valid_months])
    sections = [
        table("months", "Monthly values / 月数据",
              ("month", *PERIOD_COLUMNS, "valid_days", "valid_month"), rows),
        table("summary", "Year summary / 年统计",
              (*PERIOD_COLUMNS, "valid_days", "valid_months"), summary)]
    return document(h, ent, outlet, sections, HJ75_BASIS)


@dataclass(frozen=True, slots=True)
class Episode:
    """An alert as a report lists it."""

    kind: str
    outlet: str
    pollutant: str
    start_ms: int
    end_ms: int | None
    hours: float
    peak_multiple: float | None
    explanation: str | None
    status: str


EXCEEDANCE_KINDS = ("exceedance",)
INVALID_KINDS = ("data_gap", "invalid_data", "unexplained_high_o2", "invalid_hour_over_limit")


def _outlet_totals(ent: Enterprise, stats: Mapping[SeriesKey, dict[int, Stats]]
                   ) -> dict[tuple[str, str], Stats]:
    return {(k[1], k[2]): combine(list(v.values()))[0] for k, v in sorted(stats.items())
            if k[0] == ent.id}


def _episode_rows(eps: Sequence[Episode], zone: str) -> list[list[Any]]:
    return [[e.kind, e.outlet, e.pollutant, local_iso(e.start_ms, zone),
             local_iso(e.end_ms, zone) if e.end_ms is not None else None, e.hours,
             r4(e.peak_multiple), e.status, e.explanation]
            for e in sorted(eps, key=lambda x: (x.start_ms, x.outlet, x.pollutant, x.kind))]


EPISODE_COLUMNS = ("kind", "outlet", "pollutant", "start", "end", "hours", "peak_multiple",
                   "status", "explanation")


def permit(h: Header, ent: Enterprise, stats: Mapping[SeriesKey, dict[int, Stats]],
           episodes: Sequence[Episode], permits: Mapping[str, float]) -> dict[str, Any]:
    """The permit execution report of an enterprise (HJ 944-2018): amounts against the
    permit (t; ``permits``: permitted annual totals in t/a per pollutant, from the registry),
    concentrations against limits, exceedances with their explanation, invalid periods."""
    totals = _outlet_totals(ent, stats)
    amounts: dict[str, list[float]] = {}
    for (_, p), st in totals.items():
        if st.amount_kg is not None:
            acc = amounts.setdefault(p, [0.0, 0.0])
            acc[0] += st.measured_kg or 0.0
            acc[1] += st.filled_kg or 0.0
    amount_rows = []
    for p in sorted(set(amounts) | set(permits)):
        measured, filled = amounts.get(p, (None, None))
        actual = None if measured is None or filled is None else tonnes(measured + filled)
        allowed = permits.get(p)
        share = (round(actual / allowed, 6) if actual is not None and allowed else None)
        amount_rows.append([p, tonnes(measured), tonnes(filled), actual, allowed, share])
    conc_rows = [[o, p, st.valid, r4(st.mean_ref), r4(st.ref_max), r4(st.limit), st.exceeded]
                 for (o, p), st in totals.items()]
    sections = [
        table("amounts", "Actual vs permitted amounts / 实际排放量与许可排放量",
              ("pollutant", "measured_t", "filled_t", "actual_t", "permitted_t_per_year",
               "share_of_permit"),
              amount_rows),
        table("concentrations", "Concentrations against limits / 浓度达标情况",
              ("outlet", "pollutant", "valid_hours", "mean_ref", "max_hourly_ref", "limit",
               "exceeded_hours"), conc_rows),
        table("exceedances", "Exceedances and their explanation / 超标情况及说明",
              EPISODE_COLUMNS, _episode_rows([e for e in episodes
                                              if e.kind in EXCEEDANCE_KINDS], h.zone)),
        table("invalid", "Invalid and missing data periods / 数据缺失与无效时段",
              EPISODE_COLUMNS, _episode_rows([e for e in episodes
                                              if e.kind in INVALID_KINDS], h.zone))]
    basis = ("HJ 944-2018 execution report, monitoring part: amounts are sums of hourly "
             "amounts (compliance-rules.md §1.3, the usual practice [M]), those of CEMS-invalid "
             "hours filled by HJ 75-2017 §12 and shown apart; permitted totals "
             "from the registry (t/a; empty where none is registered); exceedances are "
             "valid hours above the hourly limit (§1.5) and their alerts; invalid periods "
             "are the alerts of missing or invalid data.")
    return document(h, ent, None, sections, basis)


def disclosure(h: Header, ent: Enterprise, stats: Mapping[SeriesKey, dict[int, Stats]],
               permits: Mapping[str, float]) -> dict[str, Any]:
    """The draft annual disclosure (MEE Order 24, 2021): pollutant discharge and
    self-monitoring, from the year's judged hours."""
    totals = _outlet_totals(ent, stats)
    basic = [["enterprise", ent.id], ["name", ent.name], ["region", ent.region],
             ["industry", ent.industry], ["year", h.label],
             ["status", "draft, not yet reviewed by the authority / 草稿，未经审核"]]
    discharge = [[o, p, r4(st.mean_ref), r4(st.ref_max), r4(st.limit), st.exceeded,
                  tonnes(st.amount_kg), tonnes(st.filled_kg), permits.get(p)]
                 for (o, p), st in totals.items()]
    monitoring = []
    for oid in sorted(ent.outlets):
        series = [st for (o, _), st in totals.items() if o == oid]
        hours = sum(s.hours for s in series)
        received = sum(s.received for s in series)
        valid = sum(s.valid for s in series)
        monitoring.append([oid, ent.outlets[oid].name, "automatic (CEMS) / 自动监测",
                           ",".join(sorted(p for (o, p) in totals if o == oid)), hours,
                           received, valid, round(received / hours, 4) if hours else None,
                           round(valid / received, 4) if received else None])
    sections = [
        table("basic", "Basic information / 基本信息", ("field", "value"), basic),
        table("discharge", "Pollutant discharge / 污染物排放",
              ("outlet", "pollutant", "annual_mean_ref", "max_hourly_ref", "limit",
               "exceeded_hours", "amount_t", "of_which_filled_t", "permitted_t_per_year"),
              discharge),
        table("self_monitoring", "Self-monitoring / 自行监测",
              ("outlet", "name", "mode", "pollutants", "series_hours", "received_hours",
               "valid_hours", "transmission_rate", "validity_rate"), monitoring)]
    basis = ("Draft of the annual report of MEE Order 24 (企业环境信息依法披露管理办法, 2021): "
             "the sections on pollutant discharge and self-monitoring, from the service's "
             "judged hours (disclosure-marks-sharing.md); the enterprise completes the other "
             "parts and files it by 15 March.")
    return document(h, ent, None, sections, basis)
