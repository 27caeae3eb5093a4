"""The ways a simulated device breaks a message, and the rejection the ingester gives each.

A malformed message is broken in one of the ways listed here, each with the rejection reason the
ingester gives it (``core.readings.Reason``, the HJ 212 codec's codes too) and what it takes with
it: the whole message, or one value. ``simulators.payloads`` renders them; scenarios are checked
against them (``simulators.scenario``).
"""

from __future__ import annotations

from core.readings import Reason

WHOLE = "whole"  # the malformation takes the whole message
FIRST = "first"  # ... the outlet's first pollutant
EXTRA = "extra"  # ... an extra key only: everything the device measured is kept

JSON_MALFORMATIONS: dict[str, tuple[str, str]] = {
    "truncated": (Reason.MALFORMED_JSON, WHOLE),
    "not_object": (Reason.NOT_OBJECT, WHOLE),
    "missing_device": (Reason.MISSING_DEVICE, WHOLE),
    "bad_timestamp": (Reason.BAD_TIMESTAMP, WHOLE),
    "string_value": (Reason.NOT_A_NUMBER, FIRST),
    "negative_value": (Reason.NEGATIVE, FIRST),
    "non_finite": (Reason.NON_FINITE, FIRST),
    "bad_flag": (Reason.BAD_FLAG, FIRST),
    "unknown_key": (Reason.UNKNOWN_POLLUTANT, EXTRA),
    "wrong_medium": (Reason.WRONG_MEDIUM, EXTRA),
}
# HJ 212 data segments broken in a well-framed packet (the codec's reasons and a value's).
HJ212_MALFORMATIONS: dict[str, tuple[str, str]] = {
    "bad_time": (Reason.BAD_TIME, WHOLE),  # DataTime that is no date
    "bad_value": (Reason.BAD_VALUE, WHOLE),  # a value that is no number: the codec refuses it all
    "unknown_code": (Reason.UNKNOWN_POLLUTANT, EXTRA),  # a factor code outside the catalogue
    "bad_flag": (Reason.BAD_FLAG, FIRST),  # a letter no HJ 212 version uses (X), first value
}
BAD_CRC_REASON = Reason.BAD_CRC  # the reason for a CRC that does not verify


def malformations_of(protocol: str) -> dict[str, tuple[str, str]]:
    """Malformed kind -> (rejection reason, scope) for an outlet of ``protocol``."""
    return JSON_MALFORMATIONS if protocol == "json" else HJ212_MALFORMATIONS


def malformations_for(protocol: str) -> tuple[str, ...]:
    """The malformed kinds an outlet of ``protocol`` can send."""
    return tuple(malformations_of(protocol))
