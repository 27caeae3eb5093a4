"""Which topics one ingester subscribes to: a deterministic partition of the registry.

Mosquitto 2.0.11 does not restore shared subscriptions (``$share/...``) from its persistence
file: after a broker restart, messages published before the ingesters re-subscribe are
acknowledged to the device and dropped (measured by ``python -m bench.broker_probe``: 200 of
200 lost after a clean restart, where a plain persistent subscription lost none). So ingesters
do not share one subscription; each holds a plain subscription in its own persistent session,
and the registry's enterprises are divided among them:

- ``EMS_INGEST_PARTITION="k/N"``: ingester k of N (1-based) takes every enterprise whose id
  hashes (CRC-32) to k - 1 modulo N: ``emissions/{enterprise}/#`` and ``hj212/{MN}`` of each of
  its devices. The hash of an id does not change when other enterprises are added, so adding one
  moves no existing enterprise to another ingester;
- ``"1/1"`` (one ingester): ``emissions/#`` and ``hj212/#``, so that messages on topics of no
  registered enterprise or device are rejected with a reason as before. With N > 1 such topics
  reach no ingester; the broker's ACL lets devices publish only on their own registered topics
  (``mqtt.access``), so only a service user could publish there.

A registry change (an enterprise or device added) takes effect when the ingesters restart.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from core.registry import Registry

JSON_ROOT = "emissions"
HJ212_ROOT = "hj212"


class Partition(NamedTuple):
    k: int  # 1-based
    n: int

    @classmethod
    def parse(cls, text: str) -> Partition:
        head, sep, tail = text.partition("/")
        try:
            k, n = int(head), int(tail)
        except ValueError:
            raise ValueError(f"partition {text!r} is not 'k/N'") from None
        if not sep or n < 1 or not 1 <= k <= n:
            raise ValueError(f"partition {text!r}: need 1 <= k <= N")
        return cls(k, n)

    def owns(self, enterprise_id: str) -> bool:
        return zlib.crc32(enterprise_id.encode("utf-8")) % self.n == self.k - 1


def partition_topics(registry: Registry, roots: list[str], partition: Partition) -> list[str]:
    """The topic filters of ``partition`` for the parsers' topic roots, in a stable order."""
    if partition.n == 1:
        return [f"{root}/#" for root in roots]
    mine = sorted(e for e in registry.enterprises if partition.owns(e))
    topics: list[str] = []
    for root in roots:
        if root == HJ212_ROOT:
            topics += [f"{root}/{mn}" for mn, d in sorted(registry.devices.items())
                       if partition.owns(d.enterprise_id)]
        else:
            topics += [f"{root}/{e}/#" for e in mine]
    return topics
