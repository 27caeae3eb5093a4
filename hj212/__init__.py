"""HJ 212 codec (2005 / 2017 / 2025): CRC, decoding, reassembly of split uploads, encoding.

Pure functions and values, no I/O; reference: shared/reference/hj212.md. Modules:

- ``crc``: the standard CRC, CRC-16/MODBUS, the two printed dialects;
- ``errors``: ``Hj212Error(reason, detail)``, its reason a ``core.readings.Reason``;
- ``codec``: ``decode(frame, tz) -> Packet``;
- ``reassembly``: ``Reassembler`` for split uploads (PNUM/PNO);
- ``encode``: ``encode_frame``, ``encode_data``, ``encode_data_split``, ``encode_states``,
  ``encode_reply_9014``;
- ``cli``: ``python -m hj212 decode``.
"""

from hj212.codec import SHANGHAI, Packet, decode, parse_data_time, parse_segment, unframe
from hj212.crc import DIALECTS, MODBUS_LE, STANDARD, crc_text, hj212_crc, modbus_crc
from hj212.encode import (
    build_data_segment,
    encode_data,
    encode_data_split,
    encode_frame,
    encode_reply_9014,
    encode_states,
)
from hj212.errors import Hj212Error
from hj212.reassembly import Reassembler

__all__ = [
    "DIALECTS",
    "MODBUS_LE",
    "SHANGHAI",
    "STANDARD",
    "Hj212Error",
    "Packet",
    "Reassembler",
    "build_data_segment",
    "crc_text",
    "decode",
    "encode_data",
    "encode_data_split",
    "encode_frame",
    "encode_reply_9014",
    "encode_states",
    "hj212_crc",
    "modbus_crc",
    "parse_data_time",
    "parse_segment",
    "unframe",
]
