"""RFC 3339 times: the one parser and the one formatter of the whole tree.

Times inside the service are integer epoch milliseconds (UTC); text is RFC 3339. A time given
as text must carry its offset (``Z`` or ``+hh:mm``, DESIGN §3.1: a local time without one is
ambiguous), with seconds, at most microseconds (``parse_ms``, the rules the API has always
applied to its query parameters). Times written out are UTC with ``Z`` (``format_ms``).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

# RFC 3339 with an explicit offset (Z or +hh:mm); T, t or a space between date and time (§5.6
# allows the space); at most microseconds.
RFC3339_RE: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)

Timespec = Literal["auto", "milliseconds", "seconds", "minutes"]


class NotRfc3339(ValueError):
    """The text is not shaped as an RFC 3339 time with an offset."""


def parse_ms(text: str) -> int:
    """Epoch milliseconds (floored) of an RFC 3339 time with an offset.

    Raises ``NotRfc3339`` when the text is not shaped so, ``ValueError`` when it names no real
    moment (month 13, 30 February).
    """
    if not RFC3339_RE.fullmatch(text):
        raise NotRfc3339(f"not an RFC 3339 time with offset: {text!r}")
    try:
        plain = text[10] == "T" and text[-1] != "z"  # datetime reads T and Z only
        return epoch_ms(datetime.fromisoformat(text if plain else text.upper().replace(" ", "T")))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a valid date and time: {text!r} ({exc})") from None


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds (floored, exact) of an aware datetime."""
    return (moment - _EPOCH) // _MS


def format_ms(ms: int, timespec: Timespec = "auto") -> str:
    """RFC 3339 UTC text (``...Z``) of epoch milliseconds.

    ``auto``: seconds, and milliseconds when there are any (``2026-11-26T10:00:00Z``,
    ``2026-11-26T10:00:00.250Z``); ``milliseconds`` always, ``seconds`` and ``minutes`` cut
    (not rounded) to that unit, for logs and summaries.
    """
    secs, rem = divmod(int(ms), 1000)
    if timespec == "minutes":
        return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(secs))
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if timespec == "milliseconds" or (timespec == "auto" and rem):
        return f"{text}.{rem:03d}Z"
    return f"{text}Z"
