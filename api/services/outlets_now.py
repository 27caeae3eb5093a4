"""An enterprise's outlets now, as its page and the inspector see them: the time of each
outlet's last minute reading (within the last day) and the alerts going on at it."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.params import TimeRange
from api.services.queries import last_reading_query
from api.state import AppState
from core.registry import Enterprise
from store.results import Alert, AlertFilter

LOOK_BACK_MS = 24 * 3_600_000
SILENT_AFTER_MS = 15 * 60_000  # no reading for this long: the outlet is shown as silent


@dataclass(frozen=True, slots=True)
class OutletNow:
    outlet: str
    last_ms: int | None  # the last minute reading of the last day
    alerts: list[Alert] = field(default_factory=list)  # going on now

    def state(self, now_ms: int) -> str:
        """``alerting``, ``silent`` or ``ok``."""
        if self.alerts:
            return "alerting"
        if self.last_ms is None or now_ms - self.last_ms > SILENT_AFTER_MS:
            return "silent"
        return "ok"


def outlets_now(state: AppState, ent: Enterprise) -> list[OutletNow]:
    now = state.now_ms()
    last: dict[str, int] = {}
    for s in state.store.query(last_reading_query(ent.id, TimeRange(now - LOOK_BACK_MS,
                                                                    now + 60_000))):
        for row in s.rows():
            t = row.get("time")
            if isinstance(t, int):
                last[s.tags.get("outlet", "")] = t
    going = state.results.list_alerts(AlertFilter(enterprises=(ent.id,), active=True), 500)
    return [OutletNow(o, last.get(o), [a for a in going if a.outlet == o])
            for o in sorted(ent.outlets)]
