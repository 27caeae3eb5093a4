"""What the service reports about a scenario, read from its HTTP API into ``Observed``.

Everything comes through the API an inspector uses (DESIGN §3.4), with an inspector's key:

- judged hours and days: ``/enterprises/{id}/hourly`` and ``/enterprises/{id}/days``;
- alerts: ``/alerts?enterprise=...``; an alert's end counts only once it is no longer active,
  and withdrawn episodes (closed with 0 hours: re-judged hours no longer show them) are left
  out;
- the ranking over the scenario's period: ``/rankings``, in rank order;
- rejections per enterprise and reason: ``/rejections`` over the time they arrived. A frame
  refused before its device is known (a bad CRC, a DataTime that is no date) carries no
  enterprise; it is counted for the owner of the device its topic names (``hj212/{MN}``),
  which the broker's ACL lets only that device (or the gateway on its behalf) publish to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from core.times import format_ms, parse_ms
from simulators.outcome import Observed, ObservedAlert, ObservedHour

PAGE = 10_000
ALERT_PAGE = 1000


class ApiError(RuntimeError):
    """The API answered a request with an error."""


def get(client: httpx.Client, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
    resp = client.get(path, params=dict(params))
    if not resp.is_success:
        raise ApiError(f"GET {path} {dict(params)}: {resp.status_code} {resp.text[:300]}")
    body: dict[str, Any] = resp.json()
    return body


def pages(client: httpx.Client, path: str, params: Mapping[str, Any]
          ) -> Iterator[dict[str, Any]]:
    """Every item of a paged (limit/offset) listing."""
    offset = 0
    while True:
        body = get(client, path, {**params, "limit": PAGE, "offset": offset})
        yield from body["items"]
        if len(body["items"]) < PAGE:
            return
        offset += PAGE


def judged(client: httpx.Client, enterprise: str, what: str, start_ms: int,
           end_ms: int) -> list[ObservedHour]:
    """Judged hours (``what`` = hourly) or days (days) of one enterprise."""
    return [ObservedHour(enterprise=enterprise, outlet=it["outlet"], pollutant=it["pollutant"],
                         start_ms=parse_ms(it["time"]), valid=bool(it["valid"]),
                         exceeded=bool(it["exceeded"]), mean_ref=it.get("mean_ref"),
                         status=str(it.get("status") or ""))
            for it in pages(client, f"/api/v1/enterprises/{enterprise}/{what}",
                            {"start": format_ms(start_ms), "end": format_ms(end_ms)})]


def alerts(client: httpx.Client, enterprise: str) -> list[ObservedAlert]:
    """Every alert of one enterprise but the withdrawn ones."""
    out: list[ObservedAlert] = []
    params: dict[str, Any] = {"enterprise": enterprise, "limit": ALERT_PAGE}
    seen: set[str] = set()
    while True:
        items = get(client, "/api/v1/alerts", params)["items"]
        fresh = [a for a in items if a["id"] not in seen]
        seen.update(a["id"] for a in fresh)
        for a in fresh:
            if not a["active"] and not a["hours"]:
                continue  # withdrawn
            out.append(ObservedAlert(kind=a["kind"], enterprise=a["enterprise"],
                                     outlet=a["outlet"], pollutant=a["pollutant"],
                                     start_ms=parse_ms(a["start"]),
                                     end_ms=None if a["active"] or not a["end"]
                                     else parse_ms(a["end"]), id=a["id"],
                                     period=str(a.get("period") or "hour")))
        if len(items) < ALERT_PAGE or not fresh:
            return out
        params["until"] = items[-1]["start"]  # newest first: the next page is older


def ranking(client: httpx.Client, start_ms: int, end_ms: int) -> list[str]:
    span = {"start": format_ms(start_ms), "end": format_ms(end_ms)}
    items = list(pages(client, "/api/v1/rankings", span))
    return [it["enterprise"] for it in sorted(items, key=lambda it: it["rank"])]


def owner(item: Mapping[str, Any], owners: Mapping[str, str]) -> str:
    """The enterprise a rejection belongs to: its tag, else the device its topic names."""
    if item.get("enterprise"):
        return str(item["enterprise"])
    root, _, rest = str(item.get("topic") or "").partition("/")
    if root == "hj212":
        return owners.get(rest, "")
    if root == "emissions":
        return rest.partition("/")[0]
    return ""


def rejections(client: httpx.Client, since_ms: int, until_ms: int,
               owners: Mapping[str, str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    span = {"start": format_ms(since_ms), "end": format_ms(until_ms)}
    for it in pages(client, "/api/v1/rejections", span):
        counts[owner(it, owners)][it["reason"]] += 1
    return {e: dict(r) for e, r in counts.items()}


def observe(client: httpx.Client, enterprises: list[str], start_ms: int, end_ms: int,
            arrivals: tuple[int, int], owners: Mapping[str, str], *,
            ranks: bool = True) -> Observed:
    """The service's view of the period ``[start_ms, end_ms)``; rejections that arrived in
    ``arrivals`` (wall-clock ms); ``owners``: device number -> enterprise. ``ranks`` False
    leaves the ranking out (a period without a local midnight has none)."""
    obs = Observed(ranking=ranking(client, start_ms, end_ms) if ranks else [],
                   rejections=rejections(client, *arrivals, owners))
    for ent in enterprises:
        obs.hours.extend(judged(client, ent, "hourly", start_ms, end_ms))
        obs.days.extend(judged(client, ent, "days", start_ms, end_ms))
        obs.alerts.extend(alerts(client, ent))
    return obs
