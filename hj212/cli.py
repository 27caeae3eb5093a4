"""``python -m hj212 decode [--tz ZONE]``: one JSON object per input line, in order.

Reads frames from standard input, one per line (a trailing ``\\r`` is allowed), and prints
``{"ok": true, "crc": ..., "qn": ..., "values": {...}, ...}`` with each suffix group under its
own key (``"zs_rtd"``, ``"min"``, ``"cou"``, ...), or ``{"ok": false, "error": reason,
"detail": ...}``. An empty line is an error (``empty``). No registry is needed: the output
speaks catalogue keys, not enterprises. Output is ASCII JSON, so it never fails to print.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.times import epoch_ms, format_ms
from hj212.codec import SHANGHAI, Packet, decode
from hj212.errors import Hj212Error


def packet_json(packet: Packet) -> dict[str, Any]:
    """The CLI's JSON object for a decoded packet; missing header fields are None."""
    out: dict[str, Any] = {
        "ok": True,
        "crc": packet.crc_dialect,
        "qn": packet.qn,
        "st": packet.st,
        "cn": packet.cn,
        "mn": packet.mn,
        "flag": packet.flag,
        "version": packet.version,
        "ack_wanted": packet.ack_wanted,
        "pnum": packet.pnum,
        "pno": packet.pno,
        "data_time": iso_utc(packet),
        "values": packet.values,
        "flags": packet.flags,
        "unknown_codes": packet.unknown_codes,
    }
    out.update(packet.groups)
    return out


def iso_utc(packet: Packet) -> str | None:
    """``2026-11-24T06:30:00Z`` (milliseconds only when DataTime had them)."""
    return None if packet.data_time is None else format_ms(epoch_ms(packet.data_time))


def decode_line(line: bytes, tz: tzinfo = SHANGHAI) -> dict[str, Any]:
    """Decode one input line (its ``\\n``, ``\\r\\n`` or ``\\r`` ending optional) to JSON."""
    try:
        return packet_json(decode(line, tz))
    except Hj212Error as err:
        return {"ok": False, "error": str(err.reason), "detail": err.detail}


def run(lines: Iterable[bytes], out: IO[str], tz: tzinfo = SHANGHAI) -> None:
    for line in lines:
        out.write(json.dumps(decode_line(line, tz)) + "\n")
        out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hj212", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    decoder = commands.add_parser("decode", help="decode frames on stdin, one per line")
    decoder.add_argument("--tz", default="Asia/Shanghai", help="zone of DataTime (IANA name)")
    args = parser.parse_args(argv)
    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        parser.error(f"unknown time zone {args.tz!r}")
    try:
        run(sys.stdin.buffer, sys.stdout, tz)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other filters do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0
