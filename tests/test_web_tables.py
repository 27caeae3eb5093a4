"""Pure parts of the pages' new views: paging and sorting of tables, readings' non-routine
values first, the charts' limit, corrected values and alert period, the home page's trends."""

from __future__ import annotations

from dataclasses import replace

import pytest

from api.services.rankings import Ranked, Rates, Totals
from api.services.today import Count, worst_of
from api.web.charts import (
    alert_chart,
    corrected,
    hour_limits,
    notable,
    reading_charts,
    stats_charts,
    stats_keys,
)
from api.web.i18n import Labels
from api.web.tables import Pager, sort_by
from core.standards import Limit
from store.results import Alert
from tests.api_support import HOUR_MS, NOV1_MS

EN = Labels("en")
SO2 = Limit("cn.test.so2", "so2", "hour", limit=35.0, o2_ref_pct=6.0)
SO2_DAY = Limit("cn.test.so2_day", "so2", "day", limit=30.0, o2_ref_pct=6.0)


def reading(minute: int, pollutant: str, value: float | None, flag: str | None) -> dict:
    return {"time": NOV1_MS + minute * 60_000, "outlet": "G1", "pollutant": pollutant,
            "value": value, "flag": flag}


@pytest.mark.parametrize(("page", "total", "first", "last", "pages", "shown"), [
    (1, 0, 0, 0, 1, 1), (1, 120, 1, 50, 3, 1), (3, 120, 101, 120, 3, 3),
    (9, 120, 101, 120, 3, 3), (0, 51, 1, 50, 2, 1)])
def test_pager_counts_rows_and_clamps_the_page(page: int, total: int, first: int, last: int,
                                                pages: int, shown: int) -> None:
    p = Pager.of(page, 50, total)
    assert (p.first, p.last, p.pages, p.page) == (first, last, pages, shown)
    assert len(p.slice(list(range(total)))) == (last - first + 1 if total else 0)


def test_pager_refuses_odd_page_sizes() -> None:
    assert Pager.of(1, 7, 100).per == 50


def test_sort_keeps_missing_values_last_both_ways() -> None:
    items = [("a", 2), ("b", None), ("c", 5), ("d", 2)]
    up = sort_by(items, lambda i: i[1], False, lambda i: i[0])
    down = sort_by(items, lambda i: i[1], True, lambda i: i[0])
    assert [i[0] for i in up] == ["a", "d", "c", "b"]
    assert [i[0] for i in down] == ["c", "a", "d", "b"]


def test_o2_correction_follows_the_reference_formula() -> None:
    # compliance-rules.md §1.2: C_ref = C x (21 - O2_ref) / (21 - O2)
    assert corrected(30.0, 11.0, 6.0) == pytest.approx(45.0)
    assert corrected(30.0, 11.0, None) == 30.0
    assert corrected(30.0, None, 6.0) is None
    assert corrected(30.0, 21.0, 6.0) is None


def test_only_hourly_upper_limits_judge_minutes() -> None:
    assert hour_limits([SO2_DAY, SO2]) == {"so2": SO2}
    assert hour_limits([SO2_DAY]) == {}


