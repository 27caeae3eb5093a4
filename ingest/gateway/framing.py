"""Cut HJ 212 frames out of a TCP byte stream (hj212.md §3). Pure: no I/O.

TCP delivers half a frame, or several frames, in one read; devices also send noise (modem
banners, ``AT`` echoes, line noise, a half frame from before a reboot). ``FrameSplitter.feed``
takes whatever arrived and returns the whole frames found so far:

- a frame starts at ``##``; bytes before it are skipped (line ends and NULs silently, anything
  else counted as garbage);
- it is cut by its length field: ``##`` + 4 digits ``n`` + ``n`` bytes + 4 CRC characters,
  followed by ``\\r\\n``, a lone ``\\r`` or ``\\n``, or nothing (the codec accepts all of these);
- a length that would make the frame longer than ``max_frame_bytes`` refuses the frame
  (``oversize``) without waiting for it: the splitter skips its header, and what follows is
  skipped up to the next ``##``;
- a header that does not lead to a frame (4 non-digits, or something other than a line end or
  the next ``##`` where the frame should end) is garbage: the splitter moves on by one byte and
  looks for the next ``##``. When the bytes after the CRC are neither, the length may count
  UTF-8 characters rather than bytes (§3): the frame then runs to the next ``\\r\\n``, unless a
  ``##`` comes first;
- a header still waiting for its bytes gives way to a later ``##`` that already holds a whole,
  CRC-valid frame (a device that restarted mid-frame, or a stray ``##0999`` in noise), and so
  does one whose declared extent holds another ``##`` and ends in something odd.

Whether a frame's CRC and content are right is for the codec to say; the splitter only promises
that what it returns is one candidate frame, and that it never holds more than
``max_frame_bytes`` waiting.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from hj212 import Hj212Error, unframe

HEADER: Final = b"##"
# Header, 4 length digits, 4 CRC characters, CR LF: a frame with an empty data segment.
OVERHEAD_BYTES: Final = 2 + 4 + 4 + 2
# The longest frame the standard's 4 length digits allow (hj212.md §3: accept up to 9999).
MAX_FRAME_BYTES: Final = OVERHEAD_BYTES + 9999
_SILENT: Final = b" \t\r\n\x00"


class Split(NamedTuple):
    """What one ``feed`` found: whole frames, garbage bytes skipped, oversize frames refused."""

    frames: list[bytes]
    garbage_bytes: int = 0
    oversize: int = 0


def _garbage(buf: bytearray, start: int, end: int) -> int:
    """Bytes in ``buf[start:end]`` that are not line ends, blanks or NULs."""
    return len(bytes(buf[start:end]).translate(None, _SILENT)) if end > start else 0


class FrameSplitter:
    """One per connection: feed it bytes as they arrive, take whole frames out."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < OVERHEAD_BYTES:
            raise ValueError(f"max_frame_bytes must be at least {OVERHEAD_BYTES}")
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> Split:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        garbage = oversize = pos = 0
        size = len(buf)
        while True:
            start = buf.find(HEADER, pos)
            if start < 0:
                keep = size - 1 if size > pos and buf[-1] == HEADER[0] else size
                garbage += _garbage(buf, pos, keep)
                pos = keep
                break
            garbage += _garbage(buf, pos, start)
            pos = start
            if size - pos < 6:
                break
            digits = bytes(buf[pos + 2 : pos + 6])
            if not (digits.isascii() and digits.isdigit()):
                garbage, pos = garbage + 1, pos + 1
                continue
            crc_end = pos + 6 + int(digits) + 4
            if crc_end + 2 - pos > self.max_frame_bytes:
                oversize, pos = oversize + 1, pos + 2
                continue
            if size < crc_end:
                if self._later_frame(buf, pos + 2):
                    garbage, pos = garbage + 1, pos + 1
                    continue
                break
            end = self._frame_end(buf, pos, crc_end)
            if end is None:
                break
            if end < 0:
                garbage, pos = garbage + 1, pos + 1
                continue
            frames.append(bytes(buf[pos:end]))
            pos = end
        del buf[:pos]
        return Split(frames, garbage, oversize)

    def _frame_end(self, buf: bytearray, pos: int, crc_end: int) -> int | None:
        """Where the frame whose CRC ends at ``crc_end`` ends; None: wait; -1: not a frame."""
        after = bytes(buf[crc_end : crc_end + 2])
        if after == b"\r\n":
            return crc_end + 2
        if after[:1] in (b"\r", b"\n"):
            return crc_end + 1  # a lone CR or LF; an LF arriving later is skipped silently
        if after[:1] == HEADER[:1]:
            return crc_end  # no line end: the next frame (or noise) follows at once
        if not after:
            if _valid(buf[pos:crc_end]):
                return crc_end
            return -1 if self._later_frame(buf, pos + 2) else None
        if buf.find(HEADER, pos + 2, crc_end) >= 0:
            return -1  # a header inside: this one was cut short (a device restarted mid-frame)
        limit = min(len(buf), pos + self.max_frame_bytes)
        line_end = buf.find(b"\r\n", crc_end, limit)
        header = buf.find(HEADER, crc_end, limit)
        if line_end >= 0 and (header < 0 or line_end < header):
            return line_end + 2  # the length counted characters, not bytes (hj212.md §3)
        if header >= 0 or len(buf) - pos >= self.max_frame_bytes:
            return -1
        return None

    def _later_frame(self, buf: bytearray, start: int) -> bool:
        """Whether a whole, CRC-valid frame starts at some ``##`` at or after ``start``."""
        at = buf.find(HEADER, start)
        while at >= 0:
            digits = bytes(buf[at + 2 : at + 6])
            if len(digits) == 4 and digits.isascii() and digits.isdigit():
                crc_end = at + 6 + int(digits) + 4
                if crc_end <= len(buf) and _valid(buf[at:crc_end]):
                    return True
            at = buf.find(HEADER, at + 1)
        return False


def _valid(candidate: bytearray) -> bool:
    try:
        unframe(bytes(candidate))
    except Hj212Error:
        return False
    return True
