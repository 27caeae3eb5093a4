"""Decode HJ 212 frames (2005, 2017, 2025) into ``Packet`` values. Pure: no I/O.

A frame is ``##`` + 4 length digits + data segment + 4 hex CRC digits, optionally followed by
``\\r\\n`` (hj212.md §3). ``decode`` checks framing and CRC (``unframe``), then reads the data
segment (``parse_segment``). It raises ``Hj212Error`` and nothing else, whatever the input.

Tolerances that real devices need (hj212.md §3, §4, §6, §13.3):

- data segment up to 9999 characters; its length counted in UTF-8 bytes or in characters;
- a line ending of ``\\r\\n``, ``\\r``, ``\\n`` or none;
- CRC in either dialect of ``crc.py``, hex digits in either case;
- QN and/or Flag missing (Flag missing means HJ/T 212-2005, no acknowledgement wanted);
- DataTime with 14 digits or 17 (milliseconds);
- factor codes of 2017 and of 2005 (``core.pollutants.BY_CODE``); codes not in the catalogue
  (vendor codes such as ``ua19004``) are listed in ``unknown_codes`` and kept in ``cp``;
- Appendix C typos: a 5-digit code missing its ``w``/``a`` letter (``01018-Rtd``), ``Flag=5CP=``
  without ``;``, a ``,`` between header fields, a ``,`` between CP parameters, spaces around
  the CP content.

Values: ``-Rtd`` items of real-time data (CN 2011) and ``-Avg`` items of minute, hour and day
data (CN 2051, 2061, 2031) go to ``values``; every other numeric suffix (``-Min``, ``-Max``,
``-Cou``, ``-ZsRtd``, ...) to its own group in ``groups``; ``-Flag`` to ``flags``. Other
suffixes (``-EFlag``, ``-SampleTime``, ``-Info``, ...) stay in ``cp`` only. A facility's
running state (``SBxxx-RS``, CN 2021, hj212.md §12) goes to ``states`` as sent, by facility code;
its value is judged by the receiver (0-5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from core.pollutants import BY_CODE
from core.readings import Reason
from hj212.crc import DIALECTS, STANDARD, crc_text, detect_dialect, parse_crc_text
from hj212.errors import Hj212Error, excerpt

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

# Flag bits, MSB to LSB: V5..V0 D A (hj212.md §4.2).
FLAG_ACK: Final = 0x01
FLAG_SPLIT: Final = 0x02
VERSIONS: Final[dict[int, int]] = {0: 2005, 1: 2017, 2: 2025}

# Facility status upload: ``SBxxx-RS`` items (hj212.md §8.1, §12).
STATE_CN: Final = "2021"
STATE_SUFFIX: Final = "RS"
# Suffixes of facility codes, not factor codes: running state and daily run time (CN 2041).
FACILITY_SUFFIXES: Final = frozenset({STATE_SUFFIX, "RT"})
# Which suffix carries the reading of each data upload (hj212.md §8.1, §12).
PRIMARY_SUFFIX: Final[dict[str, str]] = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}
# Numeric suffixes and the name of their group in ``Packet.groups`` (hj212.md §12).
GROUP_OF_SUFFIX: Final[dict[str, str]] = {
    "Rtd": "rtd",
    "Avg": "avg",
    "Min": "min",
    "Max": "max",
    "Cou": "cou",
    "ZsRtd": "zs_rtd",
    "ZsAvg": "zs_avg",
    "ZsMin": "zs_min",
    "ZsMax": "zs_max",
}
# System code -> code letter, to repair a 5-digit code that lost its letter (hj212.md §13.3).
_LETTER_OF_ST: Final[dict[str, str]] = {"31": "a", "32": "w"}
# 2017 and 2005 codes -> catalogue key (core/pollutants.py; hj212.md §13).
_KEY_OF_CODE: Final[dict[str, str]] = {code: p.key for code, p in BY_CODE.items()}
_INT_DIGITS_MAX: Final = 9


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded HJ 212 packet (or a reassembled split one, see ``reassembly.py``).

    ``data_time`` is aware UTC; ``values``, ``flags`` and ``groups`` are keyed by catalogue
    key; ``cp`` keeps every CP item as sent, in order.
    """

    cn: str
    mn: str
    qn: str | None = None
    st: str | None = None
    pw: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    crc_dialect: str = STANDARD
    cp: tuple[tuple[str, str], ...] = ()
    data_time: datetime | None = None
    values: dict[str, float] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    unknown_codes: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)  # facility code -> RS text

    @property
    def version(self) -> int | None:
        """2005, 2017 or 2025 from the Flag version bits; no Flag means 2005; None if unknown."""
        if self.flag is None:
            return 2005
        return VERSIONS.get(self.flag >> 2)

    @property
    def ack_wanted(self) -> bool:
        """Flag bit A: the sender waits for a reply (9014 for a data upload)."""
        return self.flag is not None and bool(self.flag & FLAG_ACK)

    @property
    def is_split(self) -> bool:
        """This packet is one part of a split upload (it carries PNUM and PNO)."""
        return self.pnum is not None and self.pno is not None