def test_non_routine_readings_come_first() -> None:
    rows = [reading(m, "so2", 20.0, "M") for m in range(5)]
    rows += [reading(m, "o2", 6.0, "N") for m in range(12)]
    rows += [reading(7, "so2", 20.0, "D"), reading(9, "so2", 400.0, "T"),
             reading(11, "so2", 40.0, "N"), reading(10, "so2", 20.0, "N")]
    found = notable(rows, {"so2": SO2})
    # over range (T) and over the limit (40 x 15/15 > 35) first, then the fault, then routine
    assert [(r["time"] - NOV1_MS) // 60_000 for r in found] == [9, 11, 7, 0, 1, 2, 3, 4]
    assert [r["over"] for r in found[:3]] == [True, True, False]
    assert [r["time"] for r in notable(rows, {"so2": SO2}, "over")] == [
        NOV1_MS + 9 * 60_000, NOV1_MS + 11 * 60_000]
    assert len(notable(rows, {"so2": SO2}, "M")) == 5
    assert notable(rows, {"so2": SO2}, "S") == []


def test_reading_chart_shows_raw_and_corrected_beside_the_limit() -> None:
    rows = [reading(0, "so2", 30.0, "N"), reading(0, "o2", 11.0, "N"),
            reading(1, "so2", 20.0, "T"), reading(1, "o2", 6.0, "N")]
    (so2, _o2) = reading_charts(rows, EN, {"so2": SO2})
    kinds = [(s["kind"], s["label"]) for s in so2["series"]]
    assert kinds[:3] == [("line", "Raw value"), ("line", "Corrected value (O2 6 %)"),
                         ("limit", "Limit")]
    assert so2["series"][1]["values"] == [pytest.approx(45.0), pytest.approx(20.0)]
    assert so2["series"][2]["values"] == [35.0, 35.0]
    assert so2["series"][3]["flag"] == "T"


def alert(kind: str, peak_value: float | None, end_ms: int | None) -> Alert:
    return Alert(id="0123456789abcdef", kind=kind, enterprise="E0001", outlet="G1",
                 pollutant="so2", start_ms=NOV1_MS + 2 * HOUR_MS, status="open",
                 active=end_ms is None, hours=3, severity="low", updated_ms=0,
                 end_ms=end_ms, peak_value=peak_value)


def hours(n: int) -> list[dict]:
    return [{"time": NOV1_MS + h * HOUR_MS, "outlet": "G1", "pollutant": "so2", "valid": True,
             "mean": 12.5, "mean_ref": 15.0, "limit": 35.0, "exceeded": False}
            for h in range(n)]


def test_flat_line_alert_chart_draws_its_value_and_shades_its_period() -> None:
    chart = alert_chart(alert("suspicious_flatline", 12.5, NOV1_MS + 5 * HOUR_MS), hours(8), EN)
    assert chart is not None
    labels = [s["label"] for s in chart["series"]]
    assert labels == ["Corrected mean", "Raw mean", "Limit", "Flat value"]
    assert chart["series"][3]["values"] == [12.5] * 8  # the value the alert names
    assert chart["bands"] == [[(NOV1_MS + 2 * HOUR_MS) // 1000, (NOV1_MS + 5 * HOUR_MS) // 1000]]


def test_an_ongoing_alert_is_shaded_to_the_chart_end() -> None:
    chart = alert_chart(alert("exceedance", None, None), hours(4), EN)
    assert chart is not None
    assert chart["bands"][0][1] is None
    assert "Flat value" not in [s["label"] for s in chart["series"]]
    assert alert_chart(alert("exceedance", None, None), [], EN) is None


def stat(h: int, key: str, mean: float, n: int = 60) -> dict:
    return {"time": NOV1_MS + h * HOUR_MS, "outlet": "G1", "pollutant": key, "mean": mean,
            "n_valid": n, "sd": 0.1, "operating": True}


def test_an_o2_alert_charts_o2_with_the_level_it_names_and_the_flow() -> None:
    a = replace(alert("o2_against_flow", 7.0, NOV1_MS + 5 * HOUR_MS), pollutant="o2")
    assert stats_keys(a, "flow") == ("o2", "flow")
    rows = [stat(h, "o2", 5.0 if 2 <= h < 5 else 7.0) for h in range(6)] + [
        stat(h, "flow", 100.0) for h in range(6)] + [stat(0, "temp", 120.0)]
    rows[1]["n_valid"] = 0  # an hour with no valid minute draws nothing
    o2, flow = stats_charts(a, rows, stats_keys(a, "flow"), EN)
    assert (o2["pollutant"], flow["pollutant"]) == ("o2", "flow")
    assert [s["label"] for s in o2["series"]] == ["Hourly mean of valid minutes",
                                                  "Usual O2 at this flow"]
    assert o2["series"][0]["values"] == [7.0, None, 5.0, 5.0, 5.0, 7.0]
    assert o2["series"][1]["values"] == [7.0] * 6  # the alert's peak value: the usual O2
    assert [s["label"] for s in flow["series"]] == ["Hourly mean of valid minutes"]
    assert o2["bands"] == flow["bands"] == [[(NOV1_MS + 2 * HOUR_MS) // 1000,
                                             (NOV1_MS + 5 * HOUR_MS) // 1000]]
    below = replace(a, kind="o2_below_norm", peak_value=4.0)
    assert stats_charts(below, rows, ("o2",), EN)[0]["series"][1] == {
        "label": "O2 floor of the source type", "kind": "level", "values": [4.0] * 6}


def test_a_near_constant_alert_charts_its_key_and_others_keep_the_judged_chart() -> None:
    a = replace(alert("near_constant", 120.0, None), pollutant="temp")
    assert stats_keys(a, "flow") == ("temp",)
    (chart,) = stats_charts(a, [stat(0, "temp", 120.0), stat(0, "o2", 6.0)], ("temp",), EN)
    assert [s["label"] for s in chart["series"]] == ["Hourly mean of valid minutes"]
    assert stats_keys(alert("exceedance", None, None), "flow") == ()
    assert stats_charts(a, [], ("temp",), EN) == []


def test_trend_against_the_period_before() -> None:
    assert [Count(3, 1).trend, Count(1, 3).trend, Count(2, 2).trend] == ["up", "down", "same"]


def ranked_row(ent: str, rank: int, exceeded: int) -> Ranked:
    t = Totals(judged_hours=48, exceeded_hours=exceeded)
    return Ranked(ent, t, Rates.of(t), "E" if exceeded else "C", rank=rank)


def test_worst_of_the_week_are_the_lowest_ranked_with_exceedances() -> None:
    rows = [ranked_row("E1", 1, 0), ranked_row("E2", 2, 1), ranked_row("E3", 3, 5),
            ranked_row("E4", 4, 9)]
    worst = worst_of(rows, [ranked_row("E4", 1, 2)], n=2)
    assert [w.row.enterprise for w in worst] == ["E4", "E3"]
    assert (worst[0].exceeded.now, worst[0].exceeded.before) == (9, 2)
    assert worst[1].exceeded.before == 0
