"""Report periods and the combination of days, hand-computed (no server)."""

from __future__ import annotations

import pytest

from api.services.csvout import CsvTimes, cell
from api.services.reportbuild import Header, combine, permit
from api.services.reportdata import Stats
from api.services.reportperiods import BadPeriod, bounds, days_in, last_closed
from core.registry import Enterprise
from store.reports import canonical, report_id, sha256_of

TZ = "Asia/Shanghai"
NOV1_MS = 1_761_926_400_000  # 2025-11-01T00:00:00+08:00
DAY_MS = 86_400_000


@pytest.mark.parametrize(("period", "label", "days"), [
    ("day", "2025-11-01", 1), ("month", "2025-11", 30), ("month", "2024-02", 29),
    ("quarter", "2025-Q4", 92), ("year", "2025", 365), ("year", "2024", 366)])
def test_periods_run_from_local_midnight_to_local_midnight(period: str, label: str,
                                                           days: int) -> None:
    start, end = bounds(period, label, TZ)
    assert (end - start) == days * DAY_MS
    assert len(days_in(start, end, TZ)) == days
    if label.startswith("2025-11"):
        assert start == NOV1_MS


@pytest.mark.parametrize(("period", "label"), [
    ("month", "2025-13"), ("day", "2025-02-30"), ("quarter", "2025-Q5"), ("week", "2025"),
    ("year", "25")])
def test_bad_labels_are_refused(period: str, label: str) -> None:
    with pytest.raises(BadPeriod):
        bounds(period, label, TZ)


def test_last_closed_period() -> None:
    now = NOV1_MS + 30 * DAY_MS + 3_600_000  # 2025-12-01T01:00+08:00
    assert [last_closed(p, now, TZ) for p in ("day", "month", "quarter", "year")] == [
        "2025-11-30", "2025-11", "2025-Q3", "2024"]


def day(valid: int, mean_ref: float, kg: float | None = None) -> Stats:
    return Stats(hours=24, received=24, valid=valid, mean_ref=mean_ref, ref_min=mean_ref,
                 ref_max=mean_ref, measured_kg=kg)


def test_a_month_is_valid_with_25_valid_days_february_23() -> None:
    days = [day(24, 10.0, 1.0)] * 23 + [day(19, 99.0)] * 5  # 19 hours: not a valid day
    st, n_valid, valid = combine(days, month_rule=True)
    assert (n_valid, valid, st.mean_ref, st.ref_max, st.measured_kg) == (23, False, 10.0, 99.0,
                                                                         23.0)
    assert combine(days, month_rule=True, february=True)[2] is True
    assert combine([day(24, 10.0)] * 25, month_rule=True)[2] is True


def test_content_hash_is_of_canonical_json_and_ids_are_stable() -> None:
    assert canonical({"b": 1, "a": [True, None]}) == b'{"a":[true,null],"b":1}'
    assert sha256_of({"b": 1, "a": 2}) == sha256_of({"a": 2, "b": 1})
    assert report_id("hj75", "E1", "G1", "2025-11") == report_id("hj75", "E1", "G1", "2025-11")
    assert report_id("hj75", "E1", "G1", "2025-11") != report_id("hj75", "E1", None, "2025-11")


def test_csv_cells() -> None:
    local = CsvTimes(TZ)
    assert cell(NOV1_MS, True, local) == "2025-11-01T00:00:00+08:00"
    assert cell(NOV1_MS + 1, True, local) == "2025-11-01T00:00:00.001+08:00"
    assert cell(NOV1_MS, True, CsvTimes(TZ, utc=True)) == "2025-10-31T16:00:00Z"
    assert [cell(v, False, local) for v in (True, False, None, 1.5, [1])] == [
        "true", "false", "", "1.5", "[1]"]


def test_permit_report_shares_the_annual_permit() -> None:
    ent = Enterprise("E1", "Plant", "north", "boiler")
    h = Header("permit", "month", "2025-11", NOV1_MS, NOV1_MS + 30 * DAY_MS, TZ)
    stats = {("E1", "G1", "so2"): {NOV1_MS: Stats(hours=24, valid=24, mean_ref=20.0,
                                                  measured_kg=900.0, filled_kg=100.0)},
             ("E1", "G2", "so2"): {NOV1_MS: Stats(hours=24, valid=24, mean_ref=30.0,
                                                  measured_kg=1000.0)}}
    content = permit(h, ent, stats, [], {"so2": 40.0, "nox": 10.0})
    amounts = next(s for s in content["sections"] if s["id"] == "amounts")
    assert amounts["rows"] == [["nox", None, None, None, 10.0, None],
                               ["so2", 1.9, 0.1, 2.0, 40.0, 0.05]]  # 2 t of 40 t/a
