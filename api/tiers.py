"""Data tiers: who may see which fields, in one table (issue 14; README "Data tiers").

- ``public``: no login; the routes under ``/api/v1/public`` (and the ``/public/`` pages).
  Only the fields of ``PUBLIC_FIELDS`` ever leave in a public answer: every public route passes
  its answer through ``restrict`` (an allow-list, so a field added to a model later stays out
  until it is written here).
- ``enterprise``: its own data (minute data, flags, rejections, marks, alerts and its
  explanations); never device passwords or key ids.
- ``inspector``: all in reach, with the notes; never device passwords.
- ``admin``: keys and the registry (through the command line, ``api.cli``).

``NEVER`` lists, per tier, the field names that must not appear anywhere in an answer of that
tier: device numbers, passwords, key ids, inspector notes and the enterprise's explanations
never reach the public tier. ``tests/test_public_tiers.py`` walks every route of the OpenAPI
document with each tier and checks the answers against this table; the README's table is
``markdown_table()`` (a test checks they agree).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar, cast

from api.access import Principal
from api.keys import Role


class Tier(StrEnum):
    PUBLIC = "public"
    ENTERPRISE = "enterprise"
    INSPECTOR = "inspector"
    ADMIN = "admin"


# Every field name a public answer may hold, at any depth.
PUBLIC_FIELDS = frozenset({
    # enterprises and outlets
    "id", "name", "region", "industry", "outlets", "medium", "lat", "lon", "status",
    "status_hour",
    # judged hours and days, published after api_public_delay_s
    "enterprise", "outlet", "pollutant", "time", "valid", "mean_ref", "limit", "limit_min",
    "exceeded", "multiple", "review", "day",
    # alerts: kind, time and status only
    "kind", "start", "end", "active",
    # rankings
    "rank", "compliance_rate", "exceedance_hours", "exceedance_days", "judged_hours",
    "judged_days", "effective_transmission_rate",
    # amounts of the year against the permit
    "year", "tonnes", "permit_t_a", "permit_share",
    # pages of answers
    "items", "total", "limit_rows", "offset", "count", "published_until", "reviewed",
    # reports from the public: ticket, kind, event hour, status, finding, size of its group
    "ticket", "hour", "finding", "group_size", "follow",
})

# The reporter's own view of a report (``/api/v1/public/reports/{ticket}/private`` with the
# follow token): the public fields and what the reporter sent, the status history (times and
# statuses) and the enterprise's responses; never contact, notes or who did what.
REPORTER_FIELDS = PUBLIC_FIELDS | {"description", "history", "responses", "photo", "text",
                                   "submitted"}

# Operational routes outside the tiers: health checks and metrics (no key, no enterprise
# data; they never carry SECRETS either).
OPERATIONAL_PREFIXES = ("/api/v1/health", "/api/v1/metrics")

# Fields that must never appear in an answer of a tier, at any depth.
SECRETS = frozenset({"pw", "pw_sha256", "password", "sha256", "api_key", "secret"})
NEVER: dict[Tier, frozenset[str]] = {
    Tier.PUBLIC: SECRETS | {"mn", "device", "devices", "key_id", "notes", "note", "by",
                            "explanation", "explained", "detail", "reason", "regions",
                            "declared_by", "raw", "payload", "topic", "contact",
                            "description", "photo", "responses", "token", "assignee"},
    Tier.ENTERPRISE: SECRETS | {"pw", "key_id"},
    Tier.INSPECTOR: SECRETS,
    Tier.ADMIN: SECRETS,
}
REPORTER_NEVER = SECRETS | {"contact", "notes", "note", "by", "key_id", "assignee", "region",
                            "token"}

WHAT: dict[Tier, str] = {
    Tier.PUBLIC: "enterprise name, region, industry, outlets, status now; judged hourly means "
                 "and verdicts published after `api_public_delay_s` (default 2 h), labelled "
                 "\"not yet reviewed\" until an inspector confirms the day; daily verdicts, "
                 "exceedances, alerts' kind, time and status; rankings; the year's amounts "
                 "against the permit; public reports' ticket, kind, event hour, status, "
                 "finding and group size (a place rounded to 0.01°); the reporter, with the "
                 "follow token, also their own description, status history and the "
                 "enterprise's responses",
    Tier.ENTERPRISE: "its own minute data, flags, rejections, marks, alerts and explanations; "
                     "notes' authors other than itself by role only (no inspector's key id)",
    Tier.INSPECTOR: "every enterprise in reach (all, or its regions), with notes; the alert "
                    "workflow; day reviews",
    Tier.ADMIN: "everything, keys and the registry",
}


def tier_of(user: Principal | None) -> Tier:
    if user is None:
        return Tier.PUBLIC
    return {Role.ADMIN: Tier.ADMIN, Role.INSPECTOR: Tier.INSPECTOR,
            Role.ENTERPRISE: Tier.ENTERPRISE}[user.role]


T = TypeVar("T")


def restrict(value: T, allowed: frozenset[str] = PUBLIC_FIELDS,
             never: frozenset[str] = NEVER[Tier.PUBLIC]) -> T:
    """``value`` with every mapping narrowed to ``allowed`` minus ``never`` (recursively):
    by default the public tier's fields."""
    return cast(T, _restrict(value, allowed - never))


def _restrict(value: Any, keep: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _restrict(v, keep) for k, v in value.items() if k in keep}
    if isinstance(value, list):
        return [_restrict(v, keep) for v in value]
    return value


def field_names(value: Any) -> set[str]:
    """Every mapping key in ``value``, at any depth."""
    if isinstance(value, dict):
        out = set(value)
        for v in value.values():
            out |= field_names(v)
        return out
    if isinstance(value, list):
        return set().union(*(field_names(v) for v in value)) if value else set()
    return set()


def markdown_table() -> str:
    """The README's table of tiers."""
    lines = ["| tier | sees | never sees |", "|---|---|---|"]
    for t in Tier:
        never = ", ".join(f"`{f}`" for f in sorted(NEVER[t]))
        lines.append(f"| `{t.value}` | {WHAT[t]} | {never} |")
    return "\n".join(lines)
