"""Parts of split HJ 212 uploads, kept in InfluxDB until their upload is whole.

A device splits a long upload into PNUM packets (Flag bit D, PNUM/PNO; hj212.md §4.1, §4.2, §7),
each its own MQTT message on ``hj212/{MN}``. Each part is stored as it arrives, as one point of
the measurement ``hj212_part``, and its message is acknowledged only after that; once stored, the
ingester reads the group back, and the part that finds every PNO present completes the upload.

Why the store and not only the in-memory ``Reassembler``:

- the ingester that received some parts of an upload may stop, or the topics be divided anew
  among ingesters (ingest/topics.py), before the last part arrives, so no single process may
  be relied on to see them all;
- a part acknowledged to the broker is gone from the broker: if the ingester that held it in
  memory stopped, the upload could never complete. Holding the acknowledgement of every part
  until the last one arrives would avoid that for one ingester, but each waiting part pins one of
  the Receive Maximum slots, and it still fails as soon as two ingesters share the stream.

Every part reads the group back only after its own point is stored (``Parsed.after_store``, run
by the batch writer before the acknowledgement), so the last part to be stored sees all the
others, whichever ingester stored them: the upload completes at least once, and completing it
twice writes the same points again (idempotent). A crash between storing a part and completing
the group means the part is redelivered and the check is repeated.

``hj212_part``: tags ``mn``, ``cn``, ``pnum``, ``pno``; fields ``segment`` (the data segment, its
PW masked) and ``qn``; time = DataTime. The same part sent twice overwrites itself. Points are
left in place once their upload is complete: they are the raw record of what the device sent
(a retention policy may expire them). A group that never completes stays visible there.
"""

from __future__ import annotations

from store.influx import InfluxStore
from store.lines import PART_MEASUREMENT


class PartStore:
    """Reads the stored parts of one split upload back."""

    def __init__(self, store: InfluxStore) -> None:
        self._store = store

    def load(self, mn: str, cn: str, pnum: int, ts_ms: int) -> dict[int, str]:
        """PNO -> data segment of the parts stored so far; raises the store's errors.

        ``mn`` is a registered device number and ``cn`` a data command, both checked by the
        caller, so they are safe inside the query's quotes.
        """
        series = self._store.query(
            f'SELECT "segment" FROM "{PART_MEASUREMENT}" WHERE "mn" = \'{mn}\' '
            f"AND \"cn\" = '{cn}' AND \"pnum\" = '{pnum}' AND time = {ts_ms * 1_000_000} "
            'GROUP BY "pno"')
        parts: dict[int, str] = {}
        for s in series:
            pno = s.tags.get("pno", "")
            if pno.isdigit() and s.values:
                parts[int(pno)] = str(s.rows()[-1]["segment"])
        return parts
