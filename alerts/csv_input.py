"""The judge CLI's input files: readings and limits as CSV, checked line by line.

Readings (``ts,enterprise,outlet,pollutant,value,flag``): RFC 3339 time with an offset, catalogue
pollutant key (O2 as ``o2``), finite value, HJ 212 flag (empty means N, as in the JSON contract).
An empty value is allowed only with a flag other than N (the device sent a flag, no number).
Rows may come in any order; a repeated (time, enterprise, outlet, pollutant) replaces the earlier
row, as a point with the same tags and time does in the store (DESIGN.md §3.3).

Limits (``enterprise,outlet,pollutant,limit,averaging,o2_ref``): ``limit`` is an upper limit, or
a range ``low-high`` such as ``6-9`` for pH (limits.toml ``limit_min``/``limit_max``);
``averaging`` is ``hour`` or ``day``; ``o2_ref`` is the reference O2 in %, empty for no
correction. One row per (enterprise, outlet, pollutant, averaging). Optional columns:
``range_max`` (the analyser's range maximum, the floor of a flag-T value, compliance-rules.md
§1.4) and ``interval_s`` (this pollutant's sampling interval, e.g. 7200 for a 2-hourly COD
analyser, HJ 355/356-2019), empty for none / the ``--interval-s`` default; the rows of one
(enterprise, outlet, pollutant) must agree on them.

Marks (``enterprise,outlet,start,end,mark``): declared operating-state marks, RFC 3339 times,
``end`` exclusive and after ``start``, ``mark`` one of ``alerts.rules.operating.MARK_KINDS``.

Every problem raises ``InputError`` naming the file and line.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from alerts.rules.operating import MARK_KINDS
from core.pollutants import BY_KEY, DATA_FLAGS, VALID_FLAG, Role
from core.times import parse_ms

READING_COLUMNS = ("ts", "enterprise", "outlet", "pollutant", "value", "flag")
LIMIT_COLUMNS = ("enterprise", "outlet", "pollutant", "limit", "averaging", "o2_ref")
LIMIT_OPTIONAL = ("range_max", "interval_s")
MARK_COLUMNS = ("enterprise", "outlet", "start", "end", "mark")
AVERAGING = ("hour", "day")
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # DESIGN.md §3.1
_NUMBER = r"\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
_RANGE = re.compile(_NUMBER + "-" + _NUMBER)


class InputError(ValueError):
    """A bad input file; the message names the file and, when known, the line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path} line {line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class CsvReading:
    ts_s: int
    enterprise: str
    outlet: str
    pollutant: str
    value: float  # NaN when the row had no value
    flag: str


@dataclass(frozen=True, slots=True)
class LimitRow:
    enterprise: str
    outlet: str
    pollutant: str
    averaging: str
    limit: float  # upper bound
    limit_min: float  # lower bound of a range, NaN for an upper limit only
    o2_ref_pct: float  # NaN: no O2 correction
    range_max: float = math.nan  # NaN: unknown
    interval_s: int | None = None  # None: the CLI's --interval-s


@dataclass(frozen=True, slots=True)
class MarkRow:
    enterprise: str
    outlet: str
    start_ms: int
    end_ms: int
    kind: str


def parse_limit(text: str) -> tuple[float, float]:
    """``(limit_min, limit)`` from ``"50"`` (NaN, 50.0) or a range ``"6-9"`` (6.0, 9.0)."""
    found = _RANGE.fullmatch(text)
    if found:
        low, high = float(found.group(1)), float(found.group(2))
        if low > high:
            raise ValueError(f"range {text!r} has its low end above its high end")
        return low, high
    limit = _finite(text, "limit")
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {text!r}")
    return math.nan, limit


def _finite(text: str, what: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what} is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} is not finite: {text!r}")
    return number


def _identifier(text: str, what: str) -> str:
    if not _ID.fullmatch(text):
        raise ValueError(f"{what} must match [A-Za-z0-9_-]{{1,32}}, got {text!r}")
    return text


def _pollutant(text: str) -> str:
    if text not in BY_KEY:
        raise ValueError(f"unknown pollutant {text!r} (see core/pollutants.py)")
    return text


