"""The only module that knows InfluxDB.

It speaks the 1.x HTTP API (``/write`` with line protocol, ``/query`` with InfluxQL), which every
InfluxDB generation serves (DESIGN §3.3). Driver errors are translated here, once::

    StoreError
    ├── StoreUnavailable   connection refused or reset, time-out, 5xx: retry later
    └── StoreRejected      4xx: the request or the data is bad; retrying will not help

Lines are encoded by ``store.lines``; this module sends them.

Each measurement lives in its retention policy (``store.retention``): ``write_lines`` sends each
line to the policy of its measurement (one request per policy), ``query`` reads from the policy
of the measurement named after FROM, and ``create_database`` creates the policies, or brings
their durations in line with the configuration. Callers never name a policy.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from core.settings import CommonSettings
from store import retention

log = logging.getLogger(__name__)

# The field that every point of a measurement has, for counting its points.
COUNTED_FIELD = {"reading": "value", "realtime": "value", "rejection": "detail",
                 "device_aggregate": "avg", "hj212_part": "segment", "running_state": "state",
                 "dirty": "received_ms"}


class StoreError(Exception):
    """Base of the store's errors."""


class StoreUnavailable(StoreError):
    """InfluxDB cannot be reached or failed on its side: retry later."""


class StoreRejected(StoreError):
    """InfluxDB refused the request as bad (4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, v, strict=True)) for v in self.values]


@dataclass
class InfluxStore:
    """A thread-safe client of one InfluxDB database over the 1.x HTTP API.

    ``policies`` are the retention policies ``create_database`` makes; with ``create_schema``
    off it only checks that InfluxDB answers (the schema is then someone else's job).
    """

    url: str
    database: str
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    policies: tuple[retention.Policy, ...] = field(
        default_factory=lambda: retention.policies(raw_days=1830, results_days=0))
    create_schema: bool = True
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        auth = (self.username, self.password or "") if self.username else None
        self._client = httpx.Client(base_url=self.url.rstrip("/"), auth=auth,
                                    timeout=self.timeout_s)

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"{type(exc).__name__} talking to InfluxDB") from exc
        if resp.status_code >= 500:
            raise StoreUnavailable(f"InfluxDB answered {resp.status_code}")
        if resp.status_code >= 400:
            raise StoreRejected(resp.status_code, _error_text(resp))
        return resp

    def ping(self) -> bool:
        try:
            return self._client.get("/ping").status_code == 204
        except httpx.TransportError:
            return False

    def create_database(self) -> None:
        """Create the database and its retention policies; harmless when they exist."""
        if not self.create_schema:
            self._request("GET", "/ping")
            return
        self._statement(f'CREATE DATABASE "{self.database}"')
        self.ensure_retention_policies()

    def ensure_retention_policies(self) -> None:
        """Create missing policies and alter those whose durations differ from the settings."""
        series = self.query(f'SHOW RETENTION POLICIES ON "{self.database}"')
        have = {row["name"]: row for s in series for row in s.rows()}
        for policy in self.policies:
            row = have.get(policy.name)
            if row is None:
                self._statement(policy.influxql(self.database, "CREATE"))
                log.info("created retention policy %s (%s h, shards %s h)", policy.name,
                         policy.duration_h or "INF", policy.shard_h)
            elif (_hours(row["duration"]), _hours(row["shardGroupDuration"])) != (
                    policy.duration_h, policy.shard_h):
                self._statement(policy.influxql(self.database, "ALTER"))
                log.info("retention policy %s changed from %s to %s h", policy.name,
                         row["duration"], policy.duration_h or "INF")

    def _statement(self, q: str) -> None:
        """Run one statement that returns no rows; its error is raised as StoreRejected."""
        resp = self._request("POST", "/query", data={"q": q})
        for result in resp.json().get("results", []):
            if "error" in result:
                raise StoreRejected(400, str(result["error"]))

    def write_lines(self, lines: Iterable[str], precision: str = "ns",
                    retention_policy: str | None = None) -> None:
        """Write lines, each to the retention policy of its measurement.

        A caller that knows all its lines share one policy (the ingester's readings and
        rejections) passes it as ``retention_policy`` and spares the per-line routing.
        """
        if retention_policy is not None:
            self._write(lines, precision, retention_policy)
            return
        for policy, group in retention.group_by_policy(lines).items():
            self._write(group, precision, policy)

    def _write(self, lines: Iterable[str], precision: str, policy: str | None) -> None:
        body = "\n".join(lines).encode("utf-8")
        if not body:
            return
        params = {"db": self.database, "precision": precision}
        if policy:
            params["rp"] = policy
        self._request("POST", "/write", params=params, content=body)

    def query(self, q: str, epoch: str = "ms", params: dict[str, Any] | None = None,
              retention_policy: str | None = None) -> list[Series]:
        """Run InfluxQL statements; a statement error is raised as StoreRejected.

        The query reads from the retention policy of the measurement after its FROM
        (``store.retention.query_policy``) unless ``retention_policy`` names one.
        """
        form = {"q": q, "db": self.database, "epoch": epoch}
        policy = retention_policy or retention.query_policy(q)
        if policy:
            form["rp"] = policy
        if params:
            form["params"] = orjson.dumps(params).decode()
        resp = self._request("POST", "/query", data=form)
        out: list[Series] = []
        # orjson: about 3 times faster than json on large answers (a day of minute readings).
        for result in orjson.loads(resp.content).get("results", []):
            if "error" in result:
                raise StoreRejected(400, str(result["error"]))
            for s in result.get("series", []):
                out.append(Series(s.get("name", ""), s.get("tags") or {}, s["columns"],
                                  s.get("values") or []))
        return out

    def query_stream(self, q: str, epoch: str = "ms", chunk_size: int = 100_000
                     ) -> Iterator[Series]:
        """Run one InfluxQL statement with a chunked response, yielding series as they arrive.

        For large results: InfluxDB encodes while the caller decodes, and the whole answer is
        never held at once. One series may come in several consecutive pieces (same tags).
        """
        form = {"q": q, "db": self.database, "epoch": epoch, "chunked": "true",
                "chunk_size": str(chunk_size)}
        policy = retention.query_policy(q)
        if policy:
            form["rp"] = policy
        try:
            with self._client.stream("POST", "/query", data=form) as resp:
                if resp.status_code >= 500:
                    raise StoreUnavailable(f"InfluxDB answered {resp.status_code}")
                if resp.status_code >= 400:
                    resp.read()
                    raise StoreRejected(resp.status_code, _error_text(resp))
                for text in resp.iter_lines():
                    if text:
                        yield from _chunk_series(orjson.loads(text))
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"{type(exc).__name__} talking to InfluxDB") from exc

    def minutes_with_readings(self, enterprise: str, outlet: str, start_ms: int,
                              end_ms: int) -> set[int]:
        """Start times (epoch ms) of the minutes in ``[start_ms, end_ms)`` that hold at least
        one reading of the outlet."""
        q = ('SELECT count("value") FROM "reading" WHERE "enterprise" = $e AND "outlet" = $o '
             f"AND time >= {int(start_ms)}ms AND time < {int(end_ms)}ms "
             "GROUP BY time(1m) fill(none)")
        series = self.query(q, params={"e": enterprise, "o": outlet})
        return {int(v[0]) for s in series for v in s.values if v[1]}

    def count(self, measurement: str, where: str = "") -> int:
        """Number of points of a measurement (counting its first field)."""
        clause = f" WHERE {where}" if where else ""
        field_name = COUNTED_FIELD.get(measurement)
        counted = "*" if field_name is None else f'"{field_name}"'  # "*" quoted is a field name
        series = self.query(f'SELECT count({counted}) FROM "{measurement}"{clause}')
        return sum(int(v[1]) for s in series for v in s.values if v[1] is not None)


def store_from_settings(settings: CommonSettings) -> InfluxStore:
    """The store a service's settings describe: server, credentials, schema and retention."""
    password = settings.influx_password.get_secret_value() if settings.influx_password else None
    return InfluxStore(settings.influx_url, settings.influx_database, settings.influx_username,
                       password, settings.influx_timeout_s,
                       policies=retention.policies(settings.retention_raw_days,
                                                   settings.retention_results_days),
                       create_schema=settings.influx_create_schema)


_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def _hours(duration: str) -> int:
    """Hours of an InfluxDB duration as SHOW RETENTION POLICIES prints it (``9600h0m0s``)."""
    match = _DURATION.fullmatch(duration)
    if not match:
        raise StoreRejected(400, f"unexpected duration {duration!r} from InfluxDB")
    h, m, sec = (int(g) if g else 0 for g in match.groups())
    return h + (m * 60 + sec) // 3600


def _chunk_series(chunk: dict[str, Any]) -> Iterator[Series]:
    for result in chunk.get("results", []):
        if "error" in result:
            raise StoreRejected(400, str(result["error"]))
        for s in result.get("series", []):
            yield Series(s.get("name", ""), s.get("tags") or {}, s["columns"],
                         s.get("values") or [])
    if "error" in chunk:
        raise StoreRejected(400, str(chunk["error"]))


def _error_text(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error", resp.text))[:300]
    except ValueError:
        return resp.text[:300]
