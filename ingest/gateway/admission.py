"""Which frames the gateway forwards, and what it answers. Pure: no I/O.

A frame is forwarded only if its CRC matches (in either dialect, hj212.md §5.5), its header
names a registered device (MN) and its access password (PW) matches that device's hash. The
gateway reads the header only: the data area is the ingester's to judge (a frame with a bad
value is forwarded, acknowledged, and its value rejected with a reason by the ingester, where
the rejection is stored; answering nothing would only make the device send it again).

Answers (hj212.md §7, §10). The standard answers an upload (Flag bit A set) with a 9014 data
reply, a notice (CN 1013) with a 9013 notice reply, and a reply with nothing. It has no negative
answer to an upload: QnRtn (9011: 3 wrong PW, 9 CRC error) answers the centre's *requests*.
So a refused frame gets no answer at all:

- CRC error: the frame was damaged on the way; the device sends it again after its time-out
  (10 s, 3 tries by default, §7), and the copy usually arrives whole;
- wrong PW or unknown MN: there is nothing the gateway could accept, and any answer would tell
  whoever is guessing passwords more than silence does. It is counted and logged.

Every refused frame is also stored as a rejection (``ingest.gateway.rejections``), under
``code``: the codec's reason, ``unknown_device`` or ``bad_password``.

Interaction frames (CN 9xxx: replies, and the HJ 212-2025 heartbeat 9015, hj212.md §8.3) carry
no data: they are checked like any frame and then consumed here (``Admitted.forward`` false), not
published, so that a heartbeat a minute does not become a rejection a minute downstream.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from core.readings import Reason
from core.registry import Registry
from hj212 import (
    Hj212Error,
    Packet,
    encode_frame,
    encode_reply_9014,
    parse_segment,
    unframe,
)
from ingest.parsers.hj212 import TOPIC_ROOT, mask_password_text

NOTICE_CNS: Final = frozenset({"1013"})  # field unit -> centre notices (hj212.md §8.1)

BAD_CRC: Final = "bad_crc"
BAD_FRAME: Final = "bad_frame"
UNKNOWN_DEVICE: Final = "unknown_device"
BAD_PASSWORD: Final = "bad_password"


class Admitted(NamedTuple):
    """A frame that passed: its header (an empty data area), its MQTT topic, and whether it is
    to be published (interaction frames are not)."""

    packet: Packet
    topic: str
    forward: bool = True


class Refused(NamedTuple):
    """A frame not to forward: ``reason`` is one of the constants above (metrics, logs),
    ``code`` the rejection reason it is stored under (``ingest.gateway.rejections``)."""

    reason: str
    detail: str
    code: Reason = Reason.BAD_SEGMENT


def admit(frame: bytes, registry: Registry) -> Admitted | Refused:
    """Check a frame's framing, CRC, device and password."""
    try:
        segment, dialect = unframe(frame)
    except Hj212Error as exc:
        reason = BAD_CRC if exc.reason == Reason.BAD_CRC else BAD_FRAME
        return Refused(reason, mask_password_text(exc.detail), Reason(exc.reason))
    text = segment.decode("utf-8", "replace")
    cp_at = text.find("CP=&&")
    if cp_at < 0:
        return Refused(BAD_FRAME, "no 'CP=&&' data area")
    try:
        packet = parse_segment(text[:cp_at] + "CP=&&&&", crc_dialect=dialect)
    except Hj212Error as exc:
        return Refused(BAD_FRAME, mask_password_text(exc.detail), Reason(exc.reason))
    device = registry.devices.get(packet.mn)
    if device is None:
        return Refused(UNKNOWN_DEVICE, f"device {packet.mn[:40]!r} not registered",
                       Reason.UNKNOWN_DEVICE)
    if not device.password_ok(packet.pw or ""):
        return Refused(BAD_PASSWORD, f"wrong access password (PW) for {packet.mn}",
                       Reason.BAD_PASSWORD)
    return Admitted(packet, f"{TOPIC_ROOT}/{packet.mn}", not packet.cn.startswith("9"))


def reply_for(packet: Packet) -> bytes | None:
    """The answer owed once the frame is safely with the broker, if the device wants one."""
    if not packet.ack_wanted or packet.cn.startswith("9"):
        return None
    if packet.cn in NOTICE_CNS:
        return encode_reply(packet, "9013")
    return encode_reply_9014(packet)


def encode_reply(packet: Packet, cn: str) -> bytes:
    """A reply of command ``cn`` built like ``encode_reply_9014``: QN, ST=91, PW, MN, Flag=4."""
    fields = [] if packet.qn is None else [f"QN={packet.qn}"]
    fields += ["ST=91", f"CN={cn}"]
    if packet.pw is not None:
        fields.append(f"PW={packet.pw}")
    fields += [f"MN={packet.mn}", "Flag=4", "CP=&&&&"]
    return encode_frame(";".join(fields), packet.crc_dialect)
