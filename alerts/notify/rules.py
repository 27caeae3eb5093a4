"""Which notifications an alert calls for, and when they are due (pure: no I/O).

- Reach: an enterprise contact hears of its enterprise's alerts; an inspector of the alerts of
  the enterprises in its regions (all when it names none); each only of its kinds and from its
  ``min_severity`` up.
- Events: ``open`` once per episode to the recipients of level 1; ``escalate`` to those of
  level n once the alert has stayed open (not acknowledged or resolved) for (n - 1) x the
  escalation time since it opened; ``close`` once the episode has ended, to every recipient
  that heard of its opening or escalation. Never one per hour: the dedup key (alert, event,
  recipient) makes a second decision of the same a no-op. Withdrawn episodes (re-judged away,
  0 hours) call for nothing new.
- When: now; at the end of the recipient's quiet hours (local time) unless the severity is at
  least the bypass; a low-severity alert of a recipient with a digest at the next digest hour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from store.notifications import SEVERITIES, Decision, Recipient
from store.results import Alert

MINUTE_MS = 60_000
DAY_MIN = 24 * 60


@dataclass(frozen=True)
class Timing:
    tz: str
    escalate_after_ms: int
    digest_hour: int
    quiet_bypass: str = "critical"


def rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def reaches(r: Recipient, a: Alert, region_of: Callable[[str], str | None]) -> bool:
    if r.kinds and a.kind not in r.kinds:
        return False
    if rank(a.severity) < rank(r.min_severity):
        return False
    if r.role == "enterprise":
        return a.enterprise == r.enterprise
    return not r.regions or region_of(a.enterprise) in r.regions


def quiet_window(quiet: str) -> tuple[int, int] | None:
    """(start, end) minutes of the local day of "HH:MM-HH:MM", None when empty."""
    if not quiet:
        return None
    start, end = quiet.split("-")
    sh, sm = start.split(":")
    eh, em = end.split(":")
    return int(sh) * 60 + int(sm), int(eh) * 60 + int(em)


def _local(now_ms: int, tz: str) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(ZoneInfo(tz))


def quiet_until(quiet: str, now_ms: int, tz: str) -> int | None:
    """The end of the quiet hours ``now_ms`` is in (epoch ms), None when not in them."""
    window = quiet_window(quiet)
    if window is None or window[0] == window[1]:
        return None
    local = _local(now_ms, tz)
    minute = local.hour * 60 + local.minute
    start, end = window
    inside = start <= minute < end if start < end else minute >= start or minute < end
    if not inside:
        return None
    ahead = (end - minute) % DAY_MIN
    midnightish = local.replace(second=0, microsecond=0) + timedelta(minutes=ahead)
    return int(midnightish.timestamp() * 1000)


def next_digest(now_ms: int, tz: str, hour: int) -> int:
    """The next local ``hour``:00 at or after ``now_ms``."""
    local = _local(now_ms, tz)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at < local:
        at = (at + timedelta(days=1)).replace(hour=hour)
    return int(at.timestamp() * 1000)


def due_for(r: Recipient, a: Alert, now_ms: int, t: Timing) -> tuple[int, bool]:
    """(when it is due, whether it goes in the digest)."""
    if r.digest and rank(a.severity) == 0:
        return next_digest(now_ms, t.tz, t.digest_hour), True
    if rank(a.severity) < rank(t.quiet_bypass):
        until = quiet_until(r.quiet, now_ms, t.tz)
        if until is not None:
            return until, False
    return now_ms, False


def payload(a: Alert) -> str:
    return json.dumps({"id": a.id, "kind": a.kind, "enterprise": a.enterprise,
                       "outlet": a.outlet, "pollutant": a.pollutant, "severity": a.severity,
                       "start_ms": a.start_ms, "end_ms": a.end_ms, "active": a.active,
                       "hours": a.hours, "peak_multiple": a.peak_multiple,
                       "status": a.status, "detail": a.detail}, ensure_ascii=False)


def decisions_for(a: Alert, recipients: Iterable[Recipient],
                  region_of: Callable[[str], str | None], now_ms: int, t: Timing,
                  known: set[str]) -> list[Decision]:
    """The notifications ``a`` calls for now that are not in ``known`` (dedup keys)."""
    if not a.active and a.hours == 0:
        return []  # withdrawn
    opened_ms = a.opened_ms or a.start_ms
    out: list[Decision] = []
    heard: list[Recipient] = []

    def add(event: str, r: Recipient) -> None:
        due_ms, digest = due_for(r, a, now_ms, t)
        d = Decision(a.id, event, r.recipient_id, r.channel, due_ms, payload(a), digest)
        if d.dedup not in known:
            out.append(d)

    for r in recipients:
        if not reaches(r, a, region_of):
            continue
        if r.level <= 1:
            add("open", r)
            heard.append(r)
        elif (f"{a.id}|escalate|{r.recipient_id}" in known
              or (a.status == "open" and a.active
                  and now_ms - opened_ms >= (r.level - 1) * t.escalate_after_ms)):
            add("escalate", r)
            heard.append(r)
    if not a.active:
        for r in heard:
            add("close", r)
    return out
