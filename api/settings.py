"""Settings of the HTTP API (environment prefix EMS_, e.g. EMS_API_PORT)."""

from __future__ import annotations

from core.settings import CommonSettings


class ApiSettings(CommonSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # How long a looked-up API key is trusted before it is read again: a revocation made on
    # any replica takes effect within this time.
    api_key_cache_s: float = 5.0
    # Longest time range one request may cover.
    api_max_span_readings_days: int = 31
    api_max_span_results_days: int = 366
    # Rankings read daily summaries, which change when the scheduler runs (hourly): an answer
    # may be reused for this long. 0 turns the cache off.
    api_rankings_cache_s: float = 30.0
    api_rankings_warm_up: bool = True  # compute the default rankings when the API starts
    api_broker_timeout_s: float = 1.0  # readiness check of the MQTT broker
