"""core.times: the one RFC 3339 parser and the one formatter, table tests and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.times import NotRfc3339, epoch_ms, format_ms, parse_ms

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOV24 = 1_795_500_000_000  # 2026-11-24T06:00:00Z


@pytest.mark.parametrize(("text", "ms"), [
    ("2026-11-24T06:00:00Z", NOV24),
    ("2026-11-24T14:00:00+08:00", NOV24),
    ("2026-11-24t06:00:00.999z", NOV24 + 999),
    ("2026-11-24 06:00:01.000001Z", NOV24 + 1000),
    ("2026-11-24T06:00:00.25-00:00", NOV24 + 250),
    ("1970-01-01T00:00:00.5-00:01", 60_500),
    ("1969-12-31T23:59:59.5Z", -500),
    ("1969-12-31T23:59:59.9995Z", -1),  # floored, not truncated towards zero
])
def test_parse_ms(text: str, ms: int) -> None:
    assert parse_ms(text) == ms


@pytest.mark.parametrize("text", [
    "2026-11-24T06:00:00", "2026-11-24", "2026-11-24T06:00Z", "1795500000", "",
    "2026-11-24T06:00:00+0800", "2026-11-24T06:00:00+8", "now()",
    "2026-11-24T06:00:00.1234567Z",  # beyond microseconds
    "2026-11-24T06:00:00Z' OR 1=1"])
def test_parse_ms_refuses_what_is_not_rfc3339_with_an_offset(text: str) -> None:
    with pytest.raises(NotRfc3339, match="not an RFC 3339 time with offset"):
        parse_ms(text)


@pytest.mark.parametrize("text", ["2026-13-24T06:00:00Z", "2025-02-30T00:00:00Z",
                                  "2026-11-24T24:00:00Z", "2026-11-24T06:00:00+24:00"])
def test_parse_ms_refuses_moments_that_do_not_exist(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid date and time") as info:
        parse_ms(text)
    assert not isinstance(info.value, NotRfc3339)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)),
                                               timezone(timedelta(hours=-5, minutes=-30))])))
def test_parse_ms_reads_what_datetime_writes(moment: datetime) -> None:
    assert parse_ms(moment.isoformat()) == (moment - EPOCH) // timedelta(milliseconds=1)
    assert epoch_ms(moment) == (moment - EPOCH) // timedelta(milliseconds=1)


@pytest.mark.parametrize(("ms", "timespec", "text"), [
    (NOV24, "auto", "2026-11-24T06:00:00Z"),
    (NOV24 + 250, "auto", "2026-11-24T06:00:00.250Z"),
    (NOV24 + 5, "auto", "2026-11-24T06:00:00.005Z"),
    (NOV24, "milliseconds", "2026-11-24T06:00:00.000Z"),
    (NOV24 + 59_999, "seconds", "2026-11-24T06:00:59Z"),
    (NOV24 + 59_999, "minutes", "2026-11-24T06:00Z"),
    (-500, "auto", "1969-12-31T23:59:59.500Z"),
    (0, "auto", "1970-01-01T00:00:00Z"),
])
def test_format_ms(ms: int, timespec: str, text: str) -> None:
    assert format_ms(ms, timespec) == text  # type: ignore[arg-type]


@given(st.integers(min_value=-2_208_988_800_000, max_value=7_258_118_400_000),
       st.sampled_from(["auto", "milliseconds"]))
def test_format_then_parse_is_the_identity(ms: int, timespec: str) -> None:
    assert parse_ms(format_ms(ms, timespec)) == ms  # type: ignore[arg-type]
