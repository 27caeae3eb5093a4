"""Settings of the forwarder (environment prefix EMS_, e.g. EMS_FORWARD_STATE_DIR)."""

from __future__ import annotations

from pathlib import Path

from core.settings import CommonSettings


class ForwardSettings(CommonSettings):
    # Where each destination's queue lives (one SQLite file per destination): a volume that
    # outlives the process, as the broker's persistence does.
    forward_state_dir: Path = Path("var/forward")
    forward_poll_s: float = 10.0  # how often the store is read for new data
    forward_settle_s: float = 5.0  # data younger than this is not read yet
    forward_chunk_min: int = 60  # minutes of data read per query
    # How far back late data (dirty hours) is looked for: the ingester's staleness horizon.
    forward_late_h: int = 168
    # A destination seen for the first time gets the data of this many hours before.
    forward_backfill_h: float = 24.0
    forward_window_frames: int = 100  # HJ 212 frames confirmed (and acknowledged) at a time
    forward_window_depth: int = 4  # HJ 212 windows on the wire while the oldest is answered
    forward_timeout_s: float = 10.0  # a connection, a reply or a webhook answer, at most
    forward_retry_min_s: float = 1.0  # first wait after a failed try, doubled up to the max
    forward_retry_max_s: float = 300.0
    # /ready answers 503 while a destination's oldest queued item is older than this (0: off).
    forward_ready_max_lag_s: float = 0.0
    forward_metrics_port: int = 0  # Prometheus /metrics and /ready on this port; 0 = off
    forward_metrics_host: str = "127.0.0.1"
