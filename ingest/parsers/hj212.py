"""HJ 212 packets on MQTT (``hj212/{MN}``, DESIGN §3.2) -> readings, device aggregates, rejections.

One message is one raw frame, as a device or the TCP gateway (``ingest.gateway``) published it.
Checks, in order; each failure rejects the whole message with its reason:

- ``oversize``: longer than the ingester's payload limit;
- ``bad_topic``: the topic is not ``hj212/{MN}`` with a well-formed MN;
- the codec's reasons (``no_header``, ``bad_length``, ``truncated``, ``bad_crc``,
  ``bad_segment``, ``bad_value``, ``bad_time``; ``core.readings.Reason``);
- ``device_mismatch``: the packet's MN is not the topic's;
- ``unknown_device``: MN not in the registry; ``bad_password``: PW does not match its hash;
- ``unsupported_command``: a CN that carries no data this service stores (see below);
- ``bad_timestamp`` (no DataTime), ``future_timestamp``, ``stale_timestamp``: the same time
  window as JSON readings.

Then each value, with the rules JSON readings follow (``core.readings.check_value``: catalogue,
medium of the outlet, finite, plausible range, HJ 212-2017 flag letter or the 2005 ``P``, which
is stored and never valid), and each factor code outside the catalogue is ``unknown_pollutant``.

What is stored (hj212.md §8.1, §12):

- CN 2051 (minute, ``-Avg``): ``reading`` points at DataTime, the start of the minute period;
- CN 2011 (real-time, ``-Rtd``): ``realtime`` points at DataTime, the measurement instant. A
  device that sends both must not have one series mixing instants and means (hj212.md §4.3):
  the scheduler judges the minute data where an outlet sends it, else means of the real-time
  values (``alerts/rules/realtime.py``);
- CN 2021 (facility status, ``SBxxx-RS``, hj212.md §8.1, §12): ``running_state`` points, tags
  enterprise, outlet, facility (``SB1``), field ``state`` (0 off, 1 running, 2 calibrating,
  3 maintenance, 4 alarm, 5 blow-back; any other value is ``bad_state``), time = DataTime: the
  evidence of a stopped plant that compliance-rules.md §1.2 asks for;
- CN 2061 (hour) and 2031 (day): ``device_aggregate`` points (``DeviceAggregate``), time = the
  period start; the device's own means, kept apart from readings so that the service's verdicts
  can be compared with them and never mixed into them;
- CN 3020 (field-unit information) with ``PolId`` and any of the analyser parameters
  ``i13001`` (range), ``i13008`` (slope), ``i13007`` (intercept) as ``-Info``:
  ``analyser_param`` points (tags enterprise, outlet, pollutant = PolId's key; fields range,
  slope, intercept), time = DataTime: a change of them just before readings fall is a sign of
  falsified data (``alerts.analyseralerts``). A PolId outside the catalogue is
  ``unknown_pollutant``, a parameter that is not a finite number ``bad_values``; the other
  ``-Info`` items (logs, status, other parameters) are not kept, and a 3020 with none of the
  three is ``unsupported_command``;
- any other CN (parameters, run times, logs, heartbeats, replies): ``unsupported_command``,
  so that what devices send and the service does not use is counted and can be looked at.
  Converted values (``-ZsRtd``) of real-time data are not stored: the service converts itself.

Split uploads (PNUM/PNO) go through ``ingest/parts.py``: a part that completes nothing
produces no reading and no rejection, only its stored copy.

Access passwords: HJ 212 sends PW in clear in every frame, and the registry keeps only hashes.
So a frame is never stored or logged with its PW: rejections keep it with ``PW=***``
(``mask_password``), which also means their CRC no longer matches.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from datetime import tzinfo
from typing import Final

from core.pollutants import BY_CODE
from core.readings import (
    RUNNING_STATES,
    DeviceAggregate,
    Limits,
    Parsed,
    Problem,
    Reading,
    Reason,
    Rejecter,
    RunningState,
    check_value,
)
from core.registry import ID_RE, MN_RE, Outlet, Registry
from hj212 import SHANGHAI, Hj212Error, Packet, Reassembler, parse_segment, unframe
from hj212.codec import STATE_CN
from ingest.parts import PartStore
from store.influx import StoreRejected
from store.lines import ANALYSER_PARAMS, aggregate_line, analyser_line, part_line, state_line

log = logging.getLogger(__name__)

TOPIC_ROOT: Final = "hj212"
SOURCE: Final = "mqtt-hj212"
REALTIME_CN: Final = "2011"
READING_CNS: Final = frozenset({REALTIME_CN, "2051"})
AGGREGATE_PERIODS: Final[dict[str, str]] = {"2061": "hour", "2031": "day"}
INFO_CN: Final = "3020"
DATA_CNS: Final = READING_CNS | frozenset(AGGREGATE_PERIODS) | {STATE_CN, INFO_CN}
_STATE_TEXTS: Final = frozenset(str(n) for n in RUNNING_STATES)
# Codec groups (``Packet.groups``) stored with an aggregate, under the same names.
AGGREGATE_GROUPS: Final = ("min", "max", "cou", "zs_avg", "zs_min", "zs_max")

_PASSWORD: Final = re.compile(rb"PW=[^;,&\r\n]*")
_PASSWORD_TEXT: Final = re.compile(r"PW=[^;,&\r\n]*")


def mask_password(frame: bytes) -> bytes:
    """``frame`` with every ``PW=...`` value replaced by ``***``."""
    return _PASSWORD.sub(b"PW=***", frame)


def mask_password_text(text: str) -> str:
    """``mask_password`` for text (an error detail may quote part of a frame)."""
    return _PASSWORD_TEXT.sub("PW=***", text)


class Hj212Parser:
    """Parser of ``hj212/{MN}`` messages for ``ingest.service.Ingester`` (``extra_parsers``).

    ``tz`` is the deployment's time zone, in which devices write DataTime (EMS_TIMEZONE).
    ``parts`` reads stored parts of split uploads back; without it a split part is refused.
    """

    def __init__(self, registry: Registry, limits: Limits, tz: tzinfo = SHANGHAI,
                 parts: PartStore | None = None, remember_completed: int = 10_000) -> None:
        self._registry = registry
        self._limits = limits
        self._tz = tz
        self._parts = parts
        # Split uploads this process completed lately: when several of their parts are stored
        # in one batch, the first follow-up completes the upload and the others need not read
        # it back again (their acknowledgements still wait for that completion's points).
        self._completed: dict[tuple[str, str, int, int], None] = {}
        self._remember = remember_completed
        self._lock = threading.Lock()

    def parse(self, topic: str, payload: bytes, now_ms: int) -> Parsed:
        reject = Rejecter(topic, mask_password(payload), SOURCE)
        return self._parse(topic, payload, now_ms, reject)._replace(payload=reject.payload)

    def _parse(self, topic: str, payload: bytes, now_ms: int, reject: Rejecter) -> Parsed:
        lim = self._limits
        root, _, mn = topic.partition("/")
        good_topic = root == TOPIC_ROOT and MN_RE.fullmatch(mn) is not None
        owner = self._registry.devices.get(mn) if good_topic else None
        if owner is not None:
            # Only that device (or the gateway, after checking its PW) may publish here (the
            # broker's rules), so even a frame that cannot be read, or is too long, belongs to
            # its enterprise, which sees its own rejections.
            reject.enterprise = owner.enterprise_id
        if len(payload) > lim.max_payload_bytes:
            return reject.whole(Reason.OVERSIZE, f"{len(payload)} bytes > {lim.max_payload_bytes}")
        if not good_topic:
            return reject.whole(Reason.BAD_TOPIC, "topic is not hj212/{MN}")
        try:
            raw, dialect = unframe(payload)
            segment = raw.decode("utf-8", "replace")
            packet = parse_segment(segment, self._tz, crc_dialect=dialect)
        except Hj212Error as exc:
            return reject.whole(exc.reason, mask_password_text(exc.detail))
        if packet.mn != mn:
            return reject.whole(Reason.DEVICE_MISMATCH,
                                f"packet MN {packet.mn[:40]!r} is not the topic's {mn}")
        device = self._registry.devices.get(mn)
        if device is None:
            return reject.whole(Reason.UNKNOWN_DEVICE, f"device {mn} not registered")
        reject.enterprise = device.enterprise_id
        outlet = self._registry.outlet(device.enterprise_id, device.outlet_id)
        if outlet is None:  # cannot happen with a registry built by core.registry
            return reject.whole(Reason.UNKNOWN_OUTLET, f"outlet of {mn} not registered")
        if not device.password_ok(packet.pw or ""):
            return reject.whole(Reason.BAD_PASSWORD, f"wrong access password (PW) for {mn}")
        if packet.cn not in DATA_CNS:
            return reject.whole(Reason.UNSUPPORTED_COMMAND,
                                f"CN {packet.cn[:8]!r} carries no data stored here")
        if packet.data_time is None:
            return reject.whole(Reason.BAD_TIMESTAMP, "data upload without DataTime")
        ts_ms = int(packet.data_time.timestamp() * 1000)
        if ts_ms > now_ms + lim.future_skew_ms:
            return reject.whole(Reason.FUTURE_TIMESTAMP, f"DataTime {ts_ms} ms is in the future")
        if ts_ms < now_ms - lim.max_age_ms:
            return reject.whole(Reason.STALE_TIMESTAMP,
                                f"DataTime {ts_ms} ms is older than allowed")
        if packet.pnum is not None and packet.pnum > 1:
            return self._part(packet, packet.pnum, outlet, ts_ms, segment, reject)
        return self._content(packet, outlet, ts_ms, reject)

    def _part(self, packet: Packet, pnum: int, outlet: Outlet, ts_ms: int, segment: str,
              reject: Rejecter) -> Parsed:
        """Store this part; once stored, complete the upload if every part is there."""
        parts = self._parts
        if parts is None:
            return reject.whole(Reason.UNSUPPORTED_COMMAND, "split uploads are not accepted here")

        group = (packet.mn, packet.cn, pnum, ts_ms)

        def complete() -> Parsed:
            again = Rejecter(reject.topic, reject.payload, SOURCE)
            again.enterprise = reject.enterprise
            with self._lock:
                if group in self._completed:
                    return Parsed([], [])
            try:
                stored = parts.load(packet.mn, packet.cn, pnum, ts_ms)
            except StoreRejected as exc:
                return again.whole(Reason.STORE_REJECTED, f"reading parts back: {exc.message}")
            if any(number not in stored for number in range(1, pnum + 1)):
                return Parsed([], [])
            try:
                whole = reassemble([stored[number] for number in range(1, pnum + 1)], self._tz)
            except Hj212Error as exc:
                return again.whole(exc.reason, f"stored part: {exc.detail}")
            log.debug("split upload of %s at %s complete (%d parts)", packet.mn, ts_ms, pnum)
            self._note_completed(group)
            return self._content(whole, outlet, ts_ms, again)

        line = part_line(packet.mn, packet.cn, packet.pnum, packet.pno, packet.qn, ts_ms,
                         mask_password_text(segment))
        return Parsed([], [], (line,), complete)

    def _note_completed(self, group: tuple[str, str, int, int]) -> None:
        with self._lock:
            self._completed[group] = None
            while len(self._completed) > self._remember:
                del self._completed[next(iter(self._completed))]

    def _content(self, packet: Packet, outlet: Outlet, ts_ms: int, reject: Rejecter) -> Parsed:
        """Readings or aggregates of a whole (or reassembled) data upload."""
        if packet.cn == INFO_CN:
            return self._params(packet, outlet, ts_ms, reject)
        for code in packet.unknown_codes:
            reject.value(Reason.UNKNOWN_POLLUTANT, code, f"{code[:40]!r} is not in the catalogue")
        if packet.cn in READING_CNS:
            readings = self._readings(packet, outlet, ts_ms, reject)
            if not packet.values and not packet.unknown_codes:
                reject.whole(Reason.BAD_VALUES, "no values in the data area")
            if packet.cn == REALTIME_CN:
                return Parsed([], reject.rejections, realtime=readings)
            return Parsed(readings, reject.rejections)
        if packet.cn == STATE_CN:
            return self._states(packet, outlet, ts_ms, reject)
        lines = self._aggregates(packet, outlet, ts_ms, reject)
        if not lines and not reject.rejections:
            reject.whole(Reason.BAD_VALUES, "no values in the data area")
        return Parsed([], reject.rejections, lines)

    def _readings(self, packet: Packet, outlet: Outlet, ts_ms: int,
                  reject: Rejecter) -> list[Reading]:
        readings = []
        medium, flags = outlet.medium, packet.flags
        for key, value in packet.values.items():
            flag = flags.get(key, "N")
            problem = check_value(key, value, flag, medium)
            if problem is not None:
                reject.value(problem.reason, key, problem.detail)
                continue
            readings.append(Reading(outlet.enterprise_id, outlet.id, key, ts_ms, value, flag))
        return readings

    def _states(self, packet: Packet, outlet: Outlet, ts_ms: int, reject: Rejecter) -> Parsed:
        """``running_state`` points of a CN 2021 upload, one per facility with a good state."""
        lines = []
        for code, text in packet.states.items():
            problem = check_state(code, text)
            if problem is not None:
                reject.value(problem.reason, code, problem.detail)
                continue
            lines.append(state_line(RunningState(outlet.enterprise_id, outlet.id, code, ts_ms,
                                                 int(text))))
        if not packet.states and not packet.unknown_codes:
            reject.whole(Reason.BAD_VALUES, "no running state (SBxxx-RS) in the data area")
        touched = [(outlet.enterprise_id, outlet.id, ts_ms)] if lines else []
        return Parsed([], reject.rejections, lines, touched=touched)

    def _aggregates(self, packet: Packet, outlet: Outlet, ts_ms: int,
                    reject: Rejecter) -> list[str]:
        period = AGGREGATE_PERIODS[packet.cn]
        keys = dict.fromkeys(packet.values)
        for group in AGGREGATE_GROUPS:
            keys.update(dict.fromkeys(packet.groups.get(group, {})))
        lines = []
        for key in keys:
            fields = {"avg": packet.values[key]} if key in packet.values else {}
            for group in AGGREGATE_GROUPS:
                members = packet.groups.get(group)
                if members is not None and key in members:
                    fields[group] = members[key]
            flag = packet.flags.get(key, "N")
            problem = check_aggregate(key, fields, flag, outlet)
            if problem is not None:
                reject.value(problem.reason, key, problem.detail)
                continue
            lines.append(aggregate_line(DeviceAggregate(
                outlet.enterprise_id, outlet.id, key, period, ts_ms, fields, flag)))
        return lines


    def _params(self, packet: Packet, outlet: Outlet, ts_ms: int, reject: Rejecter) -> Parsed:
        """The ``analyser_param`` point of a CN 3020 upload (see the module docstring)."""
        items = dict(packet.cp)
        params: dict[str, float] = {}
        for code, name in ANALYSER_PARAMS.items():
            text = items.get(f"{code}-Info")
            if text is None:
                continue
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not math.isfinite(value):
                reject.value(Reason.BAD_VALUES, code, f"{code}-Info={text[:20]!r} is not a number")
                continue
            params[name] = value
        if not params:
            if not reject.rejections:
                reject.whole(Reason.UNSUPPORTED_COMMAND,
                             "CN '3020' without an analyser range, slope or intercept (i13001, "
                             "i13008, i13007): not kept")
            return Parsed([], reject.rejections)
        code = items.get("PolId", "")
        pollutant = BY_CODE.get(code)
        if pollutant is None:
            return reject.whole(Reason.UNKNOWN_POLLUTANT,
                                f"PolId {code[:40]!r} is not in the catalogue")
        line = analyser_line(outlet.enterprise_id, outlet.id, pollutant.key, ts_ms, params)
        return Parsed([], reject.rejections, (line,))


def check_state(code: str, text: str) -> Problem | None:
    """A facility code must be an identifier (it becomes a tag) and its state one of 0-5
    (hj212.md §12); None if both are good."""
    if not ID_RE.fullmatch(code):
        return Problem(Reason.BAD_STATE, f"facility code {code[:40]!r} is not an identifier")
    if text not in _STATE_TEXTS:
        return Problem(Reason.BAD_STATE, f"{code}-RS={text[:20]!r} is not a state 0-5 "
                       "(0 off, 1 running, 2 calibrating, 3 maintenance, 4 alarm, 5 blow-back)")
    return None


def check_aggregate(key: str, fields: dict[str, float], flag: str,
                    outlet: Outlet) -> Problem | None:
    """The value rules for an aggregate: ``avg`` is required; every concentration field
    (avg, min, max, converted) follows ``check_value``; the amount ``cou`` has no plausible
    range in the catalogue's unit, so it must only not be negative."""
    if "avg" not in fields:
        return Problem(Reason.BAD_VALUES, f"{key} has no -Avg")
    for name, value in fields.items():
        if name == "cou":
            if value < 0:
                return Problem(Reason.NEGATIVE, f"{key}-Cou={value} is negative")
            continue
        problem = check_value(key, value, flag, outlet.medium)
        if problem is not None:
            return Problem(problem.reason, f"{name}: {problem.detail}")
    return None


def reassemble(segments: list[str], tz: tzinfo) -> Packet:
    """One packet from the data segments of parts 1..PNUM, in order."""
    reassembler = Reassembler(max_pending=1, max_parts=len(segments))
    whole = None
    for segment in segments:
        whole = reassembler.add(parse_segment(segment, tz), 0.0)
    if whole is None:
        raise Hj212Error(Reason.BAD_SEGMENT, "stored parts do not form one upload")
    return whole
