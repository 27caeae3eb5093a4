"""Retention policies: the routing table (pure) and where points really land (real InfluxDB)."""

from __future__ import annotations

import pytest

from devstack.servers import InfluxDB
from ingest.service import LINE_MEASUREMENTS
from store import retention
from store.influx import InfluxStore
from store.results import DailySummary, Episode, HourVerdict, ResultStore

T0_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z


@pytest.mark.parametrize(("line", "measurement"), [
    ('reading,enterprise=E1,outlet=G1,pollutant=so2 value=1.0,flag="N" 1', "reading"),
    ("watermark,job=judge until_ms=5i 0", "watermark"),
    ("hourly mean=2.5 3600000", "hourly"),  # no tags: the name ends at the space
    ("alert,kind=data_gap,enterprise=E1 id=\"a b,c\" 7", "alert"),
    ("bare", "bare"),
])
def test_line_measurement(line: str, measurement: str) -> None:
    assert retention.line_measurement(line) == measurement


def test_group_by_policy_keeps_order_within_a_policy() -> None:
    lines = ["reading,a=1 v=1 1", "hourly,a=1 v=1 1", "rejection,a=1 v=1 2",
             "watermark,job=j v=1 0", "other v=1 1", "reading,a=2 v=1 3"]
    assert retention.group_by_policy(lines) == {
        "raw": ["reading,a=1 v=1 1", "rejection,a=1 v=1 2", "reading,a=2 v=1 3"],
        "results": ["hourly,a=1 v=1 1"],
        "forever": ["watermark,job=j v=1 0"],
        None: ["other v=1 1"],
    }


@pytest.mark.parametrize(("query", "policy"), [
    ("SELECT * FROM alert WHERE \"id\" = 'x'", "results"),
    ('SELECT count("value") FROM "reading"', "raw"),
    ("select last(until_ms) from watermark where job = 'j'", "forever"),
    ("SELECT mean(v) FROM (SELECT v FROM hourly) GROUP BY time(1d)", "results"),
    ("SHOW TAG VALUES FROM daily WITH KEY = enterprise", "results"),
    ('SELECT * FROM "results"."hourly"', None),  # qualified: picks its own policy
    ('SELECT * FROM "emissions"."raw"."reading"', None),
    ("SELECT * FROM /.*/", None),
    ("SHOW MEASUREMENTS", None),
    ("SELECT * FROM unknown_thing", None),
    ("SELECT * FROM reading WHERE detail = 'copied FROM hourly'", "raw"),  # literal skipped
])
def test_query_policy(query: str, policy: str | None) -> None:
    assert retention.query_policy(query) == policy


def test_a_query_across_policies_is_refused() -> None:
    with pytest.raises(ValueError, match="raw"):
        retention.query_policy("SELECT * FROM reading; SELECT * FROM hourly")


@pytest.mark.parametrize(("duration_h", "shard_h"), [
    (0, 8736), (1, 1), (47, 1), (48, 24), (180 * 24, 24), (180 * 24 + 1, 168), (43920, 168),
])
def test_shard_hours(duration_h: int, shard_h: int) -> None:
    assert retention.shard_hours(duration_h) == shard_h


def test_policies_from_days() -> None:
    assert retention.policies(raw_days=30, results_days=0) == (
        retention.Policy("raw", 720, 24), retention.Policy("results", 0, 8736),
        retention.Policy("forever", 0, 8736))
    assert retention.Policy("raw", 720, 24).influxql("db") == (
        'CREATE RETENTION POLICY "raw" ON "db" DURATION 720h REPLICATION 1 SHARD DURATION 24h')
    assert retention.Policy("forever", 0, 8736).influxql("db", "ALTER").endswith(
        "DURATION INF REPLICATION 1 SHARD DURATION 8736h")
    with pytest.raises(ValueError, match="raw"):
        retention.policies(raw_days=-1, results_days=0)


def test_the_ingester_writes_one_policy_per_batch() -> None:
    assert retention.common_policy(LINE_MEASUREMENTS) == "raw"
    assert retention.common_policy(["reading", "hourly"]) is None


# Real InfluxDB ------------------------------------------------------------------------------

def _policies(store: InfluxStore) -> dict[str, tuple[str, str, bool]]:
    series = store.query(f'SHOW RETENTION POLICIES ON "{store.database}"')
    return {r["name"]: (r["duration"], r["shardGroupDuration"], r["default"])
            for s in series for r in s.rows()}


def _count_in(store: InfluxStore, policy: str, measurement: str) -> int:
    series = store.query(f'SELECT * FROM "{policy}"."{measurement}"')
    return sum(len(s.values) for s in series)


def test_policies_are_created_with_the_configured_durations(store: InfluxStore) -> None:
    # the fixture's create_database() made them with the defaults
    have = _policies(store)
    assert have["raw"] == ("43920h0m0s", "168h0m0s", False)
    assert have["results"] == ("0s", "8736h0m0s", False)
    assert have["forever"] == ("0s", "8736h0m0s", False)
    assert have["autogen"][2] is True  # the default policy is left alone


