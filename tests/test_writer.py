"""The batch writer against a real InfluxDB: acknowledgements follow storage."""

from __future__ import annotations

import pytest

from ingest.writer import BatchWriter, Item, _last_marks
from store.influx import InfluxStore
from tests.conftest import wait_until

LINE = 'reading,enterprise=E1,outlet=G1,pollutant=so2 value={v},flag="N" {t}000000'


def test_acknowledges_only_after_the_batch_is_stored(store: InfluxStore) -> None:
    acked: list[tuple[int, int]] = []
    seen_at_ack: list[int] = []

    def ack(mid: int, qos: int) -> None:
        seen_at_ack.append(store.count("reading"))
        acked.append((mid, qos))

    writer = BatchWriter(store, ack, max_points=10, max_wait_s=0.05)
    writer.start()
    for mid in range(1, 21):
        writer.submit(Item(mid, 1, [LINE.format(v=mid, t=1_764_151_200_000 + mid)], 1, None))
    writer.submit(Item(0, 0, [LINE.format(v=0, t=1_764_151_200_000)], 1, None))  # QoS 0
    wait_until(lambda: len(acked) == 20, what="20 acknowledgements")
    writer.stop()
    assert sorted(acked) == [(m, 1) for m in range(1, 21)]
    assert all(n >= 10 for n in seen_at_ack), "a message was acknowledged before it was stored"
    assert store.count("reading") == 21
    assert writer.stored_readings == 21


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_unexpected_error_ends_the_writer_visibly(store: InfluxStore) -> None:
    def ack(_mid: int, _qos: int) -> None:
        raise RuntimeError("acknowledgement failed")

    writer = BatchWriter(store, ack, max_points=1, max_wait_s=0.01)
    writer.start()
    writer.submit(Item(1, 1, [LINE.format(v=1, t=1_764_151_200_000)], 1, None))
    wait_until(lambda: not writer.alive, what="the writer thread to end")
    assert store.count("reading") == 1


def test_a_write_keeps_only_the_last_mark_of_an_outlet_and_hour() -> None:
    h1, h2 = 1_764_147_600_000_000_000, 1_764_151_200_000_000_000
    lines = [f"dirty,enterprise=E1,outlet=G1 received_ms=1i {h1}", "reading,x=1 value=1 1",
             f"dirty,enterprise=E1,outlet=G1 received_ms=2i {h2}",
             f"dirty,enterprise=E1,outlet=G2 received_ms=3i {h1}",
             f"dirty,enterprise=E1,outlet=G1 received_ms=4i {h1}"]
    assert _last_marks(lines) == lines[1:]
    assert _last_marks(lines[:4]) == lines[:4]
