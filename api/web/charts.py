"""Chart data for the pages (pure): judged hours against their limit, minute readings with
their flags, and the data quality of judged hours.

A chart is a dict that static/app.js draws with uPlot: ``x`` in epoch seconds, and series of
kind ``line`` (the values), ``limit`` (a dashed line) or ``marker`` (points only, null where
there is nothing to mark). The page embeds them as JSON in a non-executed script element.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from api.web.i18n import Labels
from core.pollutants import BY_KEY, VALID_FLAG, Role
from core.standards import Limit

Row = dict[str, Any]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _chart(chart_id: str, labels: Labels, outlet: str, pollutant: str, x: list[int],
           series: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": chart_id, "outlet": outlet, "pollutant": pollutant,
            "title": f"{outlet} · {labels.pollutant(pollutant)}",
            "subtitle": labels.pollutant_other(pollutant), "unit": labels.unit(pollutant),
            "x": x, "series": series}


def _grouped(rows: Iterable[Row]) -> dict[tuple[str, str], list[Row]]:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((str(row.get("outlet")), str(row.get("pollutant"))), []).append(row)
    for items in groups.values():
        items.sort(key=lambda r: int(r["time"]))
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], not _judged(kv[0][1]),
                                                        kv[0][1])))


def _judged(pollutant: str) -> bool:
    """Pollutants first, then the parameters that judge them (O2, flow, ...)."""
    p = BY_KEY.get(pollutant)
    return p is None or p.role is Role.POLLUTANT


def hour_charts(rows: Iterable[Row], labels: Labels) -> list[dict[str, Any]]:
    """One chart per outlet and pollutant judged against an hourly limit: the O2-corrected
    mean of valid hours, the limit line and the exceeded hours as red points."""
    charts = []
    for (outlet, pollutant), items in _grouped(rows).items():
        if all(_num(r.get("limit")) is None for r in items):
            continue
        x = [int(r["time"]) // 1000 for r in items]
        means = [_num(r.get("mean_ref")) if r.get("valid") else None for r in items]
        limit = [_num(r.get("limit")) for r in items]
        marks = [m if r.get("exceeded") else None for m, r in zip(means, items, strict=True)]
        chart = _chart(f"h-{outlet}-{pollutant}", labels, outlet, pollutant, x, [
            {"label": labels("corrected_mean"), "kind": "line", "values": means},
            {"label": labels("limit"), "kind": "limit", "values": limit},
            {"label": labels("exceeded"), "kind": "marker", "values": marks}])
        chart["summary"] = labels("hours_summary", n=len(items),
                                  valid=sum(1 for m in means if m is not None),
                                  exceeded=sum(1 for m in marks if m is not None))
        charts.append(chart)
    return charts


# A colour per HJ 212-2017 data flag (hj212.md §11.1), told apart on the charts.
FLAG_COLOURS = {"T": "#c62828", "D": "#7b1010", "B": "#3b3b3b", "M": "#ef8f00",
                "C": "#0f8a8a", "S": "#6a3fa0", "F": "#8a94a0"}
FLAG_ORDER = "TDBMCSF"  # over range first (hj212.md §11.1: T above the measuring range)
RAW_COLOUR, CORRECTED_COLOUR = "#7a8aa0", "#1f5fbf"
AIR_O2_PCT = 21.0


def hour_limits(limits: Iterable[Limit]) -> dict[str, Limit]:
    """Per pollutant, its upper limit on hourly means (the one minute values are shown
    against), if the outlet has one."""
    out: dict[str, Limit] = {}
    for lim in limits:
        if lim.averaging == "hour" and lim.limit is not None:
            out.setdefault(lim.pollutant, lim)
    return out


def corrected(raw: float | None, o2: float | None, o2_ref: float | None) -> float | None:
    """``C_ref = C_meas x (21 - O2_ref) / (21 - O2_meas)`` (compliance-rules.md §1.2, GB
    13271-2014 §5.2 formula (1)); the raw value when the limit has no reference O2; None when
    the O2 of the minute is missing or at air's."""
    if raw is None or o2_ref is None:
        return raw
    if o2 is None or o2 >= AIR_O2_PCT:
        return None
    return raw * (AIR_O2_PCT - o2_ref) / (AIR_O2_PCT - o2)


def _o2_by_minute(rows: Iterable[Row]) -> dict[tuple[str, int], float]:
    return {(str(r.get("outlet")), int(r["time"])): v for r in rows
            if r.get("pollutant") == "o2" and (v := _num(r.get("value"))) is not None}


