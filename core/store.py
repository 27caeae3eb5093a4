"""The only module that knows InfluxDB.

It speaks the 1.x HTTP API (``/write`` with line protocol, ``/query`` with InfluxQL), which every
InfluxDB generation serves (DESIGN §3.3). Driver errors are translated here, once::

    StoreError
    ├── StoreUnavailable   connection refused or reset, time-out, 5xx: retry later
    └── StoreRejected      4xx: the request or the data is bad; retrying will not help

Readings are the hot path: their tags are validated identifiers and their fields a number and a
flag letter, so their lines are formatted directly (about 20 times cheaper than building a point
object). Free text (rejected payloads, notes, names) goes through influxdb-client's point
serialisation, whose escaping is well tested; ``tests/test_store.py`` checks both agree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from core.readings import Reading, Rejection

log = logging.getLogger(__name__)

PAYLOAD_KEEP_BYTES = 1024  # a rejected payload is stored cut to this size


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


def reading_line(r: Reading) -> str:
    """Line protocol for one reading, time in ns (tags are validated identifiers)."""
    return (f"reading,enterprise={r.enterprise},outlet={r.outlet},pollutant={r.pollutant} "
            f'value={r.value!r},flag="{r.flag}" {r.ts_ms * 1_000_000}')


def point_line(point: Point) -> str:
    return str(point.to_line_protocol())


def rejection_point(rej: Rejection, arrival_ns: int) -> Point:
    payload = rej.payload[:PAYLOAD_KEEP_BYTES].decode("utf-8", errors="replace")
    p = (Point("rejection").tag("reason", rej.reason).tag("source", rej.source)
         .field("topic", rej.topic[:256]).field("payload", payload)
         .field("detail", rej.detail[:512]).field("size", len(rej.payload))
         .time(arrival_ns, WritePrecision.NS))
    if rej.enterprise:
        p = p.tag("enterprise", rej.enterprise)
    if rej.pollutant:
        p = p.field("pollutant", rej.pollutant)
    return p  # type: ignore[no-any-return]


@dataclass
class InfluxStore:
    """A thread-safe client of one InfluxDB database over the 1.x HTTP API."""

    url: str
    database: str
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
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
        self._request("POST", "/query", params={"q": f'CREATE DATABASE "{self.database}"'})

    def write_lines(self, lines: Iterable[str], precision: str = "ns",
                    retention_policy: str | None = None) -> None:
        body = "\n".join(lines).encode("utf-8")
        if not body:
            return
        params = {"db": self.database, "precision": precision}
        if retention_policy:
            params["rp"] = retention_policy
        self._request("POST", "/write", params=params, content=body)

    def write_points(self, points: Sequence[Point]) -> None:
        self.write_lines(point_line(p) for p in points)

    def query(self, q: str, epoch: str = "ms", params: dict[str, Any] | None = None
              ) -> list[Series]:
        """Run InfluxQL statements; a statement error is raised as StoreRejected."""
        form = {"q": q, "db": self.database, "epoch": epoch}
        if params:
            form["params"] = orjson.dumps(params).decode()
        resp = self._request("POST", "/query", data=form)
        out: list[Series] = []
        for result in resp.json().get("results", []):
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

    def count(self, measurement: str, where: str = "") -> int:
        """Number of points of a measurement (counting its first field)."""
        clause = f" WHERE {where}" if where else ""
        field_name = {"reading": "value", "rejection": "detail"}.get(measurement, "*")
        series = self.query(f'SELECT count("{field_name}") FROM "{measurement}"{clause}')
        return sum(int(v[1]) for s in series for v in s.values if v[1] is not None)


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
