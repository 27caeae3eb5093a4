"""Settings of the notifier (``python -m alerts.notify``; environment prefix EMS_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from core.settings import CommonSettings


class NotifySettings(CommonSettings):
    notify_interval_s: Annotated[float, Field(gt=0)] = 30.0  # a decide-and-send pass this often
    # Alerts active, or ended this recently, are looked at (a notifier down for longer misses
    # the closings of older ones, never the openings of active ones).
    notify_lookback_hours: Annotated[int, Field(ge=1)] = 48
    # An alert still open (not acknowledged) this long after it opened goes to the recipients
    # of level 2; twice as long, level 3; and so on.
    notify_escalate_after_min: Annotated[float, Field(gt=0)] = 60.0
    # Low-severity alerts of recipients with `digest = true` go out once a day at this local
    # hour, in one message.
    notify_digest_hour: Annotated[int, Field(ge=0, le=23)] = 8
    # Quiet hours hold notifications until they end, except those of this severity or above.
    notify_quiet_bypass: Annotated[str, Field(pattern="^(low|medium|high|critical)$")] = "critical"
    # Who is notified: a TOML file of [[recipient]] tables, loaded into the records database
    # when the notifier starts (None: the recipients already there).
    notify_recipients_path: Path | None = None
    notify_smtp_host: str = "127.0.0.1"
    notify_smtp_port: int = 25
    notify_smtp_starttls: bool = False
    notify_smtp_user: str | None = None
    notify_smtp_password: SecretStr | None = None
    notify_mail_from: str = "ems-alerts@localhost"
    notify_timeout_s: Annotated[float, Field(gt=0)] = 10.0  # one SMTP or HTTP delivery
    notify_retry_max_s: Annotated[float, Field(gt=0)] = 600.0  # backoff of failed deliveries
    # Prometheus /metrics and /ready on this port (0 = off); /ready is 200 while the last pass
    # succeeded and ended at most three intervals ago (core/health.py).
    notify_metrics_port: Annotated[int, Field(ge=0)] = 0
    notify_metrics_host: str = "127.0.0.1"
