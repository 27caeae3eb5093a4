"""Buffer and replay: a data logger that keeps its records while its line is down (补传).

A ``link_outage`` incident with ``buffered = true`` marks the messages of the outage with the
time the line is back (``PlannedMessage.late_ms``). ``in_send_order`` turns one outlet's plan
(in measurement order) into the order the device sends it: the buffered messages are held and
go out when the line is back, before the first regular message due after that, in their own
order, each with its own (old) time stamp; the first of them reconnects the link, as a logger
does after an outage (HJ 212 over TCP: a new connection). Nothing here talks to a network: the
runner sends what this yields (``simulators.runner``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator

from simulators.plan import PlannedMessage


def in_send_order(stream: Iterable[PlannedMessage], due: Callable[[PlannedMessage], int]
                  ) -> Iterator[PlannedMessage]:
    """``stream`` reordered by send time; ``due(msg)``: when a regular message is sent."""
    held: list[PlannedMessage] = []
    release = 0
    for msg in stream:
        if msg.late_ms is not None:
            if not held:
                release = msg.late_ms
                msg = dataclasses.replace(msg, reconnect=True)
            held.append(msg)
            continue
        if held and due(msg) >= release:
            yield from held
            held = []
        yield msg
    yield from held


def send_time(msg: PlannedMessage, due: Callable[[PlannedMessage], int]) -> int:
    """When ``msg`` is sent: its regular due time, or the time its line is back."""
    return msg.late_ms if msg.late_ms is not None else due(msg)
