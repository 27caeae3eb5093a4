"""Retention policies: how long each measurement is kept, and the one table that says where.

InfluxDB 1.x keeps data per retention policy (RP); each measurement is written to, and read from,
the policy of its kind (DESIGN §3.3):

| policy    | measurements                         | kept                                |
|-----------|--------------------------------------|-------------------------------------|
| raw       | reading, realtime, rejection, ...    | ``retention_raw_days`` (5 years)    |
| results   | hourly, day, daily, alert, minute_stats, | ``retention_results_days`` (0: INF) |
|           | amount_hour, amount_day, report_day      |                                     |
| forever   | watermark, api_key, mark, web_session_revoked | always (records; state at time 0) |

``POLICY_OF`` is that table and the only place that knows it: ``store.influx`` routes every write
by the measurement at the start of each line and every query by the measurement it reads from,
so no other module names a policy. A measurement missing from the table goes to the database's
default policy (``autogen``, kept forever), so nothing expires by accident.

On InfluxDB 2.x and 3.x the same names reach buckets through the 1.x compatibility API: a bucket
named ``emissions/raw`` serves database ``emissions``, policy ``raw`` (docs/operations.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

RAW = "raw"
RESULTS = "results"
FOREVER = "forever"

POLICY_OF: dict[str, str] = {
    "reading": RAW,
    "rejection": RAW,
    # Everything the ingester writes is raw, so that one batch is one write to one policy.
    "hj212_part": RAW,  # parts of split HJ 212 uploads, as received (password masked)
    "device_aggregate": RAW,  # hour and day aggregates the devices report themselves
    "realtime": RAW,  # HJ 212 real-time values (CN 2011), instants, apart from minute data
    "running_state": RAW,  # facility running states (HJ 212 CN 2021, SBxxx-RS)
    "analyser_param": RAW,  # analysers' range, slope, intercept (HJ 212 CN 3020, i13xxx)
    "dirty": RAW,  # hours that received data late, and up to which receipt they were judged
    "hourly": RESULTS,
    "day": RESULTS,
    "daily": RESULTS,
    "alert": RESULTS,
    "minute_stats": RESULTS,  # within-hour statistics of minute values (alerts.io.minutestats)
    "amount_hour": RESULTS,  # emission amounts of each judged hour (alerts.amounting)
    "amount_day": RESULTS,  # their sums per local day
    "report_day": RESULTS,  # the day statistics reports read (store.reportdays)
    "minute_digest": RESULTS,  # digests of an hour's minute values (alerts.copyalerts)
    "watermark": FOREVER,
    # Records of older versions, now in the records database (store.sql); kept for
    # ``python -m store.migrate_influx``, which copies them over.
    "api_key": FOREVER,
    "mark": FOREVER,
    "web_session_revoked": FOREVER,
}


@dataclass(frozen=True, slots=True)
class Policy:
    """One retention policy as InfluxDB should have it; 0 hours means kept forever."""

    name: str
    duration_h: int
    shard_h: int

    def influxql(self, database: str, verb: str = "CREATE") -> str:
        """A CREATE or ALTER RETENTION POLICY statement for this policy."""
        duration = f"{self.duration_h}h" if self.duration_h else "INF"
        stmt = (f'{verb} RETENTION POLICY "{self.name}" ON "{database}" '
                f"DURATION {duration} REPLICATION 1 SHARD DURATION {self.shard_h}h")
        return stmt


def shard_hours(duration_h: int) -> int:
    """Shard group duration for a policy: InfluxDB's own rule, and 52 weeks when kept forever.

    Policies kept forever hold few points here (results, state), so year-long shards keep the
    number of shards small; finite ones follow InfluxDB's defaults (1 h below 2 days, 1 day up
    to 6 months, 7 days beyond).
    """
    if duration_h == 0:
        return 52 * 7 * 24
    if duration_h < 48:
        return 1
    if duration_h <= 180 * 24:
        return 24
    return 7 * 24


def policies(raw_days: int, results_days: int) -> tuple[Policy, ...]:
    """The policies the service needs, from the configured durations (0 days = forever)."""
    for name, days in (("raw", raw_days), ("results", results_days)):
        if days < 0:
            raise ValueError(f"retention of {name} must be 0 (forever) or a number of days")
    out = []
    for name, hours in ((RAW, raw_days * 24), (RESULTS, results_days * 24), (FOREVER, 0)):
        out.append(Policy(name, hours, shard_hours(hours)))
    return tuple(out)


def policy_of(measurement: str) -> str | None:
    """The policy a measurement lives in; None for the database's default policy."""
    return POLICY_OF.get(measurement)


def common_policy(measurements: Iterable[str]) -> str | None:
    """The one policy of all these measurements, or None when they differ or are unknown."""
    found = {POLICY_OF.get(m) for m in measurements}
    return found.pop() if len(found) == 1 else None


def line_measurement(line: str) -> str:
    """The measurement at the start of a line-protocol line (names here need no escaping)."""
    end = line.find(",")
    space = line.find(" ")
    if end < 0 or 0 <= space < end:
        end = space
    return line[:end] if end >= 0 else line


def group_by_policy(lines: Iterable[str]) -> dict[str | None, list[str]]:
    """Lines grouped by the policy of their measurement (None: the default policy)."""
    out: dict[str | None, list[str]] = {}
    get = POLICY_OF.get
    for ln in lines:
        out.setdefault(get(line_measurement(ln)), []).append(ln)
    return out


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_IDENT = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)'
_PART = re.compile(_IDENT)
_FROM = re.compile(rf"\bFROM\s+({_IDENT}(?:\s*\.\s*{_IDENT})*)", re.IGNORECASE)


def query_policy(q: str) -> str | None:
    """The policy a query reads, from the unqualified measurements after its FROM keywords.

    ``SELECT * FROM alert WHERE ...`` reads ``results``. Qualified names (``"raw"."reading"``)
    and regular expressions choose their own policy and are ignored here; string literals are
    skipped. A query that reads measurements of two policies at once is refused: InfluxQL
    takes one policy per request, so such a query must name its policies itself.
    """
    found: set[str] = set()
    for match in _FROM.finditer(_STRING.sub("''", q)):
        parts = _PART.findall(match.group(1))
        if len(parts) > 1:
            continue  # qualified: the query picks its own policy
        policy = POLICY_OF.get(parts[0].strip('"'))
        if policy is not None:
            found.add(policy)
    if len(found) > 1:
        raise ValueError(f"one query reads measurements of policies {sorted(found)}: "
                         "split it, or qualify each measurement with its policy")
    return found.pop() if found else None
