"""Prometheus metrics of the HJ 212 gateway."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTIONS = Counter("gateway_connections", "Device connections accepted")
CONNECTIONS_OPEN = Gauge("gateway_connections_open", "Device connections open now")
CONNECTIONS_REFUSED = Counter("gateway_connections_refused",
                              "Connections closed at once: the maximum was reached")
CONNECTIONS_CLOSED = Counter("gateway_connections_closed", "Device connections closed",
                             ["why"])  # eof, idle, error, stop
FRAMES = Counter("gateway_frames", "Frames cut from the byte streams")
CRC_FAILURES = Counter("gateway_crc_failures", "Frames whose CRC matched no dialect")
PASSWORD_FAILURES = Counter("gateway_password_failures",
                            "Frames with a wrong access password (PW)")
UNKNOWN_DEVICES = Counter("gateway_unknown_devices", "Frames from a device not registered")
BAD_FRAMES = Counter("gateway_bad_frames", "Frames with a broken length or header")
OVERSIZE = Counter("gateway_oversize_frames", "Frames longer than the maximum frame size")
GARBAGE_BYTES = Counter("gateway_garbage_bytes", "Bytes skipped outside any frame")
INTERACTION_FRAMES = Counter("gateway_interaction_frames",
                             "Replies and heartbeats (CN 9xxx) consumed, not forwarded")
FORWARDED = Counter("gateway_forwarded", "Frames acknowledged by the broker")
UNCONFIRMED = Counter("gateway_unconfirmed",
                      "Frames the broker did not acknowledge or accept in time (no answer sent)")
ACKED = Counter("gateway_acked", "Replies (9014 data, 9013 notice) sent to devices")
HISTORY_REQUESTS = Counter("gateway_history_requests",
                           "History requests (CN 2051 BeginTime/EndTime) sent to data loggers")
HISTORY_MINUTES_ASKED = Counter("gateway_history_minutes_asked",
                                "Missing minutes asked for in history requests")
HISTORY_MINUTES_RECOVERED = Counter("gateway_history_minutes_recovered",
                                    "Asked-for minutes found stored after the request")
HISTORY_OUTCOMES = Counter("gateway_history_outcomes", "How history requests ended",
                           ["outcome"])  # done, no_data, refused, failed, unanswered
REJECTIONS_STORED = Counter("gateway_rejections_stored",
                            "Refused frames stored as rejection points in InfluxDB")
REJECTIONS_DROPPED = Counter("gateway_rejections_dropped",
                             "Refused frames not stored: the queue was full or InfluxDB refused")
