"""Why an HJ 212 frame was refused.

Every refusal is one ``Hj212Error`` carrying a reason code (stable, for metrics and the
``rejection`` measurement) and a human detail (for logs; it may quote a short, cut piece of
the frame). The reasons, in the order the decoder meets them:

- ``empty``: nothing (or only a line ending) was given;
- ``no_header``: the frame does not start with ``##`` (hj212.md §3);
- ``bad_length``: the 4 length digits are not digits, or the frame is longer than they say;
- ``truncated``: the frame is shorter than its length digits say;
- ``bad_crc``: the CRC is not 4 hex digits, or matches no accepted dialect (§5);
- ``bad_segment``: the data segment lacks CN, MN or ``CP=&&...&&``, or is otherwise malformed;
- ``bad_value``: a number (a reading, Flag, PNUM, PNO) does not parse or is not finite;
- ``bad_time``: DataTime is not a valid 14- or 17-digit local time.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    EMPTY = "empty"
    NO_HEADER = "no_header"
    BAD_LENGTH = "bad_length"
    TRUNCATED = "truncated"
    BAD_CRC = "bad_crc"
    BAD_SEGMENT = "bad_segment"
    BAD_VALUE = "bad_value"
    BAD_TIME = "bad_time"


class Hj212Error(ValueError):
    """An HJ 212 frame was refused: ``reason`` is a ``Reason`` value, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def excerpt(text: str | bytes, limit: int = 40) -> str:
    """A short printable quote of ``text`` for an error detail."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)
