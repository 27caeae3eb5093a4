"""HJ 212-2017 frames of a simulated data-acquisition unit, built with the service's codec.

``encode`` is the ``Hj212Encoder`` the publisher needs for ``hj212`` and ``hj212-tcp`` outlets:
a minute-data upload (CN 2051, ``-Avg`` and ``-Flag`` per factor, hj212.md §8.1, §12), with
Flag bit A set when the device waits for a reply (TCP). A malformed frame (one of
``malformations.HJ212_MALFORMATIONS``) is broken inside its data segment and framed with a valid
CRC, so that it reaches the ingester, which refuses it or one of its values.

``DataReplies`` pairs the gateway's answers with the uploads: a 9014 data reply (HJ 212-2017
§6.5, hj212.md §7) carries the upload's QN and MN.
"""

from __future__ import annotations

import re

from core.pollutants import BY_KEY
from hj212 import SHANGHAI, Hj212Error, build_data_segment, decode, encode_frame
from hj212.encode import format_number
from simulators.devicemsgs import INFO_CN
from simulators.payloads import Hj212Frame

INFO_CODES = {"range": "i13001", "slope": "i13008", "intercept": "i13007"}  # hj212.md §13.3

FLAG_2017 = 4  # version bits of HJ 212-2017 (hj212.md §4.2)
FLAG_ACK = 1  # bit A: a reply is wanted
UNKNOWN_CODE = "a99999"  # not in the catalogue (core/pollutants.py)
_QN = re.compile(rb"QN=([0-9]{17,20})")
_DATA_TIME = re.compile(r"DataTime=[0-9]{14}")


def encode(frame: Hj212Frame) -> bytes:
    """The bytes of one minute-data upload, with its malformation if it has one; or of a
    running-state upload (CN 2021, ``SB1-RS``)."""
    if frame.running is not None:
        return encode_state(frame)
    if frame.report is not None:
        return encode_report(frame)
    segment = build_data_segment(
        frame.values, cn=frame.cn, mn=frame.mn, data_time=frame.data_time,
        flags=frame.flags, pw=frame.pw, st=frame.st,
        flag=FLAG_2017 | (FLAG_ACK if frame.ack_wanted else 0))
    if frame.malformed is not None:
        segment = malform(segment, frame)
    return encode_frame(segment)


def encode_state(frame: Hj212Frame) -> bytes:
    """A facility running-state upload (CN 2021, hj212.md §8.1, §12): ``SB1-RS=0|1``."""
    stamp = frame.data_time.astimezone(SHANGHAI)
    qn = stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"
    segment = (f"QN={qn};ST={frame.st};CN=2021;PW={frame.pw};MN={frame.mn};Flag={FLAG_2017};"
               f"CP=&&DataTime={stamp.strftime('%Y%m%d%H%M%S')};SB1-RS={frame.running}&&")
    return encode_frame(segment)


def encode_report(frame: Hj212Frame) -> bytes:
    """The device's own word (``simulators.devicemsgs``): an hour or day aggregate upload
    (CN 2061, 2031: ``-Avg``, ``-ZsAvg``) or analyser parameters (CN 3020: ``PolId`` and
    ``i13001``/``i13008``/``i13007`` ``-Info``, hj212.md §13.3)."""
    rep = frame.report
    assert rep is not None
    if rep.cn != INFO_CN:
        return encode_frame(build_data_segment(
            rep.values, cn=rep.cn, mn=frame.mn, data_time=frame.data_time, pw=frame.pw,
            st=frame.st, groups={"zs_avg": rep.zs} if rep.zs else None, flag=FLAG_2017))
    stamp = frame.data_time.astimezone(SHANGHAI)
    qn = stamp.strftime("%Y%m%d%H%M%S") + f"{stamp.microsecond // 1000:03d}"
    items = ";".join(f"{INFO_CODES[k]}-Info={format_number(v)}" for k, v in rep.values.items())
    segment = (f"QN={qn};ST={frame.st};CN={INFO_CN};PW={frame.pw};MN={frame.mn};"
               f"Flag={FLAG_2017};CP=&&DataTime={stamp.strftime('%Y%m%d%H%M%S')};"
               f"PolId={BY_KEY[rep.pollutant].code_2017};{items}&&")
    return encode_frame(segment)