def test_creating_the_policies_twice_is_harmless_and_a_change_is_applied(
        store: InfluxStore) -> None:
    store.write_lines(['reading,enterprise=E1,outlet=G1,pollutant=so2 value=1.5,flag="N" '
                       f"{T0_MS}"], precision="ms")
    before = _policies(store)
    store.create_database()
    store.create_database()
    assert _policies(store) == before
    changed = InfluxStore(store.url, store.database,
                          policies=retention.policies(raw_days=30, results_days=3650))
    try:
        changed.create_database()
        have = _policies(store)
        assert have["raw"][:2] == ("720h0m0s", "24h0m0s")
        assert have["results"][:2] == ("87600h0m0s", "168h0m0s")
        assert _count_in(store, "raw", "reading") == 1  # the data stays
    finally:
        changed.close()


def test_each_measurement_lands_in_its_policy(store: InfluxStore) -> None:
    lines = [
        f'reading,enterprise=E1,outlet=G1,pollutant=so2 value=1.5,flag="N" {T0_MS}',
        f'rejection,reason=bad_topic,source=mqtt detail="x",size=1i {T0_MS}',
        f'hj212_part,mn=M1,cn=2011,pnum=2,pno=1 segment="x" {T0_MS}',
        f"device_aggregate,enterprise=E1,outlet=G1,pollutant=so2,period=hour avg=1.0 {T0_MS}",
        f'realtime,enterprise=E1,outlet=G1,pollutant=so2 value=1.5,flag="N" {T0_MS}',
        f"running_state,enterprise=E1,outlet=G1,facility=SB1 state=1i {T0_MS}",
        f"dirty,enterprise=E1,outlet=G1 received_ms=5i {T0_MS}",
        f"hourly,enterprise=E1,outlet=G1,pollutant=so2 mean=1.5 {T0_MS}",
        f"day,enterprise=E1,outlet=G1,pollutant=so2 n_valid_hours=20i {T0_MS}",
        f"daily,enterprise=E1 judged_hours=24i {T0_MS}",
        f'alert,enterprise=E1,kind=data_gap id="a" {T0_MS}',
        f"minute_stats,enterprise=E1,outlet=G1,pollutant=o2 cv=0.01 {T0_MS}",
        f"amount_hour,enterprise=E1,outlet=G1,pollutant=so2 measured_kg=1.5 {T0_MS}",
        f"amount_day,enterprise=E1,outlet=G1,pollutant=so2 total_kg=1.5 {T0_MS}",
        f"report_day,enterprise=E1,outlet=G1,pollutant=so2 hours=24i {T0_MS}",
        f"minute_digest,enterprise=E1,outlet=G1,pollutant=so2 digest=7i {T0_MS}",
        f"analyser_param,enterprise=E1,outlet=G1,pollutant=so2 slope=1.0 {T0_MS}",
        "watermark,job=judge until_ms=5i 0",
        'api_key,key_id=k1 role="admin" 0',
        f'mark,enterprise=E1,outlet=G1,mark_id=0123456789abcdef kind="fault" {T0_MS}',
        "web_session_revoked,session_id=s1 expires_s=5 0",
        f"unlisted v=1 {T0_MS}",
    ]
    store.write_lines(lines, precision="ms")
    for measurement, policy in retention.POLICY_OF.items():
        for other in ("raw", "results", "forever", "autogen"):
            expected = 1 if other == policy else 0
            assert _count_in(store, other, measurement) == expected, (measurement, other)
    assert _count_in(store, "autogen", "unlisted") == 1
    # unqualified queries find each measurement in its policy
    assert store.count("reading") == 1
    assert store.count("rejection") == 1
    assert len(store.query("SELECT * FROM daily")[0].values) == 1


def test_result_store_reads_back_what_it_wrote(store: InfluxStore) -> None:
    results = ResultStore(store)
    hour = HourVerdict("E1", "G1", "so2", T0_MS, n_received=60, n_valid=60, valid=True,
                       operating=True, mean=40.0, mean_ref=42.0, limit=35.0, exceeded=True,
                       multiple=0.2)
    day = DailySummary("E1", T0_MS, judged_hours=24, exceeded_hours=1, judged_days=0,
                       exceeded_days=0, expected_values=1440, received_values=1440,
                       valid_values=1440)
    episode = Episode("exceedance", "E1", "G1", "so2", T0_MS, active=True, hours=1.0,
                      updated_ms=T0_MS + 3_600_000, peak_multiple=0.2)
    results.write_lines([hour.to_line(), day.to_line()])
    results.upsert_episodes([episode])
    results.set_watermark("judge", T0_MS)
    assert _count_in(store, "results", "hourly") == 1
    assert _count_in(store, "results", "daily") == 1
    assert _count_in(store, "results", "alert") == 1
    assert _count_in(store, "forever", "watermark") == 1
    assert results.get_watermark("judge") == T0_MS
    alert = results.get_alert(episode.id)
    assert alert is not None
    assert alert.status == "open"
    assert [a.id for a in results.list_alerts()] == [episode.id]


def test_without_schema_creation_only_reachability_is_checked(
        influx_server: InfluxDB) -> None:
    s = InfluxStore(influx_server.url, "never_created_here", create_schema=False)
    try:
        s.create_database()
        names = [row[0] for ser in s.query("SHOW DATABASES") for row in ser.values]
        assert "never_created_here" not in names
    finally:
        s.close()
