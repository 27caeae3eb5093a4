"""Encode HJ 212 frames: framing, data uploads, and the 9014 data reply. Pure: no I/O.

For simulators (data uploads from catalogue keys) and for the TCP gateway (replies). Output
follows HJ 212-2017 to the letter where the decoder is lenient: the length is the UTF-8 byte
count of the data segment, the CRC is 4 upper-case hex digits, zero-padded, and every frame
ends with ``\\r\\n`` (hj212.md §3, §5.2, §6.4). Invalid arguments raise ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Final

from core.pollutants import BY_KEY, Medium
from hj212.codec import (
    FLAG_SPLIT,
    GROUP_OF_SUFFIX,
    PRIMARY_SUFFIX,
    SHANGHAI,
    STATE_CN,
    STATE_SUFFIX,
    Packet,
)
from hj212.crc import STANDARD, crc_text

MAX_SEGMENT_BYTES: Final = 9999
_SUFFIX_OF_GROUP: Final[dict[str, str]] = {g: s for s, g in GROUP_OF_SUFFIX.items()}
_ST_OF_MEDIUM: Final[dict[Medium, str]] = {Medium.GAS: "31", Medium.WATER: "32"}
_SEPARATORS: Final = frozenset(";,=&\r\n")


def encode_frame(segment: str, dialect: str = STANDARD) -> bytes:
    """Wrap a data segment: ``##`` + byte length + segment + CRC in ``dialect`` + ``\\r\\n``."""
    body = segment.encode("utf-8")
    if len(body) > MAX_SEGMENT_BYTES:
        raise ValueError(f"data segment of {len(body)} bytes exceeds {MAX_SEGMENT_BYTES}")
    return b"##%04d%b%b\r\n" % (len(body), body, crc_text(body, dialect).encode("ascii"))


def format_number(value: float) -> str:
    """Shortest decimal text that reads back as ``value``, never in exponent form."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    text = repr(float(value))
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def format_time(moment: datetime, tz: tzinfo = SHANGHAI, *, millis: bool = False) -> str:
    """``YYYYMMDDhhmmss`` (plus ``zzz`` if ``millis``) of an aware ``moment`` as local in ``tz``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be an aware datetime")
    local = moment.astimezone(tz)
    text = local.strftime("%Y%m%d%H%M%S")
    return f"{text}{local.microsecond // 1000:03d}" if millis else text


def build_data_segment(
    values: Mapping[str, float],
    *,
    cn: str,
    mn: str,
    data_time: datetime,
    flags: Mapping[str, str] | None = None,
    groups: Mapping[str, Mapping[str, float]] | None = None,
    pw: str = "123456",
    st: str | None = None,
    flag: int | None = 4,
    qn: str | None = None,
    tz: tzinfo = SHANGHAI,
    codes: str = "2017",
    pnum: int | None = None,
    pno: int | None = None,
) -> str:
    """The data segment of a data upload (CN 2011/2051/2061/2031) from catalogue keys.

    ``values`` go out with the CN's suffix (``-Rtd`` for 2011, ``-Avg`` otherwise), ``groups``
    (``{"zs_rtd": {...}, "min": {...}}``) with theirs, ``flags`` as ``-Flag``. ``st`` defaults
    to 31 or 32 from the keys' medium; ``qn`` to ``data_time`` with milliseconds (``""`` omits
    QN); ``flag=None`` omits Flag (2005 style); with ``pnum``/``pno`` the split bit D is set.
    ``codes="2005"`` uses 2005 codes where the catalogue has one.
    """
    flags = flags or {}
    groups = groups or {}
    keys = _keys_in_order(values, groups, flags)
    head = _data_header(keys, cn=cn, mn=mn, pw=pw, st=st, flag=flag, pnum=pnum, pno=pno)
    if qn is None:
        qn = format_time(data_time, tz, millis=True)
    _check_text("QN", qn)
    objects = [f"DataTime={format_time(data_time, tz)}"]
    suffix = PRIMARY_SUFFIX[cn]
    if GROUP_OF_SUFFIX[suffix] in groups:
        raise ValueError(f"CN {cn} carries {suffix} in values, not in groups")
    for key in keys:
        code = _code(key, codes)
        items = []
        if key in values:
            items.append(f"{code}-{suffix}={format_number(values[key])}")
        for group, members in groups.items():
            if key in members:
                items.append(f"{code}-{_SUFFIX_OF_GROUP[group]}={format_number(members[key])}")
        if key in flags:
            items.append(f"{code}-Flag={_check_flag(key, flags[key])}")
        objects.append(",".join(items))
    qn_field = [f"QN={qn}"] if qn else []
    return ";".join([*qn_field, *head, "CP=&&" + ";".join(objects) + "&&"])


