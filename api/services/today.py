"""What needs an inspector today (the home page): exceedances going on now, the alerts that
started in the last 24 hours by severity, silent outlets (data gaps going on), the worst
enterprises of the last 7 days; each number beside the one of the period before, for a trend.

Read only: alerts through the typed filter (``store.alert_filter``), rankings through
``api.services.standings``, both narrowed to the caller's reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.access import Principal
from api.params import TimeRange
from api.services.rankings import Ranked
from api.services.standings import ranked
from api.state import AppState
from store.results import Alert, AlertFilter

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
SEVERITIES = ("critical", "high", "medium", "low")
ALERTS_READ = 2000  # alerts read per question (the home page counts them)
WORST_SHOWN = 5
SILENT_KINDS = ("data_gap",)


@dataclass(frozen=True, slots=True)
class Count:
    """A number of this period and of the one before (for a trend arrow)."""

    now: int
    before: int

    @property
    def trend(self) -> str:
        """``up``, ``down`` or ``same``."""
        return "up" if self.now > self.before else "down" if self.now < self.before else "same"


@dataclass(frozen=True, slots=True)
class Worst:
    """An enterprise among the worst of the week: its row, and its row of the week before."""

    row: Ranked
    before: Ranked | None

    @property
    def exceeded(self) -> Count:
        t = self.row.totals
        b = self.before.totals if self.before else None
        return Count(t.exceeded_hours + t.exceeded_days,
                     b.exceeded_hours + b.exceeded_days if b else 0)


@dataclass(frozen=True, slots=True)
class Today:
    now_ms: int
    since_ms: int  # start of "new": 24 hours ago
    ongoing: list[Alert]  # exceedances going on now, newest first
    ongoing_count: Count  # now vs 24 hours ago
    silent: list[Alert]  # data gaps going on now
    silent_count: Count
    new_by_severity: dict[str, Count]  # last 24 hours vs the 24 before
    new_total: Count
    week: TimeRange  # the last 7 local days (today included)
    worst: list[Worst] = field(default_factory=list)


def reach(user: Principal, state: AppState) -> tuple[str, ...] | None:
    """The enterprises the caller sees (None: every one)."""
    if user.sees_everything():
        return None
    return tuple(e.id for e in user.visible(state.registry))


def live_at(state: AppState, ents: tuple[str, ...] | None, kinds: tuple[str, ...],
            at_ms: int) -> list[Alert]:
    """Alerts of ``kinds`` going on at ``at_ms``: started before it, still active or ended at
    or after it."""
    f = AlertFilter(enterprises=ents, kinds=kinds, live_since_ms=at_ms, until_ms=at_ms + 1)
    return [a for a in state.results.list_alerts(f, ALERTS_READ)
            if a.active or (a.end_ms is not None and a.end_ms >= at_ms)]


def active(state: AppState, ents: tuple[str, ...] | None, kinds: tuple[str, ...]
           ) -> list[Alert]:
    f = AlertFilter(enterprises=ents, kinds=kinds, active=True)
    return state.results.list_alerts(f, ALERTS_READ)


def started(state: AppState, ents: tuple[str, ...] | None, start_ms: int, end_ms: int
            ) -> list[Alert]:
    f = AlertFilter(enterprises=ents, since_ms=start_ms, until_ms=end_ms)
    return state.results.list_alerts(f, ALERTS_READ)


def by_severity(alerts: list[Alert]) -> dict[str, int]:
    out = dict.fromkeys(SEVERITIES, 0)
    for a in alerts:
        if a.severity in out:
            out[a.severity] += 1
    return out


def worst_of(rows: list[Ranked], before: list[Ranked], n: int = WORST_SHOWN) -> list[Worst]:
    """The ``n`` enterprises with exceedances ranked lowest (the ranking's order reversed),
    each with its row of the period before."""
    earlier = {r.enterprise: r for r in before}
    bad = [r for r in rows if r.totals.exceeded_hours + r.totals.exceeded_days > 0]
    bad.sort(key=lambda r: (r.rank, r.enterprise), reverse=True)
    return [Worst(r, earlier.get(r.enterprise)) for r in bad[:n]]


def today(state: AppState, user: Principal, week: TimeRange) -> Today:
    """The home page's numbers at the application's now; ``week`` the last 7 local days."""
    now = state.now_ms()
    ents = reach(user, state)
    since = now - DAY_MS
    ongoing = active(state, ents, ("exceedance",))
    silent = active(state, ents, SILENT_KINDS)
    new_now = by_severity(started(state, ents, since, now))
    new_before = by_severity(started(state, ents, since - DAY_MS, since))
    length = week.end_ms - week.start_ms
    _, _, rows = ranked(state, user, week)
    _, _, earlier = ranked(state, user, TimeRange(week.start_ms - length, week.start_ms))
    return Today(
        now_ms=now, since_ms=since, ongoing=ongoing,
        ongoing_count=Count(len(ongoing), len(live_at(state, ents, ("exceedance",), since))),
        silent=silent,
        silent_count=Count(len(silent), len(live_at(state, ents, SILENT_KINDS, since))),
        new_by_severity={s: Count(new_now[s], new_before[s]) for s in SEVERITIES},
        new_total=Count(sum(new_now.values()), sum(new_before.values())),
        week=week, worst=worst_of(rows, earlier))