def annotate(rows: list[Row], limits: dict[str, Limit]) -> list[Row]:
    """Each reading with ``corrected`` (its O2-corrected value where its limit has a reference
    O2) and ``over`` (the value against the hourly limit exceeds it: a hint, the hourly mean
    judges)."""
    o2 = _o2_by_minute(rows)
    out = []
    for r in rows:
        lim = limits.get(str(r.get("pollutant")))
        value = _num(r.get("value"))
        ref = corrected(value, o2.get((str(r.get("outlet")), int(r["time"]))),
                        lim.o2_ref_pct if lim else None)
        over = bool(lim and lim.limit is not None and ref is not None and ref > lim.limit)
        out.append({**r, "corrected": ref, "over": over})
    return out


def reading_charts(rows: Iterable[Row], labels: Labels,
                   limits: dict[str, Limit] | None = None) -> list[dict[str, Any]]:
    """One chart per outlet and pollutant of minute readings: the raw values, the O2-corrected
    ones beside them where the limit has a reference O2, the hourly limit, and the values not
    flagged N as points in one colour per flag (a legend entry each); ``flags`` holds each
    minute's flag letter."""
    limits = limits or {}
    charts = []
    for (outlet, pollutant), items in _grouped(annotate(list(rows), limits)).items():
        x = [int(r["time"]) // 1000 for r in items]
        values = [_num(r.get("value")) for r in items]
        flags = [str(r.get("flag") or VALID_FLAG) for r in items]
        lim = limits.get(pollutant)
        series: list[dict[str, Any]] = []
        if lim is not None and lim.o2_ref_pct is not None:
            series.append({"label": labels("raw_value"), "kind": "line", "values": values,
                           "colour": RAW_COLOUR, "width": 1})
            series.append({"label": labels("corrected_value") + f" (O2 {lim.o2_ref_pct:g} %)",
                           "kind": "line", "colour": CORRECTED_COLOUR,
                           "values": [r["corrected"] for r in items]})
        else:
            series.append({"label": labels("value"), "kind": "line", "values": values})
        if lim is not None:
            series.append({"label": labels("limit"), "kind": "limit",
                           "values": [lim.limit] * len(items)})
        for letter in FLAG_ORDER:
            if letter in flags:
                series.append({"label": f"{letter} {labels.flag(letter)}", "kind": "marker",
                               "colour": FLAG_COLOURS[letter], "flag": letter,
                               "values": [v if f == letter else None
                                          for v, f in zip(values, flags, strict=True)]})
        chart = _chart(f"r-{outlet}-{pollutant}", labels, outlet, pollutant, x, series)
        chart["flags"] = flags
        chart["summary"] = labels("readings_summary", n=len(items),
                                  flagged=sum(1 for f in flags if f != VALID_FLAG))
        charts.append(chart)
    return charts


def flagged(rows: Iterable[Row]) -> list[Row]:
    """The readings whose flag is not N, in time order."""
    return sorted((r for r in rows if (r.get("flag") or VALID_FLAG) != VALID_FLAG),
                  key=lambda r: (int(r["time"]), str(r.get("outlet")), str(r.get("pollutant"))))


def priority(row: Row) -> int:
    """0: over range (T) or over the limit; 1: a fault or a communication error (D, B); 2: the
    routine flags (maintenance, calibration, stopped, set by hand)."""
    flag = row.get("flag") or VALID_FLAG
    if flag == "T" or row.get("over"):
        return 0
    return 1 if flag in ("D", "B") else 2


def notable(rows: list[Row], limits: dict[str, Limit], only: str | None = None) -> list[Row]:
    """The readings flagged (not N) or over the limit, the non-routine ones first, then in time
    order; ``only``: one flag letter, or ``over`` for those over the limit."""
    found = [r for r in annotate(rows, limits)
             if (r.get("flag") or VALID_FLAG) != VALID_FLAG or r["over"]]
    if only == "over":
        found = [r for r in found if r["over"]]
    elif only:
        found = [r for r in found if (r.get("flag") or VALID_FLAG) == only]
    return sorted(found, key=lambda r: (priority(r), int(r["time"]), str(r.get("outlet")),
                                        str(r.get("pollutant"))))


@dataclass(frozen=True, slots=True)
class HourQuality:
    """How one outlet and pollutant's hours were judged over a period."""

    outlet: str
    pollutant: str
    hours: int  # hours with data
    valid_hours: int
    exceeded_hours: int
    max_multiple: float | None

    @property
    def valid_rate(self) -> float | None:
        return self.valid_hours / self.hours if self.hours else None


def hour_quality(rows: Iterable[Row]) -> list[HourQuality]:
    """Per outlet and pollutant: hours with data, valid and exceeded hours, largest multiple."""
    out = []
    for (outlet, pollutant), items in _grouped(rows).items():
        multiples = [m for r in items if r.get("exceeded")
                     and (m := _num(r.get("multiple"))) is not None]
        out.append(HourQuality(outlet, pollutant, len(items),
                               sum(1 for r in items if r.get("valid")),
                               sum(1 for r in items if r.get("exceeded")),
                               max(multiples) if multiples else None))
    return out


O2_LEVELS = {"o2_below_norm": "o2_floor", "o2_against_flow": "o2_usual"}  # label of the level


def stats_keys(alert: Any, flow_key: str) -> tuple[str, ...]:
    """The keys whose hourly means (``minute_stats``) an alert's chart draws: O2 and the flow it
    should follow for the O2 signs, the near-constant key, else none."""
    if alert.kind in ("o2_below_norm", "o2_against_flow"):
        return ("o2", flow_key)
    return (alert.pollutant,) if alert.kind == "near_constant" and alert.pollutant else ()


def stats_charts(alert: Any, stats: Iterable[Row], keys: Sequence[str], labels: Labels
                 ) -> list[dict[str, Any]]:
    """One chart per key: the hourly mean of its valid minutes around the alert's period
    (shaded), with the O2 the alert holds the outlet to (its peak value: the floor of the
    source type for ``o2_below_norm``, the usual O2 at that flow for ``o2_against_flow``) as
    a dotted line on O2."""
    by_key: dict[str, list[Row]] = {}
    for r in stats:
        if r.get("outlet") == alert.outlet:
            by_key.setdefault(str(r.get("pollutant")), []).append(r)
    out = []
    for key in keys:
        items = sorted(by_key.get(key, []), key=lambda r: int(r["time"]))
        if not items:
            continue
        series: list[dict[str, Any]] = [{
            "label": labels("hour_mean_valid"), "kind": "line", "colour": CORRECTED_COLOUR,
            "values": [_num(r.get("mean")) if r.get("n_valid") else None for r in items]}]
        if key == "o2" and alert.kind in O2_LEVELS and alert.peak_value is not None:
            series.append({"label": labels(O2_LEVELS[alert.kind]), "kind": "level",
                           "values": [float(alert.peak_value)] * len(items)})
        chart = _chart(f"a-{alert.id}-{key}", labels, alert.outlet, key,
                       [int(r["time"]) // 1000 for r in items], series)
        chart["bands"] = [[alert.start_ms // 1000,
                           alert.end_ms // 1000 if alert.end_ms is not None else None]]
        chart["summary"] = labels("alert_period")
        out.append(chart)
    return out


def alert_chart(alert: Any, hours: Iterable[Row], labels: Labels) -> dict[str, Any] | None:
    """The judged hours of an alert's outlet and pollutant around its period: the corrected
    mean, the raw mean beside it when O2 correction applies, the limit, the alert's period
    shaded (``bands``), and for a flat line its value (the raw mean that stayed the same,
    alerts.rules.episodes.flat_lines) as a dotted line."""
    items = sorted((r for r in hours if r.get("outlet") == alert.outlet
                    and r.get("pollutant") == alert.pollutant), key=lambda r: int(r["time"]))
    if not items:
        return None
    x = [int(r["time"]) // 1000 for r in items]
    valid = [bool(r.get("valid")) for r in items]
    ref = [_num(r.get("mean_ref")) if ok else None for r, ok in zip(items, valid, strict=True)]
    raw = [_num(r.get("mean")) if ok else None for r, ok in zip(items, valid, strict=True)]
    series: list[dict[str, Any]] = []
    if any(v is not None for v in ref):
        series.append({"label": labels("corrected_mean"), "kind": "line", "values": ref,
                       "colour": CORRECTED_COLOUR})
    if any(r is not None and r != c for r, c in zip(raw, ref, strict=True)) or not series:
        series.append({"label": labels("raw_mean"), "kind": "line", "values": raw,
                       "colour": RAW_COLOUR, "width": 1})
    limit = [_num(r.get("limit")) for r in items]
    if any(v is not None for v in limit):
        series.append({"label": labels("limit"), "kind": "limit", "values": limit})
    if alert.kind == "suspicious_flatline" and alert.peak_value is not None:
        series.append({"label": labels("flat_value"), "kind": "level",
                       "values": [float(alert.peak_value)] * len(items)})
    exceeded = [m if r.get("exceeded") else None for m, r in zip(ref, items, strict=True)]
    if any(v is not None for v in exceeded):
        series.append({"label": labels("exceeded"), "kind": "marker", "values": exceeded})
    chart = _chart(f"a-{alert.id}", labels, alert.outlet, alert.pollutant, x, series)
    chart["bands"] = [[alert.start_ms // 1000,
                       alert.end_ms // 1000 if alert.end_ms is not None else None]]
    chart["summary"] = labels("alert_period")
    return chart
