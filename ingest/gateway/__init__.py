"""HJ 212 TCP gateway (``python -m ingest.gateway``; DESIGN §3.2, hj212.md §2, §3, §7).

Data-acquisition units connect over TCP and send HJ 212 frames. The gateway cuts frames out of
each byte stream, checks CRC, device (MN) and access password (PW), publishes each admitted frame
verbatim to ``hj212/{MN}`` at QoS 1, and only once the broker has acknowledged it answers the
device (9014 data reply when the frame's Flag bit A asks for one). The ingester does the rest
(``ingest/parsers/hj212.py``). If the broker does not acknowledge in time the device gets no
answer and sends the frame again after its own time-out: a copy may then reach the broker
twice, which the store absorbs (a point overwrites itself).

Modules: ``framing`` (byte stream -> frames, pure), ``admission`` (which frames to forward and
what to answer, pure), ``forwarder`` (the one MQTT client), ``server`` (listener and one plain
thread per connection), ``rejections`` (refused frames stored as rejections of the device's
enterprise), ``settings``, ``metrics``.
"""