def decode(
    frame: bytes | str, tz: tzinfo = SHANGHAI, *, dialects: tuple[str, ...] = DIALECTS
) -> Packet:
    """Decode one frame; DataTime is read as local time in ``tz``. Raises ``Hj212Error``."""
    segment, dialect = unframe(frame, dialects)
    return parse_segment(segment.decode("utf-8", "replace"), tz, crc_dialect=dialect)


def unframe(frame: bytes | str, dialects: tuple[str, ...] = DIALECTS) -> tuple[bytes, str]:
    """Check header, length and CRC; return the data segment's bytes and the CRC dialect."""
    raw = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else bytes(frame)
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not raw:
        raise Hj212Error(Reason.EMPTY, "empty frame")
    if raw[:2] != b"##":
        raise Hj212Error(Reason.NO_HEADER, f"frame does not start with '##': {excerpt(raw)}")
    body = raw[6:]
    want = _length(raw[2:6]) + 4
    if len(body) != want and not _char_count_is(body, want):
        detail = f"length field says {want - 4} + 4 CRC, frame has {len(body)} bytes"
        raise Hj212Error(Reason.TRUNCATED if len(body) < want else Reason.BAD_LENGTH, detail)
    segment = body[:-4]
    printed = parse_crc_text(body[-4:])
    if printed is None:
        raise Hj212Error(Reason.BAD_CRC, f"CRC field {excerpt(body[-4:])} is not 4 hex digits")
    dialect = detect_dialect(segment, printed, dialects)
    if dialect is None:
        expected = ", ".join(f"{d} {crc_text(segment, d)}" for d in dialects)
        raise Hj212Error(Reason.BAD_CRC, f"CRC {body[-4:].decode()} matches none of: {expected}")
    return segment, dialect


def _length(digits: bytes) -> int:
    if len(digits) == 4 and digits.isdigit():
        return int(digits)
    if len(digits) < 4 and (not digits or digits.isdigit()):
        raise Hj212Error(Reason.TRUNCATED, "frame ends inside its length field")
    raise Hj212Error(Reason.BAD_LENGTH, f"length field {excerpt(digits)} is not 4 digits")


def _char_count_is(body: bytes, want: int) -> bool:
    """Whether ``body`` is ``want`` characters long once read as UTF-8 (hj212.md §3)."""
    if len(body) <= want or body.isascii():
        return False
    try:
        return len(body.decode("utf-8")) == want
    except UnicodeDecodeError:
        return False


def parse_segment(text: str, tz: tzinfo = SHANGHAI, *, crc_dialect: str = STANDARD) -> Packet:
    """Read a data segment (framing already checked) into a ``Packet``."""
    cp_at = text.find("CP=&&")
    if cp_at < 0:
        raise Hj212Error(Reason.BAD_SEGMENT, "no 'CP=&&' data area")
    cp = text[cp_at + 5 :].rstrip()
    if not cp.endswith("&&"):
        raise Hj212Error(Reason.BAD_SEGMENT, "CP data area is not closed by '&&'")
    header = _parse_header(text[:cp_at])
    cn, mn = header.get("CN"), header.get("MN")
    if not cn or not mn:
        raise Hj212Error(Reason.BAD_SEGMENT, f"no {'CN' if not cn else 'MN'} in the header")
    flag = _parse_int(header, "Flag", 255)
    # PNUM and PNO have at most 4 digits (field lengths of HJ 212-2017, hj212.md §4.1).
    pnum, pno = _parse_int(header, "PNUM", 9999), _parse_int(header, "PNO", 9999)
    if (pnum is None) != (pno is None) or (
        pnum is not None and pno is not None and not 1 <= pno <= pnum
    ):
        raise Hj212Error(Reason.BAD_SEGMENT, f"inconsistent PNUM={pnum} PNO={pno}")
    data = _CpReader(cn, header.get("ST"))
    data.read(cp[:-2].strip())
    return Packet(
        cn=cn,
        mn=mn,
        qn=header.get("QN"),
        st=header.get("ST"),
        pw=header.get("PW"),
        flag=flag,
        pnum=pnum,
        pno=pno,
        crc_dialect=crc_dialect,
        cp=tuple(data.items),
        data_time=None if data.data_time is None else parse_data_time(data.data_time, tz),
        values=data.values,
        flags=data.flags,
        groups=data.groups,
        unknown_codes=sorted(data.unknown),
        states=data.states,
    )


def _parse_header(head: str) -> dict[str, str]:
    """Header fields in any order; ``,`` is read as ``;`` (Appendix C typo, hj212.md §13.3)."""
    fields: dict[str, str] = {}
    for item in head.replace(",", ";").split(";"):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise Hj212Error(Reason.BAD_SEGMENT, f"header item {excerpt(item)} has no '='")
        fields[name.strip()] = value
    return fields


