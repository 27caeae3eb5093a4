"""The reading side of one destination: what is new in the store goes into its queue.

Each command (or webhook kind) is a feed read by periods:

- minutes (2051) and real-time values (2011): from a watermark (the queue's ``state``) up to a
  few seconds ago, and again from the start of the previous clock hour, comparing each minute
  with the digest of what was queued for it (a value that arrived late within the hour, or a
  minute healed from a data logger, is queued again; an unchanged one is not). Older hours are
  covered by their ``dirty`` marks (``store.late``): a receipt not seen yet queues the whole
  hour again. The marks are read before the minutes, so a receipt recorded as seen was read.
- judged hours (2061, webhook ``hour``): the last completed hours again by digest (the
  scheduler re-judges the last 3), older hours once the scheduler settled their dirty mark.
- judged days (2031): the last 8 days by digest (re-judged days are re-queued).
- alerts (webhook): those live in the last 8 days, by digest of their state: whether the
  episode is active, its end and its workflow status. So an alert goes when it opens, when it
  closes and when its workflow moves (acknowledged, resolved), never because the scheduler
  extended the open episode by an hour (its ``updated_ms``, ``hours`` and peak change then).

Every batch is queued with its progress in one transaction (``forward.queue``): after a kill
the forwarder reads again from what it had recorded (at least once, never a skip).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import tzinfo
from typing import Final

from core.destinations import Destination
from core.registry import Registry
from forward import encoding, source
from forward.encoding import Credentials
from forward.queue import Item, Progress, Queue
from forward.source import Record
from store.alert_filter import AlertFilter
from store.influx import InfluxStore
from store.results import Alert, ResultStore
from store.workflow import AlertWorkflows

log = logging.getLogger(__name__)

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
DAY_MS: Final = 86_400_000
HOURS_RESCAN: Final = 6  # judged hours read again (the scheduler re-judges the last 3)
DAYS_RESCAN: Final = 8  # judged days read again (the staleness horizon, 168 h, and a day)
Reader = Callable[[InfluxStore, int, int], dict[tuple[str, int], Record]]
Probe = Callable[[InfluxStore, int, int], int | None]


@dataclass(frozen=True)
class FeedSettings:
    settle_s: float  # data younger than this is not read yet
    chunk_min: int  # minutes read per query
    late_h: int  # how far back dirty marks are read
    backfill_h: float  # a new destination starts this far back


class Feeds:
    """Reads every feed of ``dest`` and queues what is new."""

    def __init__(self, dest: Destination, registry: Registry, creds: dict[str, Credentials],
                 store: InfluxStore, queue: Queue, settings: FeedSettings, tz: tzinfo,
                 workflows: AlertWorkflows | None = None) -> None:
        self.dest, self.registry, self.creds = dest, registry, creds
        self.store, self.queue, self.settings, self.tz = store, queue, settings, tz
        self.results = ResultStore(store, workflows)  # workflows: the alerts' status
        self.unencodable = 0
        self.on_queued: Callable[[], None] = lambda: None  # after each batch that queued some

    def origin(self, now_ms: int) -> int:
        """Where this destination's data starts (set at its first pass, then kept)."""
        got = self.queue.state("origin_ms")
        if got is None:
            got = int(now_ms - self.settings.backfill_h * HOUR_MS)
            got -= got % MINUTE_MS
            self.queue.put([], Progress({"origin_ms": got}, [], []))
        return got

    def poll(self, now_ms: int) -> int:
        """One pass over every feed; returns how many items were queued."""
        origin = self.origin(now_ms)
        end = int(now_ms - self.settings.settle_s * 1000)
        end -= end % 1000
        marks = source.dirty_hours(self.store, max(origin, end - self.settings.late_h * HOUR_MS),
                                   end)
        queued = 0
        for kind in self.dest.commands:
            if kind in (source.MINUTE_CN, source.REALTIME_CN):
                queued += self._minutes(kind, origin, end, marks)
            elif kind in (source.HOUR_CN, "hour"):
                queued += self._hours(kind, origin, end, marks)
            elif kind == source.DAY_CN:
                floor = end - end % HOUR_MS
                queued += self._window(kind, self._days, max(origin, floor - DAYS_RESCAN *
                                                             DAY_MS), floor)
            elif kind == "alert":
                queued += self._alerts(max(origin, end - DAYS_RESCAN * DAY_MS))
        return queued

    # Feeds ------------------------------------------------------------------------------------
    def _minutes(self, kind: str, origin: int, end: int, marks: dict[tuple[str, int], int]
                 ) -> int:
        measurement = "reading" if kind == source.MINUTE_CN else "realtime"

        def read(store: InfluxStore, a: int, b: int) -> dict[tuple[str, int], Record]:
            return source.readings(store, a, b, measurement)

        def probe(store: InfluxStore, a: int, b: int) -> int | None:
            return source.first_at(store, a, b, measurement)

        rescan = max(origin, end - end % HOUR_MS - HOUR_MS)
        start = min(self.queue.state(f"{kind}.until_ms") or origin, rescan)
        queued = self._window(kind, read, start, end, watermark=True, probe=probe)
        # Marks (read before the window) of hours the window read whole are covered by it.
        covered = start - start % HOUR_MS + (HOUR_MS if start % HOUR_MS else 0)
        return queued + self._late(kind, read, marks, covered, settled_only=False)

    def _hours(self, kind: str, origin: int, end: int, marks: dict[tuple[str, int], int]
               ) -> int:
        floor = end - end % HOUR_MS
        rescan = max(origin, floor - HOURS_RESCAN * HOUR_MS)
        start = min(self.queue.state(f"{kind}.until_ms") or origin, rescan)
        queued = self._window(kind, source.hours, start, floor, watermark=True)
        covered = start - start % HOUR_MS + (HOUR_MS if start % HOUR_MS else 0)
        return queued + self._late(kind, source.hours, marks, covered, settled_only=True)

    def _days(self, store: InfluxStore, a: int, b: int) -> dict[tuple[str, int], Record]:
        return source.days(store, a, b, self.tz)

    def _window(self, kind: str, read: Reader, start: int, end: int,
                watermark: bool = False, probe: Probe | None = None) -> int:
        """Queue what changed in ``[start, end)``, chunk by chunk, each with its progress.

        ``probe`` (the first point's time in a range) lets an empty chunk jump to where the
        data goes on; a watermark moved over empty chunks is recorded with the next batch that
        queues something, or at the end (it is only ever behind what was queued)."""
        queued = 0
        step = self.settings.chunk_min * MINUTE_MS
        mark = f"{kind}.until_ms"
        pending: dict[str, int] = {}
        a, empty = start, probe is not None
        while a < end:
            if empty and probe is not None:
                first = probe(self.store, a, end)
                if first is None:
                    a = end
                    pending = {mark: end} if watermark else {}
                    break
                a = max(a, first - first % MINUTE_MS)
            b = min(end, a + step)
            records = read(self.store, a, b)
            seen = self.queue.digests(kind, a, b) if records else {}
            items, digests = [], []
            for (outlet, at), rec in sorted(records.items(), key=lambda kv: kv[0][1]):
                digest = rec.digest()
                if seen.get((outlet, at)) == digest:
                    continue
                item = self._item(kind, rec)
                if item is not None:
                    items.append(item)
                    digests.append((outlet, kind, at, digest))
            pending = {mark: b} if watermark else {}
            empty = not records
            if items or digests:
                n = self.queue.put(items, Progress(self._forward_only(pending), digests, []))
                pending = {}
                if n:
                    self.on_queued()
                queued += n
            a = b
        if pending:
            self.queue.put([], Progress(self._forward_only(pending), [], []))
        self.queue.prune_digests(kind, start)
        return queued

    def _forward_only(self, state: dict[str, int]) -> dict[str, int]:
        """``state`` without the watermarks it would move back (a rescan reads behind them)."""
        return {k: v for k, v in state.items() if (self.queue.state(k) or 0) <= v}

    def _late(self, kind: str, read: Reader, marks: dict[tuple[str, int], int],
              covered: int, settled_only: bool) -> int:
        """Hours before ``covered`` (where this pass's window read whole hours) whose late
        receipt was not queued yet."""
        seen = self.queue.late_seen(kind)
        judged = source.judged_hours(self.store, min(h for _, h in marks), covered + 1
                                     ) if settled_only and marks else {}
        queued = 0
        for (outlet, hour), received in sorted(marks.items(), key=lambda kv: kv[0][1]):
            if seen.get((outlet, hour)) == received:
                continue
            if hour >= covered:  # this pass read it: only remember the receipt
                self.queue.put([], Progress({}, [], [(outlet, kind, hour, received)]))
                continue
            if settled_only and not judged.get((outlet, hour)):
                continue  # the scheduler has not judged it again yet
            records = read(self.store, hour, hour + HOUR_MS)
            items = [i for (o, _), rec in sorted(records.items(), key=lambda kv: kv[0][1])
                     if o == outlet and (i := self._item(kind, rec)) is not None]
            queued += self.queue.put(items, Progress({}, [], [(outlet, kind, hour, received)]))
        return queued

    def _alerts(self, since_ms: int) -> int:
        alerts = self.results.list_alerts(AlertFilter(live_since_ms=since_ms), limit=100_000)
        seen = self.queue.digests("alert", 0, 1 << 62)
        items, digests = [], []
        for a in sorted(alerts, key=lambda a: (a.start_ms, a.updated_ms)):
            if not self.dest.takes(a.enterprise):
                continue
            body = {k: v for k, v in asdict(a).items() if k != "notes"}
            digest = Record(a.id, a.start_ms, extra=alert_state(a)).digest()
            if seen.get((a.id, a.start_ms)) == digest:
                continue
            items.append(Item(f"{a.enterprise}/{a.outlet}", "alert", a.updated_ms,
                              encoding.alert_body(body)))
            digests.append((a.id, "alert", a.start_ms, digest))
        return self.queue.put(items, Progress({}, digests, []))

    def _item(self, kind: str, rec: Record) -> Item | None:
        if kind == "hour":
            if not self.dest.takes(rec.outlet.split("/", 1)[0]):
                return None
            return Item(rec.outlet, kind, rec.at_ms, encoding.hour_body(rec))
        cred = self.creds.get(rec.outlet)
        if cred is None:
            return None  # not an outlet of this destination (or of the registry)
        try:
            body = encoding.frame(kind, rec, cred, self.tz)
        except ValueError as exc:
            self.unencodable += 1
            log.error("%s %s at %d cannot be encoded for %s: %s", kind, rec.outlet, rec.at_ms,
                      self.dest.id, exc)
            return None
        return Item(rec.outlet, kind, rec.at_ms, body)


def alert_state(a: Alert) -> dict[str, object]:
    """What makes an alert worth sending again: open or closed (and when), its workflow."""
    return {"active": a.active, "end_ms": a.end_ms, "status": a.status}
