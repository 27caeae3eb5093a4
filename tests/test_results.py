"""Compliance results in a real InfluxDB: hours, alerts and their workflow (joined from the
records database), typed alert filters, the watermark."""

from __future__ import annotations

from typing import Any

import pytest

from store.influx import InfluxStore
from store.results import AlertFilter, Episode, HourVerdict, ResultStore, alert_id
from store.sql import Records
from store.workflow import AlertWorkflows, Note

HOUR_MS = 3_600_000
T0 = 1_764_151_200_000  # 2025-11-26T10:00:00Z, an hour start


def test_hour_verdict_round_trip_keeps_types(store: InfluxStore) -> None:
    results = ResultStore(store)
    hv = HourVerdict("E1", "G1", "so2", T0, n_received=60, n_valid=58, valid=True,
                     operating=True, mean=10.0, o2_mean=7.0, mean_ref=12.5, limit=35,
                     limit_id="cn.ultra_low.coal_power.so2")
    results.write_lines([hv.to_line()])
    # An integer limit from a registry and a float limit later must not clash.
    results.write_lines([HourVerdict("E1", "G1", "so2", T0 + HOUR_MS, 60, 60, True, True,
                                     limit=35.5).to_line()])
    rows = store.query("SELECT * FROM hourly")[0].rows()
    assert [r["limit"] for r in rows] == [35, 35.5]
    assert rows[0]["mean_ref"] == 12.5
    assert rows[0]["valid"] is True
    assert "multiple" not in rows[0] or rows[0]["multiple"] is None


def test_alert_workflow_survives_episode_updates(store: InfluxStore, records: Records) -> None:
    results = ResultStore(store, AlertWorkflows(records))
    ep = Episode("exceedance", "E1", "G1", "so2", T0, active=True, hours=1,
                 updated_ms=T0 + HOUR_MS, peak_multiple=0.5)
    results.upsert_episodes([ep])
    alert = results.get_alert(ep.id)
    assert alert is not None
    assert alert.status == "open"
    note = Note(T0, "inspector:1", "acknowledged", 'a "note", with <b>html</b>\nand a newline')
    AlertWorkflows(records).move(ep.id, "E1", "acknowledged", note)
    grown = Episode("exceedance", "E1", "G1", "so2", T0, active=False, hours=3,
                    updated_ms=T0 + 3 * HOUR_MS, end_ms=T0 + 3 * HOUR_MS, peak_multiple=0.9)
    results.upsert_episodes([grown])
    after = results.get_alert(ep.id)
    assert after is not None
    assert after.status == "acknowledged"  # the scheduler did not reopen it
    assert after.notes == [note]
    assert ResultStore(store).get_alert(ep.id).status == "open"  # type: ignore[union-attr]
    assert (after.hours, after.active, after.peak_multiple) == (3.0, False, 0.9)
    assert len(results.list_alerts()) == 1
    assert [a.id for a in results.list_alerts(AlertFilter(status="acknowledged"))] == [ep.id]
    assert results.list_alerts(AlertFilter(status="open")) == []
    assert results.list_alerts(AlertFilter(status="acknowledged", kinds=("data_gap",))) == []


def test_typed_alert_filters(store: InfluxStore, records: Records) -> None:
    results = ResultStore(store, AlertWorkflows(records))
    eps = [Episode("exceedance", "E1", "G1", "so2", T0, True, 1, T0 + HOUR_MS),
           Episode("data_gap", "E1", "G2", "", T0 + HOUR_MS, False, 2, T0 + 3 * HOUR_MS,
                   end_ms=T0 + 3 * HOUR_MS),
           Episode("exceedance", "E2", "G1", "so2", T0 + 2 * HOUR_MS, False, 1,
                   T0 + 3 * HOUR_MS, end_ms=T0 + 3 * HOUR_MS, period="day"),
           Episode("over_range", "E'; DROP", "G1", "so2", T0, True, 1, T0 + HOUR_MS)]
    results.upsert_episodes(eps)
    AlertWorkflows(records).move(eps[1].id, "E1", "resolved", Note(T0, "a:1", "resolved", ""))

    def ids(**f: Any) -> list[str]:
        return [a.id for a in results.list_alerts(AlertFilter(**f))]

    assert ids()[:2] == [eps[2].id, eps[1].id]  # newest first (the last two start together)
    assert sorted(ids()) == sorted(e.id for e in eps)
    assert ids(enterprises=("E1",)) == [eps[1].id, eps[0].id]
    assert ids(enterprises=()) == []
    assert ids(enterprises=("E'; DROP",)) == [eps[3].id]  # quoted, not a statement
    assert ids(outlet="G2") == [eps[1].id]
    assert sorted(ids(kinds=("exceedance",))) == sorted([eps[0].id, eps[2].id])
    assert ids(period="day") == [eps[2].id]
    assert sorted(ids(active=True)) == sorted([eps[0].id, eps[3].id])
    assert sorted(ids(live_since_ms=T0 + 3 * HOUR_MS, active=False)) == sorted(
        [eps[1].id, eps[2].id])
    assert ids(live_since_ms=T0 + 4 * HOUR_MS, active=False) == []
    assert ids(since_ms=T0 + HOUR_MS, until_ms=T0 + 2 * HOUR_MS) == [eps[1].id]
    assert ids(status="resolved") == [eps[1].id]
    assert sorted(ids(status="open")) == sorted([eps[0].id, eps[2].id, eps[3].id])
    assert ids(ids=(eps[0].id,)) == [eps[0].id]
    with pytest.raises(ValueError, match="alert kind"):
        AlertFilter(kinds=("nope",))
    with pytest.raises(ValueError, match="needs the workflows"):
        ResultStore(store).list_alerts(AlertFilter(status="open"))


def test_alert_id_is_stable_and_distinct() -> None:
    a = alert_id("exceedance", "E1", "G1", "so2", T0)
    assert a == alert_id("exceedance", "E1", "G1", "so2", T0)
    assert a != alert_id("exceedance", "E1", "G1", "nox", T0)
    assert a != alert_id("over_range", "E1", "G1", "so2", T0)


def test_watermark(store: InfluxStore) -> None:
    results = ResultStore(store)
    assert results.get_watermark("judge") is None
    results.set_watermark("judge", T0)
    results.set_watermark("judge", T0 + HOUR_MS)
    assert results.get_watermark("judge") == T0 + HOUR_MS


def test_quote_survives_hostile_strings(store: InfluxStore) -> None:
    from store.results import quote

    hostile = "a'b\\c\nd\" OR 1=1; DROP DATABASE x"
    store.write_lines([f"hourly,enterprise=E1 n_valid=1i {T0}"], precision="ms")
    assert store.query(f'SELECT * FROM hourly WHERE "enterprise" = {quote(hostile)}') == []
    assert store.query(f'SELECT * FROM hourly WHERE "enterprise" = {quote("E1")}') != []


def test_hour_status_round_trip_and_unknown_status(store: InfluxStore) -> None:
    results = ResultStore(store)
    hv = HourVerdict("E1", "G1", "so2", T0, n_received=60, n_valid=60, valid=False,
                     operating=True, o2_mean=20.5, status="unexplained_high_o2", target=35.0)
    results.write_lines([hv.to_line()])
    (series,) = store.query("SELECT * FROM hourly")
    back = HourVerdict.from_row(series.tags | {"enterprise": "E1", "outlet": "G1",
                                               "pollutant": "so2"}, series.rows()[0])
    assert back == hv
    with pytest.raises(ValueError, match="unknown hour status"):
        HourVerdict("E1", "G1", "so2", T0, 60, 60, True, True, status="fine")