def encode_data(
    values: Mapping[str, float],
    *,
    cn: str,
    mn: str,
    data_time: datetime,
    flags: Mapping[str, str] | None = None,
    groups: Mapping[str, Mapping[str, float]] | None = None,
    pw: str = "123456",
    st: str | None = None,
    flag: int | None = 4,
    qn: str | None = None,
    tz: tzinfo = SHANGHAI,
    codes: str = "2017",
    pnum: int | None = None,
    pno: int | None = None,
    dialect: str = STANDARD,
) -> bytes:
    """A whole data-upload frame; arguments as for ``build_data_segment``."""
    segment = build_data_segment(
        values, cn=cn, mn=mn, data_time=data_time, flags=flags, groups=groups, pw=pw, st=st,
        flag=flag, qn=qn, tz=tz, codes=codes, pnum=pnum, pno=pno,
    )
    return encode_frame(segment, dialect)


def encode_data_split(
    values: Mapping[str, float],
    *,
    parts: int,
    cn: str,
    mn: str,
    data_time: datetime,
    flags: Mapping[str, str] | None = None,
    groups: Mapping[str, Mapping[str, float]] | None = None,
    pw: str = "123456",
    st: str | None = None,
    flag: int | None = 4,
    qn: str | None = None,
    tz: tzinfo = SHANGHAI,
    codes: str = "2017",
    dialect: str = STANDARD,
) -> list[bytes]:
    """The same upload split into ``parts`` frames (PNUM/PNO, Flag bit D; hj212.md §7).

    Keys are dealt out in order, in runs as even as possible; every part repeats DataTime.
    Without an explicit ``qn`` each part gets its own, one millisecond apart, as §7 shows.
    """
    if not 1 <= parts <= 9999:
        raise ValueError(f"parts must be 1..9999, not {parts}")
    flags, groups = flags or {}, groups or {}
    keys = _keys_in_order(values, groups, flags)
    st = st or _default_st(keys)
    frames = []
    for index in range(parts):
        chosen = set(keys[index * len(keys) // parts : (index + 1) * len(keys) // parts])
        part_qn = qn if qn is not None else format_time(
            data_time + timedelta(milliseconds=index), tz, millis=True
        )
        segment = build_data_segment(
            {k: v for k, v in values.items() if k in chosen},
            flags={k: v for k, v in flags.items() if k in chosen},
            groups={g: {k: v for k, v in m.items() if k in chosen} for g, m in groups.items()},
            cn=cn, mn=mn, data_time=data_time, pw=pw, st=st, flag=flag, qn=part_qn, tz=tz,
            codes=codes, pnum=parts, pno=index + 1,
        )
        frames.append(encode_frame(segment, dialect))
    return frames


def encode_states(
    states: Mapping[str, int | str],
    *,
    mn: str,
    data_time: datetime,
    pw: str = "123456",
    st: str = "31",
    flag: int | None = 4,
    qn: str | None = None,
    tz: tzinfo = SHANGHAI,
    dialect: str = STANDARD,
) -> bytes:
    """A facility status upload (CN 2021): ``SBxxx-RS=state`` per facility (hj212.md §8.1, §12).

    ``states`` maps a facility code (``SB1``) to its state (0 off, 1 running, 2 calibrating,
    3 maintenance, 4 alarm, 5 blow-back); other values are sent as given.
    """
    for name, text in (("ST", st), ("PW", pw), ("MN", mn), *((f"facility {c}", c)
                                                            for c in states)):
        _check_text(name, text)
    if not mn:
        raise ValueError("MN must not be empty")
    if qn is None:
        qn = format_time(data_time, tz, millis=True)
    _check_text("QN", qn)
    head = [f"QN={qn}"] if qn else []
    head += [f"ST={st}", f"CN={STATE_CN}", f"PW={pw}", f"MN={mn}"]
    if flag is not None:
        head.append(f"Flag={flag}")
    items = [f"DataTime={format_time(data_time, tz)}"]
    items += [f"{code}-{STATE_SUFFIX}={state}" for code, state in states.items()]
    return encode_frame(";".join([*head, "CP=&&" + ";".join(items) + "&&"]), dialect)


def encode_reply_9014(packet: Packet, *, dialect: str | None = None) -> bytes:
    """The data reply (CN 9014) to ``packet``: its QN, PW and MN, ST=91, Flag=4, empty CP.

    HJ 212-2017 §6.5 / hj212.md §7. The CRC dialect defaults to the packet's own, so a device
    that signs in Modbus style gets its answer in Modbus style.
    """
    fields = [] if packet.qn is None else [f"QN={packet.qn}"]
    fields += ["ST=91", "CN=9014"]
    if packet.pw is not None:
        fields.append(f"PW={packet.pw}")
    fields += [f"MN={packet.mn}", "Flag=4", "CP=&&&&"]
    return encode_frame(";".join(fields), dialect or packet.crc_dialect)


def _keys_in_order(
    values: Mapping[str, float],
    groups: Mapping[str, Mapping[str, float]],
    flags: Mapping[str, str],
) -> list[str]:
    keys = dict.fromkeys(values)
    for group, members in groups.items():
        if group not in _SUFFIX_OF_GROUP:
            raise ValueError(f"unknown group {group!r}; expected one of {list(_SUFFIX_OF_GROUP)}")
        keys.update(dict.fromkeys(members))
    keys.update(dict.fromkeys(flags))
    for key in keys:
        if key not in BY_KEY:
            raise ValueError(f"{key!r} is not a catalogue key")
    return list(keys)


def _data_header(
    keys: list[str], *, cn: str, mn: str, pw: str, st: str | None, flag: int | None,
    pnum: int | None, pno: int | None,
) -> list[str]:
    if cn not in PRIMARY_SUFFIX:
        raise ValueError(f"CN {cn!r} is not a data upload; expected one of {list(PRIMARY_SUFFIX)}")
    st = st or _default_st(keys)
    for name, text in (("ST", st), ("PW", pw), ("MN", mn)):
        _check_text(name, text)
    if not mn:
        raise ValueError("MN must not be empty")
    fields = [f"ST={st}", f"CN={cn}", f"PW={pw}", f"MN={mn}"]
    if (pnum is None) != (pno is None):
        raise ValueError("pnum and pno go together")
    if flag is not None:
        if not 0 <= flag <= 255:
            raise ValueError(f"Flag {flag} is not 0..255")
        fields.append(f"Flag={flag | FLAG_SPLIT if pnum is not None else flag}")
    if pnum is not None and pno is not None:
        if not 1 <= pno <= pnum <= 9999:
            raise ValueError(f"need 1 <= PNO <= PNUM <= 9999, got PNO={pno} PNUM={pnum}")
        fields += [f"PNUM={pnum}", f"PNO={pno}"]
    return fields


def _default_st(keys: list[str]) -> str:
    media = {BY_KEY[key].medium for key in keys}
    if len(media) != 1:
        raise ValueError("cannot infer ST from keys of mixed or no medium; pass st")
    return _ST_OF_MEDIUM[media.pop()]


def _code(key: str, codes: str) -> str:
    pollutant = BY_KEY[key]
    if codes == "2017":
        return pollutant.code_2017
    if codes == "2005":
        return pollutant.code_2005 or pollutant.code_2017
    raise ValueError(f"codes must be '2017' or '2005', not {codes!r}")


def _check_text(name: str, text: str) -> None:
    if _SEPARATORS.intersection(text):
        raise ValueError(f"{name}={text!r} contains a separator")


def _check_flag(key: str, letter: str) -> str:
    if not (letter and letter.isascii() and letter.isalnum()):
        raise ValueError(f"flag {letter!r} of {key!r} is not a letter or digit")
    return letter
