"""The enterprise pages' tables: outlets, data quality and marks on the enterprise page, the
flagged readings on the readings page. Each sorts by its headers and exports its rows (every
page, the same filters and order) as CSV or XLSX; its order, page and filters live in the URL
under its own prefix (``q_sort``, ``m_page``, ...), so that several tables share one page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.services.outlets_now import OutletNow
from api.web.charts import HourQuality
from api.web.tables import Pager, sort_by
from core.registry import Outlet
from core.standards import Limit
from store.marks import MARK_KINDS, Mark

Value = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Sorted:
    """A table's rows in order and what the page needs to draw its headers."""

    rows: list[Any]
    sort: str
    descending: bool
    sortable: dict[str, bool]  # key -> descending first
    query: dict[str, str]  # this table's order parameters


@dataclass(frozen=True, slots=True)
class Sorts:
    """The sortable columns of a table (key -> value, descending first) and its default
    order (``default`` empty: the rows as given)."""

    prefix: str
    keys: Mapping[str, tuple[Value, bool]]
    tie: Value
    default: str = ""

    def apply(self, rows: Sequence[Any], params: Mapping[str, str]) -> Sorted:
        sort = params.get(f"{self.prefix}sort", "")
        sort = sort if sort in self.keys else self.default
        order = params.get(f"{self.prefix}order", "")
        if not sort:
            out, descending = list(rows), False
        else:
            value, natural = self.keys[sort]
            descending = natural if order not in ("asc", "desc") else order == "desc"
            out = sort_by(rows, value, descending, self.tie)
        query = {f"{self.prefix}sort": sort,
                 f"{self.prefix}order": ("desc" if descending else "asc") if sort else ""}
        return Sorted(out, sort, descending, {k: v[1] for k, v in self.keys.items()}, query)


def page_of(params: Mapping[str, str], key: str) -> int:
    raw = params.get(key, "1")
    return int(raw) if raw.isdigit() and len(raw) <= 6 else 1


def outlet_sorts(now: Mapping[str, OutletNow], now_ms: int) -> Sorts:
    def state(o: Outlet) -> str | None:
        n = now.get(o.id)
        return n.state(now_ms) if n else None

    return Sorts("o_", {"outlet": (lambda o: o.id, False), "name": (lambda o: o.name, False),
                        "state": (state, False),
                        "medium": (lambda o: o.medium.value, False),
                        "interval": (lambda o: o.interval_s, False)}, lambda o: o.id, "outlet")


def limit_text(lim: Limit) -> str:
    return str(lim.limit) if lim.limit is not None else f"{lim.limit_min}-{lim.limit_max}"


OUTLET_COLUMNS = ("outlet", "name", "state", "last_reading", "medium", "interval_s", "limits")


def outlet_rows(outlets: Sequence[Outlet], now: Mapping[str, OutletNow], now_ms: int
                ) -> list[list[Any]]:
    out = []
    for o in outlets:
        n = now.get(o.id)
        limits = "; ".join(f"{lim.pollutant} {limit_text(lim)} ({lim.averaging})"
                           for lim in o.limits)
        out.append([o.id, o.name, n.state(now_ms) if n else None, n.last_ms if n else None,
                    o.medium.value, o.interval_s, limits])
    return out


QUALITY_SORTS = Sorts("q_", {
    "outlet": (lambda q: q.outlet, False), "pollutant": (lambda q: q.pollutant, False),
    "hours": (lambda q: q.hours, True), "valid_hours": (lambda q: q.valid_hours, True),
    "valid_rate": (lambda q: q.valid_rate, False),
    "exceeded_hours": (lambda q: q.exceeded_hours, True),
    "max_multiple": (lambda q: q.max_multiple, True)},
    lambda q: (q.outlet, q.pollutant), "outlet")
QUALITY_COLUMNS = ("outlet", "pollutant", "hours", "valid_hours", "valid_rate",
                   "exceeded_hours", "max_multiple")


def quality_rows(found: Sequence[HourQuality]) -> list[list[Any]]:
    return [[q.outlet, q.pollutant, q.hours, q.valid_hours, q.valid_rate, q.exceeded_hours,
             q.max_multiple] for q in found]


MARK_SORTS = Sorts("m_", {
    "outlet": (lambda m: m.outlet, False), "kind": (lambda m: m.kind, False),
    "start": (lambda m: m.start_ms, True), "end": (lambda m: m.end_ms, True),
    "declared": (lambda m: m.declared_ms, True),
    "status": (lambda m: m.withdrawn, False)},
    lambda m: (-m.start_ms, m.id), "start")
MARK_COLUMNS = ("id", "outlet", "kind", "start", "end", "reason", "declared", "declared_by",
                "withdrawn", "withdrawn_by")
MARK_TIMES = ("start", "end", "declared", "withdrawn")
MARK_STATES = ("standing", "withdrawn")


def mark_filter(params: Mapping[str, str]) -> dict[str, str]:
    """The marks table's filters as given (unknown values dropped): kind, outlet, state."""
    kind = params.get("m_kind", "")
    state = params.get("m_state", "")
    return {"m_kind": kind if kind in MARK_KINDS else "",
            "m_outlet": params.get("m_outlet", "")[:64],
            "m_state": state if state in MARK_STATES else ""}


def filter_marks(marks: Sequence[Mark], f: Mapping[str, str]) -> list[Mark]:
    return [m for m in marks
            if (not f["m_kind"] or m.kind == f["m_kind"])
            and (not f["m_outlet"] or m.outlet == f["m_outlet"])
            and (not f["m_state"] or m.withdrawn is (f["m_state"] == "withdrawn"))]


def mark_rows(marks: Sequence[Mark]) -> list[list[Any]]:
    return [[m.id, m.outlet, m.kind, m.start_ms, m.end_ms, m.reason, m.declared_ms,
             m.declared_by, m.withdrawn_ms, m.withdrawn_by] for m in marks]


MARKS_PER_PAGE = 25

FLAGGED_SORTS = Sorts("", {
    "time": (lambda r: int(r["time"]), False), "pollutant": (lambda r: r.get("pollutant"), False),
    "value": (lambda r: r.get("value"), True), "corrected": (lambda r: r.get("corrected"), True),
    "flag": (lambda r: r.get("flag"), False)},
    lambda r: (int(r["time"]), str(r.get("pollutant"))))
FLAGGED_COLUMNS = ("time", "outlet", "pollutant", "value", "corrected", "flag", "over")


def flagged_rows(found: Sequence[dict[str, Any]]) -> list[list[Any]]:
    return [[r["time"], r.get("outlet"), r.get("pollutant"), r.get("value"), r.get("corrected"),
             r.get("flag"), bool(r.get("over"))] for r in found]


def pager_of(rows: Sequence[Any], params: Mapping[str, str], key: str, per: int) -> Pager:
    """The page of ``per`` rows asked for under the URL parameter ``key``."""
    return Pager.of(page_of(params, key), per, len(rows))
