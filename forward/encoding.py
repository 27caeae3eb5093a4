"""What goes on the wire: HJ 212-2017 frames for platforms, JSON bodies for webhooks. Pure.

A frame is built as a data-acquisition unit would send it to the platform (hj212.md §6-§8):
ST 31 (gas) or 32 (water) from the outlet's medium, the platform's MN and PW for the outlet,
Flag 5 (version 2017 and bit A, a reply wanted, hj212.md §5.2), DataTime as local time in the
service's time zone; minutes (2051) and days (2031) with ``-Avg``, hours (2061) with ``-Avg``
and the O2-corrected ``-ZsAvg``, real-time values (2011) with ``-Rtd``; flags as ``-Flag``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

import orjson

from core.destinations import Destination
from core.pollutants import BY_KEY, Medium
from core.registry import Registry
from core.times import format_ms
from forward.source import Record
from hj212 import encode_data

FLAG_2017_ACK: Final = 5  # version bits 000001, bit A (hj212.md §5.2)
_ST: Final = {Medium.GAS: "31", Medium.WATER: "32"}


@dataclass(frozen=True)
class Credentials:
    """The MN and PW a destination knows one outlet by."""

    mn: str
    pw: str
    st: str


def credentials(dest: Destination, registry: Registry, passwords: dict[str, str]
                ) -> dict[str, Credentials]:
    """"enterprise/outlet" -> its credentials at ``dest``, for the outlets it takes that
    have an MN there (its mapping, else the outlet's first device)."""
    out: dict[str, Credentials] = {}
    for outlet in registry.iter_outlets():
        if not dest.takes(outlet.enterprise_id):
            continue
        key = f"{outlet.enterprise_id}/{outlet.id}"
        mn = dest.mn.get(key) or (outlet.devices[0].mn if outlet.devices else None)
        if mn is None:
            continue
        pw = passwords[dest.password_env_of.get(key, dest.password_env)]
        out[key] = Credentials(mn, pw, _ST[outlet.medium])
    return out


def frame(cn: str, rec: Record, cred: Credentials, tz: tzinfo) -> bytes:
    """The HJ 212 data upload of ``rec``. Raises ValueError if it cannot be encoded."""
    values = {k: v for k, v in rec.values.items() if k in BY_KEY}
    flags = {k: v for k, v in rec.flags.items() if k in values}
    groups = {g: {k: v for k, v in m.items() if k in BY_KEY} for g, m in rec.groups.items()}
    return encode_data(values, cn=cn, mn=cred.mn, pw=cred.pw, st=cred.st, flags=flags,
                       groups=groups, flag=FLAG_2017_ACK, tz=tz,
                       data_time=datetime.fromtimestamp(rec.at_ms / 1000, UTC))


def hour_body(rec: Record) -> bytes:
    """A judged hour of one outlet as a webhook's JSON."""
    enterprise, outlet = rec.outlet.split("/", 1)
    return orjson.dumps({"type": "hour", "enterprise": enterprise, "outlet": outlet,
                         "start": format_ms(rec.at_ms), "pollutants": rec.extra},
                        option=orjson.OPT_SORT_KEYS)


def alert_body(alert: dict[str, Any]) -> bytes:
    """An alert (its episode as stored) as a webhook's JSON."""
    return orjson.dumps({"type": "alert", **alert}, option=orjson.OPT_SORT_KEYS)
