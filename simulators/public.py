"""Reports from the public in a scenario (``[[public_report]]`` tables; issue 14).

Each table is a report someone sends during the scenario's period, through the public JSON API
as anyone would (no key), once the period has been judged:

    [[public_report]]
    target = "PWR01"        # the enterprise reported
    at_h = 11.5             # hours from the scenario's start
    kind = "smoke"          # smoke, odour, water_colour, noise, other
    description = "..."
    beside = "exceedance"   # the alert kind expected beside it (of ``pollutant``), or omit
    not_beside = "exceedance"  # or: no alert of this kind may be beside it
    pollutant = "so2"
    group = 2               # the size of its group of duplicates, if it is one
    response = "..."        # the enterprise responds so (its own key); the reporter sees it
    finding = "..."         # an inspector assigns, investigates and closes it so

What is read back, into ``Observed.public_reports`` (checked by ``simulators.outcome``): the
alerts beside each report on the inspector's queue page (``/web/public-reports``, logged in
with an inspector's key) and through the JSON link of the inspector's view, whether the
alert's own page lists the report, the group, the fields of the public view, the responses the
reporter reads with the follow token, and the public status and finding after closing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from api.keys import KeyStore, Role
from simulators.observe import ApiError
from simulators.outcome import Expectation
from simulators.scenario import Scenario, ScenarioError
from store.sql import Records

HOUR_MS = 3_600_000
FIELDS = {"target", "at_h", "kind", "description", "beside", "not_beside", "pollutant",
          "group", "response", "finding", "contact"}
API = "/api/v1"


@dataclass(frozen=True, slots=True)
class ReportPlan:
    target: str
    at_h: float
    kind: str
    description: str
    beside: str = ""
    not_beside: str = ""
    pollutant: str = ""
    group: int = 0
    response: str = ""
    finding: str = ""
    contact: str = ""

    @property
    def key(self) -> str:
        return f"{self.target}@{self.at_h:g}h"


def plans_of(path: Path) -> list[ReportPlan]:
    with path.open("rb") as fh:
        raw = tomllib.load(fh).get("public_report", [])
    plans = []
    for n, table in enumerate(raw):
        unknown = set(table) - FIELDS
        if unknown:
            raise ScenarioError(f"[[public_report]] {n + 1}: unknown field(s) "
                                f"{', '.join(sorted(unknown))}")
        try:
            plans.append(ReportPlan(**table))
        except TypeError as exc:
            raise ScenarioError(f"[[public_report]] {n + 1}: {exc}") from None
    return plans


def expectations(sc: Scenario, plans: list[ReportPlan]) -> list[Expectation]:
    if {p.target for p in plans} - set(sc.enterprises()):
        raise ScenarioError("[[public_report]]: a target is not an enterprise of the scenario")
    out = []
    for p in plans:
        at = sc.start_ms + int(p.at_h * HOUR_MS)

        def e(check: str, **kw: Any) -> Expectation:
            return Expectation("public_report", p.target, pollutant=p.pollutant,  # noqa: B023
                               start_ms=at, other=check, why=p.key, **kw)  # noqa: B023

        out.append(e("public"))
        if p.beside:
            out += [e("beside", alert_kind=p.beside), e("alert_page", alert_kind=p.beside)]
        if p.not_beside:
            out.append(e("not_beside", alert_kind=p.not_beside))
        if p.group:
            out.append(e("grouped", count=p.group))
        if p.response:
            out.append(e("answered", reason=p.response))
        if p.finding:
            out.append(e("closed", reason=p.finding))
    return out


def logged_in(client: httpx.Client, key: str) -> None:
    """Open a web session on ``client`` with an API key (the login form and its token)."""
    form = client.get("/web/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if token is None:
        raise ApiError("the login page has no CSRF field")
    r = client.post("/web/login", data={"key": key, "csrf": token.group(1), "next": "/web/"})
    if r.status_code != 303:
        raise ApiError(f"login: {r.status_code} {r.text[:200]}")


def ok(r: httpx.Response, what: str) -> Any:
    if not r.is_success:
        raise ApiError(f"{what}: {r.status_code} {r.text[:300]}")
    return r.json() if r.headers.get("content-type", "").startswith("application/json") \
        else r.text


def send(client: httpx.Client, sc: Scenario, p: ReportPlan) -> tuple[str, str]:
    at = datetime.fromtimestamp((sc.start_ms + p.at_h * HOUR_MS) / 1000, sc.tz).isoformat()
    fields = {"enterprise": p.target, "time": at, "kind": p.kind, "description": p.description,
              **({"contact": p.contact} if p.contact else {})}
    body = ok(client.post(f"{API}/public/reports", data=fields, files={}), f"report {p.key}")
    return str(body["ticket"]), str(body["follow"]).split("token=", 1)[1]


def queue_rows(html: str) -> dict[str, list[str]]:
    """ticket -> the ids of the alerts beside it on the queue page."""
    rows = re.findall(r'<tr data-ticket="(R\w+)">(.*?)</tr>', html, re.S)
    return {t: re.findall(r'data-alert="([0-9a-f]+)"', body) for t, body in rows}


def walk(api_url: str, records: Records, sc: Scenario, plans: list[ReportPlan]
         ) -> dict[str, dict[str, Any]]:
    """Send the reports, work them as the inspector and the enterprise would, and read back
    what the checks need (module docstring)."""
    keys = KeyStore(records, cache_s=0)
    inspector, ikey = keys.create(Role.INSPECTOR)
    seen: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=api_url, timeout=60.0) as anyone, \
            httpx.Client(base_url=api_url, timeout=60.0) as web, \
            httpx.Client(base_url=api_url, timeout=60.0,
                         headers={"Authorization": f"Bearer {ikey}"}) as insp:
        sent = {p.key: send(anyone, sc, p) for p in sorted(plans, key=lambda p: p.at_h)}
        logged_in(web, ikey)
        rows = queue_rows(ok(web.get("/web/public-reports"), "the inspector's queue"))
        for p in plans:
            ticket, token = sent[p.key]
            view = ok(insp.get(f"{API}/public-reports/{ticket}"), f"report {ticket}")
            linked = ok(insp.get(view["alerts"]), "the report's alerts")["items"]
            beside = [{"id": a["id"], "kind": a["kind"], "pollutant": a.get("pollutant") or ""}
                      for a in linked]
            facts: dict[str, Any] = {
                "ticket": ticket, "beside_json": beside, "beside_page": rows.get(ticket, []),
                "group_size": view["group_size"],
                "public_fields": sorted(ok(anyone.get(f"{API}/public/reports/{ticket}"),
                                           "the public view")),
                "alert_pages": [a["id"] for a in beside
                                if f"/web/public-reports/{ticket}" in
                                ok(web.get(f"/web/alerts/{a['id']}"), "an alert's page")]}
            if p.response:
                _, ekey = keys.create(Role.ENTERPRISE, enterprise=p.target)
                ok(insp.post(f"{API}/enterprises/{p.target}/public-reports/{ticket}/responses",
                             json={"text": p.response}, headers={"Authorization":
                                                                 f"Bearer {ekey}"}),
                   "the enterprise's response")
                mine = ok(anyone.get(f"{API}/public/reports/{ticket}/private",
                                     params={"token": token}), "the reporter's view")
                facts["responses"] = [r["text"] for r in mine["responses"]]
            if p.finding:
                base = f"{API}/public-reports/{ticket}"
                ok(insp.post(f"{base}/assign", json={"assignee": inspector.key_id}), "assign")
                ok(insp.post(f"{base}/status", json={"status": "investigating"}), "investigate")
                ok(insp.post(f"{base}/status", json={"status": "closed", "finding": p.finding}),
                   "close")
                public = ok(anyone.get(f"{API}/public/reports/{ticket}"), "the public view")
                facts["status"], facts["finding"] = public["status"], public["finding"]
            seen[p.key] = facts
    return seen
