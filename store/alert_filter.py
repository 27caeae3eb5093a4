"""Which alerts to read: a typed filter that ``ResultStore.list_alerts`` turns into InfluxQL.

Every string goes through ``quote`` and every time is an integer, so no caller builds a
``WHERE`` of its own. The workflow status lives in the records database (``store.workflow``):
the filter carries it, and the store joins it by alert id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store.lines import quote

ALERT_KINDS = ("exceedance", "data_gap", "over_range", "suspicious_flatline", "invalid_data",
               "broker_drops", "unexplained_high_o2", "invalid_hour_over_limit",
               "pinned_under_limit", "o2_inconsistent", "near_constant",
               "flags_follow_readings", "manual_values", "device_mismatch",
               "corrected_mismatch", "copied_day", "analyser_change",
               "o2_below_norm", "o2_against_flow",
               "rate_limit", "permit_80", "permit_100", "permit_projection")  # alerts.permitalerts
ALERT_STATUSES = ("open", "acknowledged", "resolved")
PERIODS = ("", "day")  # "" hour-based, "day" exceeded days
_HEX_ID = re.compile(r"[0-9a-f]{1,64}")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Alerts matching every field that is set (None or empty: any)."""

    enterprises: tuple[str, ...] | None = None  # None: every enterprise; (): none at all
    outlet: str | None = None
    kinds: tuple[str, ...] = ()
    period: str | None = None  # one of PERIODS
    status: str | None = None  # the workflow's (records database)
    active: bool | None = None
    live_since_ms: int | None = None  # still active, or ended (end_ms) at or after this
    since_ms: int | None = None  # episode start at or after
    until_ms: int | None = None  # episode start before
    ids: tuple[str, ...] | None = None  # only these alerts

    def __post_init__(self) -> None:
        for k in self.kinds:
            if k not in ALERT_KINDS:
                raise ValueError(f"not an alert kind: {k!r}")
        if self.status is not None and self.status not in ALERT_STATUSES:
            raise ValueError(f"not an alert status: {self.status!r}")
        if self.period is not None and self.period not in PERIODS:
            raise ValueError(f"not an alert period: {self.period!r}")

    def matches_nothing(self) -> bool:
        return self.enterprises == () or self.ids == ()

    def influxql(self) -> str:
        """The episode conditions (status left out), joined by AND; "" for none."""
        conds: list[str] = []
        if self.enterprises is not None:
            conds.append(_any_of("enterprise", self.enterprises))
        if self.outlet is not None:
            conds.append(f'"outlet" = {quote(self.outlet)}')
        if self.kinds:
            conds.append(_any_of("kind", self.kinds))
        if self.period:
            conds.append(f'"period" = {quote(self.period)}')
        if self.active is not None:
            conds.append(f'"active" = {"true" if self.active else "false"}')
        if self.live_since_ms is not None:
            conds.append(f'("active" = true OR "end_ms" >= {int(self.live_since_ms)})')
        if self.since_ms is not None:
            conds.append(f"time >= {int(self.since_ms)}ms")
        if self.until_ms is not None:
            conds.append(f"time < {int(self.until_ms)}ms")
        if self.ids is not None:
            conds.append(_ids(self.ids))
        return " AND ".join(conds)


def _any_of(name: str, values: tuple[str, ...]) -> str:
    vals = sorted(set(values))
    if not vals:
        raise ValueError(f"no {name} to match")
    if len(vals) == 1:
        return f'"{name}" = {quote(vals[0])}'
    return "(" + " OR ".join(f'"{name}" = {quote(v)}' for v in vals) + ")"


def _ids(ids: tuple[str, ...]) -> str:
    if ids and all(_HEX_ID.fullmatch(i) for i in ids):
        # One regex: InfluxDB 1.x evaluates a long OR of field conditions very slowly
        # (measured: 100 ORed ids 2.6 s, a regex of 500 ids 0.06 s).
        return '"id" =~ /^(' + "|".join(sorted(set(ids))) + ")$/"
    return _any_of("id", ids)


