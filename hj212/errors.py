"""Why an HJ 212 frame was refused.

Every refusal is one ``Hj212Error`` carrying a reason code (stable, for metrics and the
``rejection`` measurement) and a human detail (for logs; it may quote a short, cut piece of
the frame). The codes are members of ``core.readings.Reason`` (``empty``, ``no_header``,
``bad_length``, ``truncated``, ``bad_crc``, ``bad_segment``, ``bad_value``, ``bad_time``: each
described there), the one enum of every rejection reason, whichever parser found it.
"""

from __future__ import annotations

from core.readings import Reason


class Hj212Error(ValueError):
    """An HJ 212 frame was refused: ``reason`` is a ``Reason`` value, ``detail`` says why."""

    def __init__(self, reason: Reason, detail: str) -> None:
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
