"""Reassemble split HJ 212 uploads (Flag bit D, PNUM/PNO; hj212.md §4.1, §4.2, §7).

Grouping key: ``(MN, CN, DataTime, PNUM)``. Not the QN: every part carries its own QN
(Appendix C.47-C.50 number them ...534, ...535), and a QN prefix breaks as soon as the parts
straddle a second, which they do whenever the device waits for a 9014 reply between parts
(10 s time-out, 3 retries, §7). DataTime names the data set: a data upload's parts each carry
it (real split captures do). PNUM is in the key so that the same data split differently (after
a device restart) never mixes. Parts without DataTime (non-data commands) group by MN, CN and
PNUM alone.

Bounds, so that a device that never finishes cannot eat memory: a group is dropped
``max_age_s`` after its first part arrived; at most ``max_pending`` groups and ``max_parts``
stored parts in all, the oldest group going first. ``dropped`` counts the groups lost.
A repeated part (a retry after a lost 9014) replaces the earlier copy; a part repeated after
its group completed starts a group that never completes and ages out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from hj212.codec import Packet

GroupKey = tuple[str, str, datetime | None, int]


@dataclass(slots=True)
class _Group:
    first_seen_s: float
    parts: dict[int, Packet] = field(default_factory=dict)


class Reassembler:
    """Collects the parts of split uploads; not thread-safe (one per connection or worker)."""

    def __init__(
        self, max_pending: int = 1024, max_age_s: float = 600.0, max_parts: int = 10_000
    ) -> None:
        if max_pending < 1 or max_parts < 1 or max_age_s <= 0:
            raise ValueError("bounds must be positive")
        self.max_pending = max_pending
        self.max_age_s = max_age_s
        self.max_parts = max_parts
        self.dropped = 0
        self._groups: dict[GroupKey, _Group] = {}
        self._stored = 0

    @property
    def pending(self) -> int:
        """Groups waiting for more parts."""
        return len(self._groups)

    def add(self, packet: Packet, now_s: float) -> Packet | None:
        """Take one packet; return the whole upload once complete, else None.

        An unsplit packet comes straight back. ``now_s`` is a monotonic clock in seconds.
        """
        if packet.pnum is None or packet.pno is None:
            return packet
        self.expire(now_s)
        key = (packet.mn, packet.cn, packet.data_time, packet.pnum)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(now_s)
        if packet.pno not in group.parts:
            self._stored += 1
        group.parts[packet.pno] = packet
        if len(group.parts) == packet.pnum:
            self._discard(key)
            return merge(group.parts)
        self._enforce_bounds(keep=key)
        return None

    def expire(self, now_s: float) -> None:
        """Drop groups whose first part is older than ``max_age_s``."""
        deadline = now_s - self.max_age_s
        while self._groups:
            key, group = next(iter(self._groups.items()))
            if group.first_seen_s >= deadline:
                break
            self._discard(key)
            self.dropped += 1

    def _enforce_bounds(self, keep: GroupKey) -> None:
        """Drop the oldest groups other than ``keep``; ``keep`` too if it alone is too big."""
        while len(self._groups) > self.max_pending or self._stored > self.max_parts:
            victim = next((key for key in self._groups if key != keep), keep)
            self._discard(victim)
            self.dropped += 1

    def _discard(self, key: GroupKey) -> None:
        self._stored -= len(self._groups.pop(key).parts)


def merge(parts: dict[int, Packet]) -> Packet:
    """One packet from all parts (PNO 1..PNUM): header of part 1, CP items in PNO order."""
    ordered = [parts[number] for number in sorted(parts)]
    cp: list[tuple[str, str]] = []
    values: dict[str, float] = {}
    flags: dict[str, str] = {}
    groups: dict[str, dict[str, float]] = {}
    unknown: set[str] = set()
    for part in ordered:
        cp.extend(part.cp)
        values.update(part.values)
        flags.update(part.flags)
        for name, members in part.groups.items():
            groups.setdefault(name, {}).update(members)
        unknown.update(part.unknown_codes)
    return replace(
        ordered[0],
        pno=None,
        cp=tuple(cp),
        values=values,
        flags=flags,
        groups=groups,
        unknown_codes=sorted(unknown),
    )
