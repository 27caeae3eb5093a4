"""Service settings, read from the environment (prefix ``EMS_``) or a ``.env`` file.

Each service has its own ``Settings`` subclass, built once in its ``__main__`` and passed down as
arguments; tests build their own. Secrets are ``SecretStr`` and have no default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """What every service needs: where the broker, the database and the registry are."""

    model_config = SettingsConfigDict(env_prefix="EMS_", env_file=".env", extra="ignore")

    mqtt_host: str = "127.0.0.1"  # MQTT broker
    mqtt_port: int = 1883
    mqtt_username: str | None = None  # this service's broker user (python -m mqtt.access)
    mqtt_password: SecretStr | None = None
    mqtt_keepalive_s: int = 30

    influx_url: str = "http://127.0.0.1:8086"  # InfluxDB's 1.x HTTP API (any generation)
    influx_database: str = "emissions"
    influx_username: str | None = None  # a 1.x user, or any name with a 2.x/3.x token
    influx_password: SecretStr | None = None  # its password, or the 2.x/3.x token
    influx_timeout_s: float = 10.0
    # Create the database and its retention policies at start (needs an admin user on
    # InfluxDB 1.x). Turn off when an operator or `python -m store.schema` creates them, and on
    # InfluxDB 2.x/3.x, where buckets take their place (docs/operations.md).
    influx_create_schema: bool = True
    # How long raw minute readings and rejections are kept, in days (0: forever).
    retention_raw_days: int = 1830
    # How long judged hours and days, daily summaries and alerts are kept, in days (0: forever).
    retention_results_days: int = 0

    # The records database (SQLAlchemy URL): API keys, alert workflow and notes, operating-state
    # marks, revoked web sessions and registry loads. SQLite by default (a file, created with
    # its directory); `postgresql+psycopg://user:password@host/db` shared by API replicas.
    records_url: str = "sqlite:///var/records.db"

    registry_path: Path = Path("config/registry.example.toml")  # enterprises, outlets, devices
    limits_path: Path = Path("config/limits.toml")  # emission standards and their limits
    timezone: str = "Asia/Shanghai"  # local days of daily means and summaries
    log_level: str = "INFO"
    # Shift this service's clock by this many seconds (core/clock.py): 0 in production; tests
    # and replays of recorded days run the services at an instant of their choosing.
    clock_offset_s: float = 0.0
