"""Property-based tests of the whole OpenAPI spec with schemathesis, against the served app
over a real InfluxDB with seeded data: no 5xx, and every answer matches its documented schema
and content type. Bounded (a few examples per operation) so that it runs in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.readings import Reading, Reason, Rejection
from devstack.servers import Mosquitto
from store.influx import InfluxStore
from store.lines import reading_line, rejection_line
from store.results import DailySummary, DayVerdict, Episode, HourVerdict, ResultStore
from tests.api_support import DAY_MS, HOUR_MS, NOW_S, Api, running_api

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def seed_recent(store: InfluxStore, now_ms: int) -> None:
    """Data inside the default time ranges (the last day, the last 30 days)."""
    t = (now_ms // HOUR_MS - 3) * HOUR_MS
    store.write_lines([reading_line(Reading(e, "G1", p, t + i * 60_000, 10.0 + i, "N"))
                       for e in ("E0001", "E0002") for p in ("so2", "o2") for i in range(5)])
    results = ResultStore(store)
    results.write_lines(
        [HourVerdict(e, "G1", "so2", t, 60, 58, True, True, mean=20.0, o2_mean=7.0,
                     mean_ref=25.0, limit=35.0, limit_id="x", exceeded=False).to_line()
         for e in ("E0001", "E0002")]
        + [DayVerdict("E0003", "G1", "so2", t - DAY_MS, 22, True, 50.0, 80.0, "y").to_line()]
        + [DailySummary(e, t - d * DAY_MS, 24, d % 2, 0, 0, 1440, 1400, 1300,
                        max_multiple=0.2 if d % 2 else None).to_line()
           for e in ("E0001", "E0002", "E0005") for d in range(3)])
    results.upsert_episodes([Episode("exceedance", e, "G1", "so2", t, True, 1, t, peak_value=9)
                             for e in ("E0001", "E0002")])
    store.write_lines([rejection_line(
        Rejection(Reason.BAD_VALUES, "bad", "emissions/E0001/G1", b"{", enterprise="E0001"),
        t * 1_000_000)])


@pytest.fixture
def served(store: InfluxStore, tmp_path: Path, session_broker: Mosquitto) -> Iterator[Api]:
    # The API only opens a TCP connection to the broker (its health check): the shared one does.
    with running_api(store, tmp_path, mqtt_port=session_broker.port) as api:
        seed_recent(store, int(NOW_S * 1000))
        yield api


def pinned(path: str, alert_id: str) -> dict[str, str]:
    """Real path parameters, so that examples reach seeded data and not only 404s."""
    out = {}
    if "{enterprise_id}" in path:
        out["enterprise_id"] = "E0001"
    if "{alert_id}" in path:
        out["alert_id"] = alert_id
    return out


@pytest.mark.parametrize("who", ["admin", "e1"])
def test_no_server_errors_and_answers_match_the_spec(served: Api, who: str) -> None:
    spec = served.client.get("/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 18
    alert_id = served.get("/alerts", "admin", params={"enterprise": "E0001"}).json()[
        "items"][0]["id"]
    base_url = str(served.client.base_url).rstrip("/")
    headers = served.auth(who)
    seen: dict[int, int] = {}

    for operation in operations:
        strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE)]
        if pinned(operation.path, alert_id):
            strategies.append(operation.as_strategy(
                GenerationMode.POSITIVE, path_parameters=pinned(operation.path, alert_id)))

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=st.one_of(strategies))
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            case.validate_response(response, checks=CHECKS)

        run()
    assert not [s for s in seen if s >= 500], seen
    assert seen.get(200, 0) > 40, seen  # examples reached the data, not only the validators
    assert seen.get(422, 0) > 20, seen  # and invalid ones were sent too
