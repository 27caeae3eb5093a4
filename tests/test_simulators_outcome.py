"""compare(): every kind of expectation against observations that meet it and that do not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulators.outcome import (
    Expectation,
    Observed,
    ObservedAlert,
    ObservedHour,
    compare,
    report,
)

H = 3_600_000
T = int(datetime(2026, 11, 18, 8, tzinfo=UTC).timestamp() * 1000)


def hour(valid: bool, exceeded: bool, start: int = T, pollutant: str = "so2") -> ObservedHour:
    return ObservedHour("E1", "G1", pollutant, start, valid, exceeded, 40.0 if exceeded else 20.0)


def alert(kind: str, start: int, end: int | None, pollutant: str = "so2",
          outlet: str = "G1") -> ObservedAlert:
    return ObservedAlert(kind, "E1", outlet, pollutant, start, end)


EXC = Expectation("hour", "E1", "G1", "so2", T, valid=True, exceeded=True)
OK = Expectation("hour", "E1", "G1", "so2", T, valid=True, exceeded=False)
INVALID = Expectation("hour", "E1", "G1", "so2", T, valid=False)
VALID_ONLY = Expectation("hour", "E1", "G1", "cod", T, valid=True)
ALERT = Expectation("alert", "E1", "G1", "so2", T, end_ms=T + 3 * H, alert_kind="exceedance")
OPEN = Expectation("alert", "E1", "G1", "so2", T, end_ms=None, alert_kind="exceedance")
GAP = Expectation("alert", "E1", "G1", "", T, end_ms=T + 2 * H, alert_kind="data_gap",
                  tolerance_ms=H)
QUIET = Expectation("no_alert", "E1", "G1", "", T, end_ms=T + 24 * H, alert_kind="data_gap")
QUIET_ANY = Expectation("no_alert", "E1", "G1", "", T, end_ms=T + 24 * H)
RANK = Expectation("rank_below", "E1", other="E2")
REJ = Expectation("rejections", "E1", reason="bad_crc", count=3)


def pr(other: str, **kw: object) -> Expectation:
    return Expectation("public_report", "E1", pollutant="so2", start_ms=T, other=other,
                       why="E1@1h", **kw)  # type: ignore[arg-type]


EXCEEDANCE = {"id": "a1", "kind": "exceedance", "pollutant": "so2"}
GAP_ALERT = {"id": "a2", "kind": "data_gap", "pollutant": ""}


def seen(**kw: object) -> Observed:
    facts = {"ticket": "RAAAAAAAA", "beside_json": [EXCEEDANCE, GAP_ALERT],
             "beside_page": ["a1", "a2"], "group_size": 1, "alert_pages": ["a1"],
             "public_fields": ["enterprise", "group_size", "hour", "kind", "status", "ticket"],
             "responses": ["pump tripped"], "status": "closed", "finding": "confirmed", **kw}
    return Observed(public_reports={"E1@1h": facts})


@pytest.mark.parametrize(("exp", "observed", "problem"), [
    (EXC, Observed(hours=[hour(True, True)]), None),
    (EXC, Observed(hours=[hour(True, False)]), "not exceeded (mean_ref 20)"),
    (EXC, Observed(hours=[hour(False, False)]), "hour not valid"),
    (EXC, Observed(), "no judged hour"),
    (OK, Observed(hours=[hour(True, False)]), None),
    (OK, Observed(hours=[hour(True, True)]), "exceeded (mean_ref 40)"),
    (INVALID, Observed(), None),  # a missing hour is not valid
    (INVALID, Observed(hours=[hour(False, False)]), None),
    (INVALID, Observed(hours=[hour(True, False)]), "hour valid"),
    (VALID_ONLY, Observed(hours=[hour(True, True, pollutant="cod")]), None),
    (OK, Observed(hours=[hour(True, True, start=T + H)]), "no judged hour"),
    (ALERT, Observed(alerts=[alert("exceedance", T, T + 3 * H)]), None),
    (ALERT, Observed(alerts=[alert("exceedance", T, None)]), "still open"),
    (ALERT, Observed(alerts=[alert("exceedance", T, T + 4 * H)]), "closed at"),
    (ALERT, Observed(alerts=[alert("exceedance", T + H, T + 3 * H)]), "no such alert"),
    (ALERT, Observed(alerts=[alert("exceedance", T, T + 3 * H, pollutant="nox")]),
     "no such alert (this outlet has: none)"),
    (ALERT, Observed(alerts=[alert("data_gap", T, T + 3 * H)]), "no such alert"),
    (ALERT, Observed(alerts=[alert("exceedance", T, T + 3 * H),
                             alert("exceedance", T, T + H)]), "2 alerts opening then"),
    # A day exceedance opening at the same time is another alert, not a second hourly one.
    (ALERT, Observed(alerts=[alert("exceedance", T, T + 3 * H),
                             ObservedAlert("exceedance", "E1", "G1", "so2", T, T + 24 * H,
                                           period="day")]), None),
    (ALERT, Observed(alerts=[ObservedAlert("exceedance", "E1", "G1", "so2", T, T + 3 * H,
                                           period="day")]), "no such alert"),
    (OPEN, Observed(alerts=[alert("exceedance", T, None)]), None),
    (OPEN, Observed(alerts=[alert("exceedance", T, T + H)]), "closed at"),
    (GAP, Observed(alerts=[alert("data_gap", T + 60_000, T + 2 * H - 60_000, "")]), None),
    (GAP, Observed(alerts=[alert("data_gap", T + 2 * H, T + 3 * H, "")]), "no such alert"),
    (QUIET, Observed(alerts=[alert("exceedance", T, None)]), None),
    (QUIET, Observed(alerts=[alert("data_gap", T - 2 * H, T - H, "")]), None),  # before
    (QUIET, Observed(alerts=[alert("data_gap", T + H, T + 2 * H, "", outlet="G2")]), None),
    (QUIET, Observed(alerts=[alert("data_gap", T + H, T + 2 * H, "")]), "data_gap G1/"),
    (QUIET, Observed(alerts=[alert("data_gap", T - H, None, "")]), "data_gap G1/"),
    (QUIET_ANY, Observed(alerts=[alert("over_range", T, T + H)]), "over_range G1/so2"),
    (RANK, Observed(ranking=["E2", "E3", "E1"]), None),
    (RANK, Observed(ranking=["E1", "E2"]), "E1 ranked 1, E2 2"),
    (RANK, Observed(ranking=["E2"]), "E1 not in the ranking"),
    (REJ, Observed(rejections={"E1": {"bad_crc": 3}}), None),
    (REJ, Observed(rejections={"E1": {"bad_crc": 2, "x": 1}}), "2"),
    (REJ, Observed(), "0"),
    (pr("beside", alert_kind="exceedance"), seen(), None),
    (pr("beside", alert_kind="exceedance"), seen(beside_page=["a2"]), "through its link 1"),
    (pr("beside", alert_kind="exceedance"), seen(beside_json=[GAP_ALERT]), "through its link 0"),
    (pr("beside", alert_kind="exceedance"), Observed(), "the report was not read back"),
    (pr("not_beside", alert_kind="exceedance"), seen(beside_json=[GAP_ALERT]), None),
    (pr("not_beside", alert_kind="exceedance"), seen(), "1 such alerts beside it"),
    (pr("alert_page", alert_kind="exceedance"), seen(), None),
    (pr("alert_page", alert_kind="exceedance"), seen(alert_pages=[]), "no such alert's page"),
    (pr("grouped", count=2), seen(group_size=2), None),
    (pr("grouped", count=2), seen(), "a group of 1"),
    (pr("answered", reason="pump tripped"), seen(), None),
    (pr("answered", reason="pump tripped"), seen(responses=[]), "the reporter reads []"),
    (pr("closed", reason="confirmed"), seen(), None),
    (pr("closed", reason="confirmed"), seen(status="investigating"), "public status"),
    (pr("public"), seen(), None),
    (pr("public"), seen(public_fields=["contact", "ticket"]), "public fields ['contact']"),
])
def test_compare(exp: Expectation, observed: Observed, problem: str | None) -> None:
    diffs = compare([exp], observed)
    if problem is None:
        assert diffs == []
    else:
        assert len(diffs) == 1
        assert diffs[0].found.startswith(problem)
        assert diffs[0].expectation is exp


def test_report_lists_each_difference_and_ends_with_the_count() -> None:
    exps = [EXC, Expectation.from_dict({**OK.to_dict(), "start_ms": T + H}), RANK]
    compliant = {"enterprise": "E1", "outlet": "G1", "pollutant": "so2", "valid": True,
                 "exceeded": False}
    observed = Observed.from_dict({
        "hours": [{**compliant, "start_ms": T}, {**compliant, "start_ms": T + H}],
        "ranking": ["E2", "E1"]})
    diffs = compare(exps, observed)
    text = report("demo", exps, diffs).splitlines()
    assert text == [
        "expected hour 2026-11-18T08:00Z E1/G1/so2: exceeded; found not exceeded",
        "scenario demo: 2/3 expectations met"]


def test_expectations_round_trip_through_plain_dicts() -> None:
    for e in (EXC, GAP, RANK, REJ):
        assert Expectation.from_dict(e.to_dict()) == e
    with pytest.raises(ValueError, match="unknown expectation kind"):
        compare([Expectation("weather", "E1")], Observed())
