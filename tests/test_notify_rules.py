"""The pure rules of notifications (alerts.notify.rules): reach, quiet hours, the digest hour
and the events an alert calls for, with hand-computed times (Asia/Shanghai, UTC+8)."""

from __future__ import annotations

import pytest

from alerts.notify.rules import Timing, decisions_for, next_digest, quiet_until, reaches
from store.notifications import Recipient
from store.results import Alert

TZ = "Asia/Shanghai"
H = 3_600_000
M = 60_000
MIDNIGHT = 1_762_099_200_000  # 2025-11-03T00:00:00+08:00
REGIONS = {"E0001": "north", "E0002": "south"}


def alert(enterprise: str = "E0001", kind: str = "exceedance", severity: str = "high",
          active: bool = True, hours: float = 2, status: str = "open") -> Alert:
    return Alert(f"a-{enterprise}-{kind}", kind, enterprise, "G1", "so2", MIDNIGHT, status,
                 active, hours, severity, MIDNIGHT + H, opened_ms=MIDNIGHT + H)


def person(rid: str = "r", **kw: object) -> Recipient:
    fields: dict[str, object] = {"role": "inspector", "channel": "email", "address": "x@y.z"}
    fields.update(kw)
    return Recipient(rid, rid, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("who", "a", "expected"), [
    (person(), alert(), True),
    (person(regions=("north",)), alert("E0002"), False),
    (person(regions=("south",)), alert("E0002"), True),
    (person(role="enterprise", enterprise="E0001"), alert("E0001"), True),
    (person(role="enterprise", enterprise="E0001"), alert("E0002"), False),
    (person(kinds=("data_gap",)), alert(), False),
    (person(kinds=("exceedance",)), alert(), True),
    (person(min_severity="critical"), alert(severity="high"), False),
    (person(min_severity="medium"), alert(severity="medium"), True),
])
def test_reach_by_region_enterprise_kind_and_severity(who: Recipient, a: Alert,
                                                      expected: bool) -> None:
    assert reaches(who, a, REGIONS.get) is expected


@pytest.mark.parametrize(("quiet", "local_ms", "until"), [
    ("22:00-07:00", 23 * H, 31 * H),  # 23:00: until 07:00 the next day
    ("22:00-07:00", 2 * H + 30 * M, 7 * H),  # 02:30: until 07:00
    ("22:00-07:00", 7 * H, None),  # 07:00: over
    ("22:00-07:00", 12 * H, None),
    ("12:00-13:30", 12 * H + 15 * M, 13 * H + 30 * M),
    ("", 23 * H, None),
])
def test_quiet_hours_end_where_the_window_ends(quiet: str, local_ms: int,
                                               until: int | None) -> None:
    got = quiet_until(quiet, MIDNIGHT + local_ms, TZ)
    assert got == (None if until is None else MIDNIGHT + until)


def test_the_digest_goes_at_the_next_digest_hour() -> None:
    assert next_digest(MIDNIGHT + 7 * H, TZ, 8) == MIDNIGHT + 8 * H
    assert next_digest(MIDNIGHT + 8 * H, TZ, 8) == MIDNIGHT + 8 * H
    assert next_digest(MIDNIGHT + 9 * H, TZ, 8) == MIDNIGHT + 32 * H


def test_events_open_escalate_close_and_none_for_a_withdrawn_episode() -> None:
    t = Timing(TZ, 60 * M, 8)
    people = [person("duty"), person("chief", level=2)]
    now = MIDNIGHT + 90 * M  # 30 min after opening: no escalation yet
    assert [(d.event, d.recipient_id) for d in
            decisions_for(alert(), people, REGIONS.get, now, t, set())] == [("open", "duty")]
    later = MIDNIGHT + 2 * H + M
    known = {"a-E0001-exceedance|open|duty"}
    assert [(d.event, d.recipient_id) for d in
            decisions_for(alert(), people, REGIONS.get, later, t, known)] == [
        ("escalate", "chief")]
    assert decisions_for(alert(status="acknowledged"), people, REGIONS.get, later, t,
                         known) == []
    known |= {"a-E0001-exceedance|escalate|chief"}
    closed = decisions_for(alert(active=False), people, REGIONS.get, later, t, known)
    assert [(d.event, d.recipient_id) for d in closed] == [("close", "duty"),
                                                           ("close", "chief")]
    assert decisions_for(alert(active=False, hours=0), people, REGIONS.get, later, t,
                         set()) == []
