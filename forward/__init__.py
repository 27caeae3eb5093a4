"""The forwarder (数据转发): each outlet's stored data on to upper-level platforms and webhooks.

Tier 2, beside ``ingest`` and ``alerts``. Per destination of the registry
(``core/destinations.py``): ``feeds`` reads what is new in InfluxDB (``source``) and queues it
(``queue``: SQLite, WAL, one file per destination) as HJ 212 frames or signed JSON
(``encoding``); the ``service`` worker sends the queue in order over ``links`` and drops an
item only when the destination confirmed it. ``python -m forward`` runs them all (``app``).
"""
