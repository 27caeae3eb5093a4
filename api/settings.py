"""Settings of the HTTP API (environment prefix EMS_, e.g. EMS_API_PORT)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

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
    # The retention policy that holds the `daily` summaries; None: the database's default.
    # InfluxDB 1.x pays per series and per shard, so summaries in a policy with long shards
    # (e.g. SHARD DURATION 520w) are ranked several times faster than in the default policy's
    # 7-day shards (bench/api.py measures both).
    api_summaries_rp: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None
    api_broker_timeout_s: float = 1.0  # the health check of the MQTT broker (not of readiness)
    # Most rows one CSV export may hold: a larger one is refused with a message naming this
    # limit (narrow the period or the filters), never cut short.
    api_csv_max_rows: Annotated[int, Field(ge=1)] = 1_000_000
    # Reports issued on schedule (`python -m api reports run`): each runs this long after its
    # period ends, so that late data are judged first (the scheduler re-judges late hours).
    api_reports_delay_h: Annotated[float, Field(ge=0)] = 6.0
    # The reports job's Prometheus /metrics and /ready on this port (0 = off); /ready is 200
    # while its last pass succeeded and ended at most three pass intervals ago (core/health.py).
    api_reports_metrics_port: Annotated[int, Field(ge=0)] = 0
    api_reports_metrics_host: str = "127.0.0.1"

    # Access audit trail (api/services/audit.py): every read of non-public data, every change
    # and every denied attempt is recorded in the records database, in hash-chained batches.
    api_audit: bool = True  # off only to measure its cost (bench/api.py)
    # Events admitted and not yet written; when full, requests are refused with 503 (counted
    # in api_audit_refused), never served unrecorded.
    api_audit_queue_max: Annotated[int, Field(ge=1)] = 10_000
    api_audit_batch_max: Annotated[int, Field(ge=1)] = 500  # events per hash-chained batch
    api_audit_flush_s: Annotated[float, Field(gt=0)] = 0.5  # a batch at least this often
    # Audit records are kept this long (5 years), then removed in whole batches; 0 keeps all.
    audit_retention_days: Annotated[int, Field(ge=0)] = 1827

    # Web pages (/web/): signs the session cookie; the pages are served only when it is set.
    # At least 32 characters, the same on every replica (e.g. `openssl rand -base64 48`).
    api_session_secret: Annotated[SecretStr | None, Field(min_length=32)] = None
    # A login lasts this long at most; then the person logs in again.
    api_session_max_age_s: Annotated[int, Field(ge=60)] = 8 * 3600
    # Mark the cookie Secure: None = when the request came over HTTPS (uvicorn honours
    # X-Forwarded-Proto from trusted proxies); set true behind a TLS-terminating proxy.
    api_session_cookie_secure: bool | None = None
    # SameSite of the cookie: lax lets a link from elsewhere (an e-mail) open a page logged in;
    # every form carries a CSRF token either way.
    api_session_samesite: Literal["lax", "strict"] = "lax"

    # Public tier (/api/v1/public, no login; api/tiers.py). Judged hours are published this
    # long after their end, labelled "not yet reviewed" until an inspector confirms the day.
    api_public_delay_s: Annotated[int, Field(ge=0)] = 7200
    # Public answers are reused for this long (a crowd of readers costs one query); 0: off.
    # Each is kept under its publication cut, so none outlives its hour; a review of a day
    # forgets its enterprise's answers in the process that took it (others: the next hour).
    api_public_cache_s: Annotated[float, Field(ge=0)] = 3600.0
    # Prepare every enterprise's public answers and pages when an hour is published (about
    # 50 ms of CPU and, gzip-compressed, 40 KB of memory an enterprise), so that no reader of
    # a default view waits for the database.
    api_public_prepare: bool = True
    # Requests per client address on the public routes: a bucket of `burst` refilled at
    # `per_min` a minute; beyond it, 429 with Retry-After.
    api_public_rate_per_min: Annotated[float, Field(gt=0)] = 600.0
    api_public_rate_burst: Annotated[int, Field(ge=1)] = 60
    # Reports from the public (POST /api/v1/public/reports): at most this many an hour from one
    # client address (a bucket of this size refilled over the hour); beyond it, 429.
    api_public_reports_per_hour: Annotated[float, Field(gt=0)] = 5.0
    # Licence line of the open-data CSV downloads.
    api_public_licence: str = "Open data: free to use with attribution to the authority."
    # The public map (/public/): region outlines drawn from this GeoJSON (features with a
    # "region" property; empty: config/regions.geojson) on a blank base, or on the tiles of
    # this URL template (e.g. https://tiles.example.org/{z}/{x}/{y}.png; empty: no tiles).
    api_public_regions_file: str = ""
    api_public_tile_url: str = ""