def _parse_int(header: dict[str, str], name: str, maximum: int | None = None) -> int | None:
    text = header.get(name)
    if text is None:
        return None
    if not (0 < len(text) <= _INT_DIGITS_MAX and text.isascii() and text.isdigit()):
        raise Hj212Error(Reason.BAD_VALUE, f"{name}={excerpt(text)} is not a whole number")
    number = int(text)
    if maximum is not None and number > maximum:
        raise Hj212Error(Reason.BAD_VALUE, f"{name}={number} is above {maximum}")
    return number


class _CpReader:
    """Reads CP items: ``;`` separates monitored objects, ``,`` items of one object (§4.3)."""

    __slots__ = ("primary", "st", "items", "data_time", "values", "flags", "groups", "unknown",
                 "states")

    def __init__(self, cn: str, st: str | None) -> None:
        self.primary = PRIMARY_SUFFIX.get(cn)
        self.st = st
        self.items: list[tuple[str, str]] = []
        self.data_time: str | None = None
        self.values: dict[str, float] = {}
        self.flags: dict[str, str] = {}
        self.groups: dict[str, dict[str, float]] = {}
        self.unknown: set[str] = set()
        self.states: dict[str, str] = {}

    def read(self, cp: str) -> None:
        """One pass over the items, with locals only: this is the decoder's hot loop."""
        key_of, primary, items = _KEY_OF_CODE, self.primary, self.items
        values, flags, groups = self.values, self.flags, self.groups
        for part in cp.split(";"):
            for item in part.split(","):
                if not item:
                    continue
                name, sep, value = item.partition("=")
                if not sep:
                    raise Hj212Error(Reason.BAD_SEGMENT, f"CP item {excerpt(item)} has no '='")
                items.append((name, value))
                code, dash, suffix = name.partition("-")
                if not dash:
                    if name == "DataTime":
                        self.data_time = value
                    continue
                key = key_of.get(code)
                if key is None:
                    if suffix in FACILITY_SUFFIXES:  # a facility, not a factor (hj212.md §12)
                        if suffix == STATE_SUFFIX:
                            self.states[code] = value.strip()
                        continue
                    key = self._resolve(code)
                    if key is None:
                        continue
                if suffix == primary:
                    values[key] = parse_number(value, name)
                elif suffix == "Flag":
                    flags[key] = _flag_letter(value, name)
                elif suffix in GROUP_OF_SUFFIX:
                    group = groups.setdefault(GROUP_OF_SUFFIX[suffix], {})
                    group[key] = parse_number(value, name)

    def _resolve(self, code: str) -> str | None:
        """The key of a code not in the catalogue as sent: repaired, or listed as unknown."""
        key = _repair_code(code, self.st)
        if key is None and code:
            self.unknown.add(code)
        return key


def _repair_code(code: str, st: str | None) -> str | None:
    """``01018`` -> ``w01018`` (Appendix C.14 typo), when the system code or uniqueness tells."""
    if len(code) != 5 or not code.isdigit() or not code.isascii():
        return None
    letter = _LETTER_OF_ST.get(st or "")
    letters = (letter,) if letter else ("a", "w")
    found = [_KEY_OF_CODE[x + code] for x in letters if x + code in _KEY_OF_CODE]
    return found[0] if len(found) == 1 else None


def _flag_letter(text: str, name: str) -> str:
    letter = text.strip()
    if not letter:
        raise Hj212Error(Reason.BAD_VALUE, f"{name} is empty")
    return letter


def parse_number(text: str, name: str = "value") -> float:
    """A finite decimal number (HJ 212 ``Nn.m``, signed, exponent tolerated). Raises bad_value."""
    try:
        number = float(text)
    except ValueError:
        raise Hj212Error(Reason.BAD_VALUE, f"{name}={excerpt(text)} is not a number") from None
    if not math.isfinite(number) or "_" in text or not text.isascii():
        raise Hj212Error(Reason.BAD_VALUE, f"{name}={excerpt(text)} is not a finite number")
    return number


def parse_data_time(text: str, tz: tzinfo = SHANGHAI) -> datetime:
    """``YYYYMMDDhhmmss[zzz]`` read as local time in ``tz``, returned as aware UTC (§4.3)."""
    size = len(text)
    if size not in (14, 17) or not text.isascii() or not text.isdigit():
        raise Hj212Error(Reason.BAD_TIME, f"DataTime={excerpt(text)} is not 14 or 17 digits")
    try:
        local = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]),
            int(text[12:14]),
            int(text[14:17]) * 1000 if size == 17 else 0,
            tzinfo=tz,
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise Hj212Error(Reason.BAD_TIME, f"DataTime={text} is not a valid time: {exc}") from None
