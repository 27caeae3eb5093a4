"""Chart data for the pages (pure): judged hours against their limit, minute readings with
their flags, and the data quality of judged hours.

A chart is a dict that static/app.js draws with uPlot: ``x`` in epoch seconds, and series of
kind ``line`` (the values), ``limit`` (a dashed line) or ``marker`` (points only, null where
there is nothing to mark). The page embeds them as JSON in a non-executed script element.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.web.i18n import Labels
from core.pollutants import BY_KEY, VALID_FLAG, Role

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


def reading_charts(rows: Iterable[Row], labels: Labels) -> list[dict[str, Any]]:
    """One chart per outlet and pollutant of minute readings, the values not flagged N drawn
    again as points; ``flags`` holds each minute's flag letter for the legend."""
    charts = []
    for (outlet, pollutant), items in _grouped(rows).items():
        x = [int(r["time"]) // 1000 for r in items]
        values = [_num(r.get("value")) for r in items]
        flags = [str(r.get("flag") or VALID_FLAG) for r in items]
        marks = [v if f != VALID_FLAG else None for v, f in zip(values, flags, strict=True)]
        chart = _chart(f"r-{outlet}-{pollutant}", labels, outlet, pollutant, x, [
            {"label": labels("value"), "kind": "line", "values": values},
            {"label": labels("flagged"), "kind": "marker", "values": marks}])
        chart["flags"] = flags
        chart["summary"] = labels("readings_summary", n=len(items),
                                  flagged=sum(1 for m in marks if m is not None))
        charts.append(chart)
    return charts


def flagged(rows: Iterable[Row]) -> list[Row]:
    """The readings whose flag is not N, in time order."""
    return sorted((r for r in rows if (r.get("flag") or VALID_FLAG) != VALID_FLAG),
                  key=lambda r: (int(r["time"]), str(r.get("outlet")), str(r.get("pollutant"))))


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