def _rows(path: str, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with at least ``columns``; InputError on any problem."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(path, 1, f"missing columns: {', '.join(missing)}")
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise InputError(path, reader.line_num,
                                     f"{len(fields)} fields, the header has {len(header)}")
                yield reader.line_num, dict(zip(header, (f.strip() for f in fields), strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, None, f"cannot read: {exc}") from None


def read_readings(path: str) -> list[CsvReading]:
    """The readings of ``path``; the last of several rows with the same key wins."""
    found: dict[tuple[int, str, str, str], CsvReading] = {}
    for line, row in _rows(path, READING_COLUMNS):
        try:
            reading = _reading(row)
        except ValueError as exc:
            raise InputError(path, line, str(exc)) from None
        found[(reading.ts_s, reading.enterprise, reading.outlet, reading.pollutant)] = reading
    return list(found.values())


def _reading(row: dict[str, str]) -> CsvReading:
    flag = row["flag"] or VALID_FLAG
    if flag not in DATA_FLAGS:
        raise ValueError(f"unknown flag {flag!r}, expected one of {''.join(DATA_FLAGS)}")
    if row["value"] == "" and flag != VALID_FLAG:
        value = math.nan
    else:
        value = _finite(row["value"], "value")
    return CsvReading(
        ts_s=parse_ms(row["ts"]) // 1000,
        enterprise=_identifier(row["enterprise"], "enterprise"),
        outlet=_identifier(row["outlet"], "outlet"),
        pollutant=_pollutant(row["pollutant"]),
        value=value,
        flag=flag,
    )


def read_limits(path: str) -> list[LimitRow]:
    """The limits of ``path``; a repeated (enterprise, outlet, pollutant, averaging) is an error."""
    found: dict[tuple[str, str, str, str], LimitRow] = {}
    for line, row in _rows(path, LIMIT_COLUMNS):
        try:
            entry = _limit(row)
        except ValueError as exc:
            raise InputError(path, line, str(exc)) from None
        key = (entry.enterprise, entry.outlet, entry.pollutant, entry.averaging)
        if key in found:
            raise InputError(path, line, f"second {entry.averaging} limit for {key[:3]}")
        for other in found.values():
            same = (other.enterprise, other.outlet, other.pollutant) == key[:3]
            if same and (other.interval_s != entry.interval_s or not _same(
                    other.range_max, entry.range_max)):
                raise InputError(path, line, f"range_max or interval_s differ for {key[:3]}")
        found[key] = entry
    return list(found.values())


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def read_marks(path: str) -> list[MarkRow]:
    """The declared marks of ``path`` (any order; overlapping marks are allowed)."""
    out: list[MarkRow] = []
    for line, row in _rows(path, MARK_COLUMNS):
        try:
            out.append(_mark(row))
        except ValueError as exc:
            raise InputError(path, line, str(exc)) from None
    return out


def _mark(row: dict[str, str]) -> MarkRow:
    if row["mark"] not in MARK_KINDS:
        raise ValueError(f"unknown mark {row['mark']!r}, expected one of {', '.join(MARK_KINDS)}")
    start, end = parse_ms(row["start"]), parse_ms(row["end"])
    if end <= start:
        raise ValueError("a mark must end after it starts")
    return MarkRow(_identifier(row["enterprise"], "enterprise"),
                   _identifier(row["outlet"], "outlet"), start, end, row["mark"])


def _limit(row: dict[str, str]) -> LimitRow:
    pollutant = _pollutant(row["pollutant"])
    if BY_KEY[pollutant].role is not Role.POLLUTANT:
        raise ValueError(f"{pollutant!r} is a parameter, not a judged pollutant")
    if row["averaging"] not in AVERAGING:
        raise ValueError(f"averaging must be hour or day, got {row['averaging']!r}")
    limit_min, limit = parse_limit(row["limit"])
    o2_ref = math.nan if row["o2_ref"] == "" else _finite(row["o2_ref"], "o2_ref")
    if not (math.isnan(o2_ref) or 0 <= o2_ref < 21):
        raise ValueError(f"o2_ref must lie in [0, 21), got {row['o2_ref']!r}")
    range_text, interval_text = row.get("range_max", ""), row.get("interval_s", "")
    range_max = math.nan if range_text == "" else _finite(range_text, "range_max")
    if range_max <= 0:
        raise ValueError(f"range_max must be positive, got {range_text!r}")
    interval = None if interval_text == "" else _positive_int(interval_text, "interval_s")
    return LimitRow(
        enterprise=_identifier(row["enterprise"], "enterprise"),
        outlet=_identifier(row["outlet"], "outlet"),
        pollutant=pollutant,
        averaging=row["averaging"],
        limit=limit,
        limit_min=limit_min,
        o2_ref_pct=o2_ref,
        range_max=range_max,
        interval_s=interval,
    )


def _positive_int(text: str, what: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"{what} must be a positive whole number, got {text!r}")
    return int(text)
