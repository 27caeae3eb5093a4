"""Ingestion (``python -m ingest``): readings from the broker into InfluxDB, every message
stored or rejected with a reason, acknowledged only once written.

    service.py   the ingester: parse, batch, write, acknowledge (subscriber.py, writer.py)
    topics.py    the topics of a partition;  parsers/  one parser per topic root
    parts.py     split HJ 212 uploads kept until whole;  gateway/  the HJ 212 TCP gateway

May import: ``core``, ``store``, ``hj212``, ``mqtt``.
"""
