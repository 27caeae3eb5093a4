"""HJ 212 frame checksums: the standard's CRC, CRC-16/MODBUS, and the two printed dialects.

The standard CRC (HJ 212-2017 Appendix A; hj212.md §5.2) uses the reflected polynomial 0xA001
and initial value 0xFFFF like CRC-16/MODBUS, but before each byte it shifts the register right
by 8 and so drops the old low byte. After that step the register is a single byte ``x``, and the
eight shift-and-XOR rounds that follow turn it into ``TABLE[x]``, the classic reflected CRC-16
table entry. Hence one table look-up per byte, and only 256 possible results (§5.4).

Dialects (hj212.md §5.5, §6.3), detected per frame because one device id was seen with both:

- ``standard``: the HJ 212 CRC, 4 hex digits, high byte first;
- ``modbus-le``: CRC-16/MODBUS printed low byte first (its two bytes in Modbus wire order).

Hex digits compare case-insensitively; we always emit upper case, zero-padded (§5.2, §6.4).
"""

from __future__ import annotations

from typing import Final, Literal

Dialect = Literal["standard", "modbus-le"]
STANDARD: Final = "standard"
MODBUS_LE: Final = "modbus-le"
DIALECTS: Final[tuple[Dialect, ...]] = (STANDARD, MODBUS_LE)

_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")


def _reflected_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        reg = byte
        for _ in range(8):
            reg = (reg >> 1) ^ poly if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


TABLE: Final[tuple[int, ...]] = _reflected_table(0xA001)
_HIGH: Final[tuple[int, ...]] = tuple(entry >> 8 for entry in TABLE)
# Every standard CRC is a table entry (0xFFFF for no data): a printed value outside this set
# cannot be a standard CRC, which spares Modbus-style frames half their checking (§5.4).
_STANDARD_RESULTS: Final = frozenset(TABLE) | {0xFFFF}


def hj212_crc(data: bytes) -> int:
    """The HJ 212 CRC of ``data`` (the data segment's bytes), hj212.md §5.2.

    Only the register's high byte carries over from one byte to the next, so the loop keeps
    just that byte (a third faster than keeping the whole register) and the last byte's table
    entry is the result.
    """
    if not data:
        return 0xFFFF
    high = _HIGH
    carry = 0xFF
    for byte in data[:-1]:
        carry = high[carry ^ byte]
    return TABLE[carry ^ data[-1]]


def modbus_crc(data: bytes) -> int:
    """CRC-16/MODBUS of ``data`` as a number (its low byte goes first on a Modbus wire)."""
    table = TABLE
    reg = 0xFFFF
    for byte in data:
        reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
    return reg


def crc_text(data: bytes, dialect: str = STANDARD) -> str:
    """The 4 upper-case hex digits that a frame in ``dialect`` carries for segment ``data``."""
    if dialect == STANDARD:
        return f"{hj212_crc(data):04X}"
    if dialect == MODBUS_LE:
        crc = modbus_crc(data)
        return f"{crc & 0xFF:02X}{crc >> 8:02X}"
    raise ValueError(f"unknown CRC dialect {dialect!r}; expected one of {DIALECTS}")


def parse_crc_text(text: bytes) -> int | None:
    """The number that 4 hex digits (either case) stand for, or None if they are not that."""
    if len(text) != 4 or not _HEX_DIGITS.issuperset(text):
        return None
    return int(text, 16)


def detect_dialect(
    data: bytes, printed: int, dialects: tuple[str, ...] = DIALECTS
) -> Dialect | None:
    """Which allowed dialect makes ``printed`` the CRC of ``data``; None if none does.

    The standard dialect is tried first: it is the common case, and a frame that happens to
    match both (1 in 65 536) is read as standard.
    """
    if STANDARD in dialects and printed in _STANDARD_RESULTS and hj212_crc(data) == printed:
        return STANDARD
    if MODBUS_LE in dialects:
        crc = modbus_crc(data)
        if ((crc & 0xFF) << 8 | crc >> 8) == printed:
            return MODBUS_LE
    return None
