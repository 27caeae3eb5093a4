"""python -m store.schema: create the database and its retention policies, then exit.

For deployments where the services hold no admin rights on InfluxDB 1.x (docker-compose.yml):
this one-shot job runs with an admin user, the services with ``EMS_INFLUX_CREATE_SCHEMA=false``.
Running it again is harmless, and applies changed retention durations.
"""

from __future__ import annotations

import logging
import time

from core.logs import setup_logging
from core.settings import CommonSettings
from store import retention
from store.influx import InfluxStore, StoreUnavailable, store_from_settings

log = logging.getLogger("store.schema")


def create_schema(store: InfluxStore, wait_s: float = 60.0) -> None:
    """Create the database and policies, waiting up to ``wait_s`` for InfluxDB to answer."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            store.create_database()
        except StoreUnavailable as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("waiting for InfluxDB at %s (%s)", store.url, exc)
            time.sleep(1.0)
        else:
            return


def main() -> None:
    settings = CommonSettings()
    setup_logging(settings.log_level)
    store = store_from_settings(settings)
    store.create_schema = True
    try:
        create_schema(store)
    finally:
        store.close()
    for policy in store.policies:
        members = sorted(m for m, p in retention.POLICY_OF.items() if p == policy.name)
        log.info("retention policy %s: %s, kept %s", policy.name, ", ".join(members),
                 f"{policy.duration_h // 24} days" if policy.duration_h else "forever")


if __name__ == "__main__":
    main()
