"""``python -m alerts judge`` run as a subprocess on small CSV files written here."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER = "period,start,enterprise,outlet,pollutant,n_valid,mean,o2_mean,mean_ref,valid,limit," \
         "exceeded,multiple,status,mass_kg"
MARK_HEADER = ["enterprise", "outlet", "start", "end", "mark"]
READING_HEADER = ["ts", "enterprise", "outlet", "pollutant", "value", "flag"]
LIMIT_HEADER = ["enterprise", "outlet", "pollutant", "limit", "averaging", "o2_ref"]


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_judge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alerts", "judge", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def stamp(start: datetime, seconds: int) -> str:
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_rows() -> list[list[object]]:
    six = datetime(2026, 11, 24, 6, tzinfo=UTC)
    rows: list[list[object]] = []
    for m in range(60):
        t = stamp(six, 60 * m)
        flag = "N" if m < 50 else ("T" if m < 55 else "M")
        rows.append([t, "E1", "S1", "so2", 200 if flag == "N" else 999, flag])
        rows.append([t, "E1", "S1", "o2", 11, "N"])
        rows.append([t, "E1", "S1", "nox", 80, "N"])  # no limit: ignored
        if m < 45:
            rows.append([t, "E1", "S1", "pm", 8, ""])  # empty flag means N
        rows.append([t, "E1", "S2", "so2", 50, "N"])
        rows.append([t, "E1", "S2", "o2", 20.5, "N"])  # not operating
        t7, t8 = stamp(six, 3600 + 60 * m), stamp(six, 7200 + 60 * m)
        if m < 44:
            rows.append([t7, "E1", "S1", "so2", 100, "N"])
        rows.append([t7, "E1", "S1", "o2", "11.0", "N"])
        rows.append([t8.replace("Z", "+08:00"), "E1", "S1", "o2", 11, "N"])  # O2 only
    random.Random(3).shuffle(rows)
    return rows


def test_hour_rows(tmp_path: Path) -> None:
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, hour_rows())
    limits = write_csv(tmp_path / "L.csv", LIMIT_HEADER, [
        ["E1", "S1", "so2", "250", "hour", "6"],
        ["E1", "S1", "pm", "10", "hour", ""],
        ["E1", "S2", "so2", "250", "hour", "6"],
    ])  # fmt: skip
    done = run_judge("--readings", str(readings), "--limits", str(limits))
    assert done.returncode == 0, done.stderr
    # 50 N minutes at 200 and 5 T minutes at 999 (valid lower bounds, compliance-rules.md
    # §1.4; no range_max given), 5 M minutes left out: 55 valid, mean 14995 / 55
    mean = 14995 / 55
    ref = mean * 15 / 10  # (21 - 6) / (21 - 11)
    assert done.stdout.splitlines() == [
        HEADER,
        "hour,2026-11-24T06:00:00Z,E1,S1,pm,45,8.0,,8.0,true,10.0,false,,compliant,",
        f"hour,2026-11-24T06:00:00Z,E1,S1,so2,55,{mean!r},11.0,{ref!r},true,250.0,true,"
        f"{(ref - 250) / 250!r},exceeded,",
        # 44 valid minutes: not a valid hour; 100 * 15 / 10 = 150
        "hour,2026-11-24T07:00:00Z,E1,S1,so2,44,100.0,11.0,150.0,false,250.0,false,,invalid,",
        # O2 20.5 >= 19 and no evidence of a stop: suspicious, not valid, never a pass (§1.2)
        "hour,2026-11-24T06:00:00Z,E1,S2,so2,60,50.0,20.5,,false,250.0,false,,"
        "unexplained_high_o2,",
    ]


def test_marks_are_evidence_of_a_stop(tmp_path: Path) -> None:
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, hour_rows())
    limits = write_csv(tmp_path / "L.csv", LIMIT_HEADER, [["E1", "S2", "so2", "250", "hour", "6"],
                                                          ["E1", "S1", "so2", "250", "hour", "6"]])
    marks = write_csv(tmp_path / "M.csv", MARK_HEADER, [
        ["E1", "S2", "2026-11-24T14:00:00+08:00", "2026-11-24T14:10:00+08:00", "shutdown"],
        ["E1", "S1", "2026-11-24T07:00:00Z", "2026-11-24T07:30:00Z", "startup"],
    ])  # fmt: skip
    done = run_judge("--readings", str(readings), "--limits", str(limits), "--marks", str(marks))
    assert done.returncode == 0, done.stderr
    rows = {tuple(line.split(",")[1:4:2]): line.split(",")[-2]
            for line in done.stdout.splitlines()[1:]}
    # high O2 with a declared shutdown: not operating; half an hour of start-up: not operating
    assert rows[("2026-11-24T06:00:00Z", "S2")] == "not_operating"
    assert rows[("2026-11-24T07:00:00Z", "S1")] == "not_operating"
    assert rows[("2026-11-24T06:00:00Z", "S1")] == "exceeded"


def test_cutoff_option(tmp_path: Path) -> None:
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, hour_rows())
    limits = write_csv(tmp_path / "L.csv", LIMIT_HEADER, [["E1", "S2", "so2", "250", "hour", "6"]])
    done = run_judge("--readings", str(readings), "--limits", str(limits), "--o2-cutoff", "20.8")
    assert done.returncode == 0, done.stderr
    # 50 * 15 / 0.5 = 1500 > 250: multiple 5
    assert done.stdout.splitlines()[1:] == [
        "hour,2026-11-24T06:00:00Z,E1,S2,so2,60,50.0,20.5,1500.0,true,250.0,true,5.0,exceeded,",
    ]


def day_rows() -> list[list[object]]:
    """26 hours of 5-minute water data from 2026-11-23T15:00Z, in Shanghai time 23:00 to 00:00."""
    start = datetime(2026, 11, 23, 15, tzinfo=UTC)
    rows: list[list[object]] = []
    for hour in range(26):
        ph = 9.5 if hour == 11 else 7.0  # 2026-11-24T02:00Z
        cod = 70 if 1 <= hour <= 10 else 40
        for k in range(12):
            t = stamp(start, 3600 * hour + 300 * k)
            rows.append([t, "E2", "W1", "ph", ph, "N"])
            rows.append([t, "E2", "W1", "cod", cod, "N"])
    return rows


def test_day_rows_cross_utc_midnight(tmp_path: Path) -> None:
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, day_rows())
    limits = write_csv(tmp_path / "L.csv", LIMIT_HEADER, [
        ["E2", "W1", "ph", "6-9", "day", ""],
        ["E2", "W1", "cod", "50", "day", ""],
    ])  # fmt: skip
    done = run_judge("--readings", str(readings), "--limits", str(limits), "--interval-s", "300",
                     "--tz", "Asia/Shanghai")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == HEADER
    hours = [line for line in lines if line.startswith("hour,")]
    assert len(hours) == 2 * 26
    # daily-limit pollutant: hours carry no limit; pH ranges are judged on every hour too
    assert "hour,2026-11-23T16:00:00Z,E2,W1,cod,12,70.0,,70.0,true,,false,,compliant," in hours
    assert "hour,2026-11-24T02:00:00Z,E2,W1,ph,12,9.5,,9.5,true,6.0-9.0,true,,exceeded," in hours
    ph_day = repr((23 * 7.0 + 9.5) / 24)
    assert [line for line in lines if line.startswith("day,")] == [
        # COD: (10 * 70 + 14 * 40) / 24 = 52.5 > 50, multiple 0.05
        "day,2026-11-22T16:00:00Z,E2,W1,cod,1,40.0,,40.0,false,50.0,false,,invalid,",
        "day,2026-11-23T16:00:00Z,E2,W1,cod,24,52.5,,52.5,true,50.0,true,0.05,exceeded,",
        "day,2026-11-24T16:00:00Z,E2,W1,cod,1,40.0,,40.0,false,50.0,false,,invalid,",
        "day,2026-11-22T16:00:00Z,E2,W1,ph,1,7.0,,7.0,false,6.0-9.0,false,,invalid,",
        f"day,2026-11-23T16:00:00Z,E2,W1,ph,24,{ph_day},,{ph_day},true,6.0-9.0,false,,compliant,",
        "day,2026-11-24T16:00:00Z,E2,W1,ph,1,7.0,,7.0,false,6.0-9.0,false,,invalid,",
    ]


def test_batch_cod_with_interval_and_range_columns(tmp_path: Path) -> None:
    # HJ 355/356-2019: COD every 2 h (interval_s 7200) beside pH every 5 min. 11 COD samples in
    # the Shanghai day 2026-11-24 (10 needed of 12 expected; thresholds [M]), one flagged T
    # (value 80, range maximum 200: counts 200, compliance-rules.md §1.4); the others 110.
    start = datetime(2026, 11, 23, 16, tzinfo=UTC)
    rows: list[list[object]] = [[stamp(start, 7200 * k), "E2", "W1", "cod", 110, "N"]
                                for k in range(10)]
    rows.append([stamp(start, 7200 * 10), "E2", "W1", "cod", 80, "T"])
    header = [*LIMIT_HEADER, "range_max", "interval_s"]
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, rows)
    limits = write_csv(tmp_path / "L.csv", header, [["E2", "W1", "cod", "100", "day", "", "200",
                                                     "7200"]])
    done = run_judge("--readings", str(readings), "--limits", str(limits))
    assert done.returncode == 0, done.stderr
    days = [line for line in done.stdout.splitlines() if line.startswith("day,")]
    value = (10 * 110 + 200) / 11
    assert days == [f"day,2026-11-23T16:00:00Z,E2,W1,cod,11,{value!r},,{value!r},true,100.0,"
                    f"true,{(value - 100) / 100!r},exceeded,"]
    hours = [line for line in done.stdout.splitlines() if line.startswith("hour,")]
    assert hours[-1].endswith(",200.0,,200.0,true,,false,,suspected_exceedance,")


def test_nox_from_no_and_no2(tmp_path: Path) -> None:
    # compliance-rules.md §1.2: NOx as NO2 = NO2 + NO x 46/30; 45 minutes of NO 30, NO2 10.
    six = datetime(2026, 11, 24, 6, tzinfo=UTC)
    rows: list[list[object]] = []
    for m in range(45):
        rows += [[stamp(six, 60 * m), "E1", "S1", "no", 30, "N"],
                 [stamp(six, 60 * m), "E1", "S1", "no2", 10, "N"]]
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, rows)
    limits = write_csv(tmp_path / "L.csv", LIMIT_HEADER, [["E1", "S1", "nox", "50", "hour", ""]])
    done = run_judge("--readings", str(readings), "--limits", str(limits))
    assert done.returncode == 0, done.stderr
    nox = 10 + 30 * 46 / 30
    assert done.stdout.splitlines()[1:] == [
        f"hour,2026-11-24T06:00:00Z,E1,S1,nox,45,{nox!r},,{nox!r},true,50.0,true,"
        f"{(nox - 50) / 50!r},exceeded,"]


GOOD_READING = ["2026-11-24T06:00:00Z", "E1", "S1", "so2", "10", "N"]
GOOD_LIMIT = ["E1", "S1", "so2", "250", "hour", "6"]


@pytest.mark.parametrize(
    ("readings", "limits", "extra", "message"),
    [
        ([["ts", "enterprise", "outlet", "pollutant", "value"], GOOD_READING[:5]], None, [],
         "R.csv line 1: missing columns: flag"),
        ([READING_HEADER, GOOD_READING, ["2026-11-24 06:01", *GOOD_READING[1:]]], None, [],
         "R.csv line 3: not an RFC 3339 time"),
        ([READING_HEADER, ["2026-11-24T06:00:00", *GOOD_READING[1:]]], None, [],
         "R.csv line 2: not an RFC 3339 time"),
        ([READING_HEADER, [*GOOD_READING[:4], "abc", "N"]], None, [],
         "R.csv line 2: value is not a number"),
        ([READING_HEADER, [*GOOD_READING[:5], "X"]], None, [], "R.csv line 2: unknown flag"),
        ([READING_HEADER, [*GOOD_READING[:3], "s02", "1", "N"]], None, [],
         "R.csv line 2: unknown pollutant"),
        (None, [LIMIT_HEADER, GOOD_LIMIT, ["E1", "S1", "pm", "ten", "hour", ""]], [],
         "L.csv line 3: limit is not a number"),
        (None, [LIMIT_HEADER, ["E1", "S1", "so2", "250", "week", ""]], [],
         "L.csv line 2: averaging must be hour or day"),
        (None, [LIMIT_HEADER, GOOD_LIMIT, GOOD_LIMIT], [], "L.csv line 3: second hour limit"),
        (None, None, ["--tz", "Mars/Olympus"], "unknown time zone"),
        (None, [[*LIMIT_HEADER, "range_max"], [*GOOD_LIMIT, "-5"]], [],
         "L.csv line 2: range_max must be positive"),
        (None, [[*LIMIT_HEADER, "interval_s"], [*GOOD_LIMIT, "1.5"]], [],
         "L.csv line 2: interval_s must be a positive whole number"),
        (None, None, ["--marks", "MARKS:E1,S1,2026-11-24T07:00:00Z,2026-11-24T06:00:00Z,"
                      "shutdown"], "M.csv line 2: a mark must end after it starts"),
        (None, None, ["--marks", "MARKS:E1,S1,2026-11-24T06:00:00Z,2026-11-24T07:00:00Z,nap"],
         "M.csv line 2: unknown mark 'nap'"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, readings: list[list[str]] | None, limits: list[list[str]] | None,
    extra: list[str], message: str,
) -> None:
    if extra and extra[0] == "--marks":  # the marks file's one row, written here
        row = extra[1].removeprefix("MARKS:").split(",")
        extra = ["--marks", str(write_csv(tmp_path / "M.csv", MARK_HEADER, [row]))]
    r_rows = readings or [READING_HEADER, GOOD_READING]
    l_rows = limits or [LIMIT_HEADER, GOOD_LIMIT]
    r = write_csv(tmp_path / "R.csv", r_rows[0], r_rows[1:])  # type: ignore[arg-type]
    lim = write_csv(tmp_path / "L.csv", l_rows[0], l_rows[1:])  # type: ignore[arg-type]
    done = run_judge("--readings", str(r), "--limits", str(lim), *extra)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_mass_column(tmp_path: Path) -> None:
    # issue 12: measured (not corrected) mean x flow x 3600 s. S1: SO2 100 at O2 11 % (corrected
    # 150) with 50 m3/s at 06Z: 100 x 50 x 3600 / 1e6 = 18 kg; 120 with 40 m3/s at 07Z: 17.28.
    # W1: batch COD (every 2 h) 50 at 16Z, 80 at 18Z, water 10 L/s 16Z-20Z (36,000 L an hour):
    # 1.8, (held) 1.8, 2.88, (held) 2.88 kg; the local day 2026-11-24: 9.36 kg.
    six = datetime(2026, 11, 24, 6, tzinfo=UTC)
    sixteen = datetime(2026, 11, 23, 16, tzinfo=UTC)
    rows: list[list[object]] = []
    for h, so2, flow in ((0, 100, 50), (1, 120, 40)):
        for m in range(60):
            t = stamp(six, 3600 * h + 60 * m)
            rows += [[t, "E1", "S1", "so2", so2, "N"], [t, "E1", "S1", "o2", 11, "N"],
                     [t, "E1", "S1", "flow", flow, "N"]]
    for m in range(240):
        rows.append([stamp(sixteen, 60 * m), "E2", "W1", "water_flow", 10, "N"])
    rows += [[stamp(sixteen, 0), "E2", "W1", "cod", 50, "N"],
             [stamp(sixteen, 7200), "E2", "W1", "cod", 80, "N"]]
    readings = write_csv(tmp_path / "R.csv", READING_HEADER, rows)
    header = [*LIMIT_HEADER, "range_max", "interval_s"]
    limits = write_csv(tmp_path / "L.csv", header, [["E1", "S1", "so2", "250", "hour", "6", "", ""],
                                                    ["E2", "W1", "cod", "100", "day", "", "",
                                                     "7200"]])
    done = run_judge("--readings", str(readings), "--limits", str(limits))
    assert done.returncode == 0, done.stderr
    got = {(r[0], r[1], r[4]): r for r in csv.reader(done.stdout.splitlines()[1:])}
    assert got[("hour", "2026-11-24T06:00:00Z", "so2")][8] == "150.0"  # corrected, not used
    assert float(got[("hour", "2026-11-24T06:00:00Z", "so2")][-1]) == pytest.approx(18.0)
    assert float(got[("hour", "2026-11-24T07:00:00Z", "so2")][-1]) == pytest.approx(17.28)
    assert float(got[("hour", "2026-11-23T16:00:00Z", "cod")][-1]) == pytest.approx(1.8)
    assert float(got[("hour", "2026-11-23T18:00:00Z", "cod")][-1]) == pytest.approx(2.88)
    assert float(got[("day", "2026-11-23T16:00:00Z", "cod")][-1]) == pytest.approx(9.36)
