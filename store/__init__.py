"""Storage for what is not a time series: records with identities, histories, uniqueness and
concurrent updates (API keys, alert workflow and notes, operating-state marks, registry loads,
revoked web sessions), in a relational database through SQLAlchemy 2 with Alembic migrations.

SQLite is the embedded default (``sqlite:///var/records.db``: ``make run`` needs nothing more);
PostgreSQL serves deployments where several API replicas share the records
(``postgresql+psycopg://user@host/db``). InfluxDB keeps the time series (store.influx sends
and queries; store.lines encodes every point it is sent).

May import: ``core`` only. Imported by the services (ingest, alerts, api) and devstack.
"""
