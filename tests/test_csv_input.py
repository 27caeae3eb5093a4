"""Parsers of the judge CLI's CSV input: table tests and properties."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.csv_input import InputError, parse_limit, read_limits, read_readings


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50", (math.nan, 50.0)), ("0.05", (math.nan, 0.05)), ("6-9", (6.0, 9.0)),
     (" 6.5 - 8.5 ", (6.5, 8.5)), ("1e-3", (math.nan, 0.001))],
)
def test_parse_limit(text: str, expected: tuple[float, float]) -> None:
    low, high = parse_limit(text)
    assert high == expected[1]
    assert (math.isnan(low) and math.isnan(expected[0])) or low == expected[0]


@pytest.mark.parametrize("text", ["", "abc", "0", "-5", "9-6", "inf", "nan", "6-"])
def test_parse_limit_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_limit(text)


@given(st.floats(min_value=0, max_value=14), st.floats(min_value=0, max_value=14))
def test_range_round_trip(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    assert parse_limit(f"{low!r}-{high!r}") == (low, high)


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_readings_last_row_wins_and_flags(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "ts,enterprise,outlet,pollutant,value,flag,extra\n"
                 "2026-11-24T06:00:00Z,E1,S1,so2,10,,x\n"
                 "2026-11-24T06:00:00Z,E1,S1,so2,12,N,x\n"
                 "2026-11-24T06:01:00Z,E1,S1,so2,,D,x\n")
    got = read_readings(path)
    assert [(r.value, r.flag) for r in got[:1]] == [(12.0, "N")]
    assert math.isnan(got[1].value)
    assert got[1].flag == "D"
    assert len(got) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2026-11-24T06:00:00Z,E1,S1,so2,,N\n", "line 2: value is not a number"),
        ("2026-11-24T06:00:00Z,E1,S1,so2,nan,N\n", "line 2: value is not finite"),
        ("2026-11-24T06:00:00Z,E1,S 1,so2,1,N\n", "line 2: outlet must match"),
        ("2026-11-24T06:00:00Z,E1,S1,so2,1\n", "line 2: 5 fields, the header has 6"),
    ],
)
def test_reading_errors_name_the_line(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path / "r.csv", "ts,enterprise,outlet,pollutant,value,flag\n" + body)
    with pytest.raises(InputError, match=message):
        read_readings(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("E1,S1,o2,19,hour,", "'o2' is a parameter"),
        ("E1,S1,so2,100,hour,21", "o2_ref must lie in"),
        ("E1,S1,so2,100,hour,abc", "o2_ref is not a number"),
    ],
)
def test_limit_errors_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "l.csv", "enterprise,outlet,pollutant,limit,averaging,o2_ref\n" + row)
    with pytest.raises(InputError, match="line 2: " + message):
        read_limits(path)


def test_hour_and_day_limits_may_coexist(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "enterprise,outlet,pollutant,limit,averaging,o2_ref\n"
                 "E1,S1,so2,100,hour,11\nE1,S1,so2,80,day,11\n")
    assert [(r.averaging, r.limit) for r in read_limits(path)] == [("hour", 100.0), ("day", 80.0)]