def malform(segment: str, frame: Hj212Frame) -> str:
    """The data segment broken as ``frame.malformed`` says."""
    kind = frame.malformed
    if kind == "bad_time":
        return _DATA_TIME.sub("DataTime=20261399256199", segment, count=1)
    if kind == "unknown_code":
        return _append(segment, UNKNOWN_CODE)
    code = BY_KEY[next(iter(frame.values))].code_2017
    if kind == "bad_value":
        return re.sub(rf"{code}-Avg=[^,;&]*", f"{code}-Avg=abc", segment, count=1)
    if kind == "bad_flag":
        return re.sub(rf"{code}-Flag=[^,;&]*", f"{code}-Flag=X", segment, count=1)
    raise ValueError(f"unknown HJ 212 malformation {kind!r}")


def _append(segment: str, code: str) -> str:
    """One more CP item, ``code-Avg=1.0``, before the closing ``&&``."""
    head, _, _ = segment.rpartition("&&")
    return f"{head};{code}-Avg=1.0,{code}-Flag=N&&"


def qn_of(frame: bytes) -> str:
    """The QN of a frame, read without decoding it (a malformed one included); "" if none."""
    m = _QN.search(frame)
    return m.group(1).decode() if m else ""


class DataReplies:
    """Pairs a device's uploads with the gateway's 9014 data replies (``links.ReplyMatcher``)."""

    def __init__(self, mn: str) -> None:
        self.mn = mn

    def expects(self, frame: bytes) -> str:
        return qn_of(frame)

    def answers(self, reply: bytes) -> str | None:
        """The QN a reply answers, if it is a well-formed 9014 data reply to this device."""
        try:
            packet = decode(reply)
        except Hj212Error:
            return None
        if packet.cn != "9014" or packet.mn != self.mn:
            return None
        return packet.qn or ""


_FIELD_QN = re.compile(r"QN=[^;]*;")
_FIELD_FLAG = re.compile(r"Flag=[0-9]+;")
_BEGIN = re.compile(r"BeginTime=([0-9]{14})")
_END = re.compile(r"EndTime=([0-9]{14})")
_DATA_TIME_CP = re.compile(r"DataTime=([0-9]{14})")
_HISTORY_CNS = frozenset({"2051", "2061", "2031"})


class DataLogger:
    """What a data-acquisition unit keeps and how it answers the centre's history requests.

    It remembers each minute upload (CN 2051) it measured, sent or not, by DataTime (the
    period start, local time, hj212.md §4.3), up to ``capacity`` minutes. A history request
    (CN 2051 with ``BeginTime``/``EndTime``, hj212.md §7, §8.1) is answered with 9011
    ``QnRtn=1``, one 2051 packet per remembered minute in range (the request's QN, Flag without
    the ack bit: the request's 9012 closes the exchange), then 9012 ``ExeRtn=1``, or
    ``ExeRtn=100`` (no data) when none is remembered. Hour and day requests get ``ExeRtn=100``:
    the simulator keeps minutes only.
    """

    def __init__(self, capacity: int = 7 * 1440) -> None:
        self.capacity = capacity
        self._minutes: dict[str, bytes] = {}  # DataTime -> the upload's frame
        self.requests = 0

    def remember(self, frame: bytes) -> None:
        text = frame.decode("utf-8", "replace")
        if "CN=2051" not in text:
            return
        m = _DATA_TIME_CP.search(text)
        if m is None:
            return
        self._minutes[m.group(1)] = frame
        while len(self._minutes) > self.capacity:
            del self._minutes[next(iter(self._minutes))]

    def answer(self, frame: bytes) -> list[bytes] | None:
        """The frames answering ``frame`` if it is a history request to us; None otherwise."""
        try:
            packet = decode(frame)
        except Hj212Error:
            return None
        items = dict(packet.cp)
        if packet.cn not in _HISTORY_CNS or "BeginTime" not in items:
            return None
        self.requests += 1
        qn, head = packet.qn or "", f"PW={packet.pw or ''};MN={packet.mn}"
        out = [encode_frame(f"QN={qn};ST=91;CN=9011;{head};Flag=4;CP=&&QnRtn=1&&")]
        begin, end = items.get("BeginTime", ""), items.get("EndTime", "")
        found = [] if packet.cn != "2051" else [
            f for t, f in sorted(self._minutes.items()) if begin <= t <= end]
        out += [_reissue(f, qn) for f in found]
        code = "1" if found else "100"
        out.append(encode_frame(f"QN={qn};ST=91;CN=9012;{head};Flag=4;CP=&&ExeRtn={code}&&"))
        return out


def _reissue(frame: bytes, qn: str) -> bytes:
    """A remembered upload sent again under the request's QN, without asking for a reply."""
    segment = frame[6:-6].decode("utf-8")
    segment = _FIELD_QN.sub(f"QN={qn};", segment, count=1)
    segment = _FIELD_FLAG.sub(f"Flag={FLAG_2017};", segment, count=1)
    return encode_frame(segment)
