"""Settings of the compliance scheduler (environment prefix EMS_, e.g. EMS_ALERTS_INTERVAL_S)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from alerts.rules.compliance import DEFAULT_O2_CUTOFF_PCT
from alerts.rules.episodes import FLAT_MIN_HOURS
from core.settings import CommonSettings


class AlertSettings(CommonSettings):
    # The watermark is kept per job name: two schedulers with the same name share it.
    alerts_job: str = "judge"
    alerts_interval_s: Annotated[float, Field(gt=0)] = 60.0
    # Several schedulers in high availability: only the holder of a PostgreSQL advisory lock
    # on the records database judges; another takes over within one interval (alerts/lease.py).
    alerts_lease: bool = False
    # Completed hours judged again on every pass, so that late data counts.
    alerts_rejudge_hours: Annotated[int, Field(ge=1)] = 3
    # After downtime, missed hours are judged back to at most this many hours before now.
    alerts_catchup_hours: Annotated[int, Field(ge=1)] = 72
    # Hours that received data late (store.late) are judged again back to this many hours
    # before now: the ingester's staleness horizon (EMS_INGEST_MAX_AGE_S, 7 days by default).
    alerts_late_hours: Annotated[int, Field(ge=1)] = 7 * 24
    # Catch-up proceeds in segments of this many hours (hours, days, alerts, then watermark);
    # each segment reads its minutes in queries of alerts_query_hours hours.
    alerts_segment_hours: Annotated[int, Field(ge=1)] = 6
    alerts_query_hours: Annotated[int, Field(ge=1)] = 1
    # Concurrent queries per range (pollutants split between them): InfluxDB encodes each on
    # one core, so 2 let it use two.
    alerts_fetch_parallel: Annotated[int, Field(ge=1)] = 2
    # An outlet with no reading for longer than this has a data_gap alert.
    alerts_gap_minutes: Annotated[int, Field(ge=1)] = 30
    # A valid hourly mean unchanged for at least this many hours is a suspicious_flatline.
    alerts_flat_hours: Annotated[int, Field(ge=2)] = FLAT_MIN_HOURS
    # O2 at or above this needs stop evidence, else the hour is unexplained_high_o2
    # (compliance-rules.md §1.2; the cut-off is in no text, so configurable).
    alerts_o2_cutoff_pct: Annotated[float, Field(gt=0, le=21)] = DEFAULT_O2_CUTOFF_PCT
    # More invalid hours than this in one local day of one series: an invalid_data alert.
    alerts_invalid_hours: Annotated[int, Field(ge=0)] = 4
    # Prometheus /metrics on this port (loopback); 0 = off.
    alerts_metrics_port: Annotated[int, Field(ge=0)] = 0
    # Watch the broker's $SYS dropped-message counter and raise a broker_drops alert when it
    # grows (needs read access to $SYS/#: the broker's `alerts` user has it).
    alerts_watch_broker: bool = True
    # Fraud signs (alerts.rules.fraud; product thresholds, not from a standard). Off: the pass
    # judges and raises the other kinds only.
    alerts_detect: bool = True
    # The sign modules run this many at a time (they mostly wait for InfluxDB).
    alerts_detect_parallel: Annotated[int, Field(ge=1, le=8)] = 2
    # The outlet's own history: valid hours this far back before the hours derived.
    alerts_history_hours: Annotated[int, Field(ge=1)] = 7 * 24
    # pinned_under_limit: this many consecutive valid hours with a corrected mean between
    # alerts_pinned_band_pct % of the limit and the limit, a CV (sd / mean) of at most
    # alerts_pinned_max_cv_pct %, and, with alerts_pinned_history_min_hours of history, an sd
    # at most alerts_pinned_history_ratio x the history's.
    alerts_pinned_hours: Annotated[int, Field(ge=2)] = 6
    alerts_pinned_band_pct: Annotated[float, Field(gt=0, lt=100)] = 90.0
    alerts_pinned_max_cv_pct: Annotated[float, Field(gt=0)] = 0.5
    alerts_pinned_history_min_hours: Annotated[int, Field(ge=2)] = 24
    alerts_pinned_history_ratio: Annotated[float, Field(gt=0)] = 0.25
    # o2_inconsistent: this many consecutive valid hours whose O2 mean is at least
    # max(alerts_o2_shift_pct, alerts_o2_shift_sigmas x sd) points below the outlet's history
    # mean while the raw pollutant mean is at least alerts_o2_rise x its history mean; needs
    # alerts_o2_history_min_hours valid hours of history.
    alerts_o2_hours: Annotated[int, Field(ge=1)] = 2
    alerts_o2_shift_pct: Annotated[float, Field(gt=0, le=21)] = 3.0
    alerts_o2_shift_sigmas: Annotated[float, Field(ge=0)] = 3.0
    alerts_o2_rise: Annotated[float, Field(gt=1)] = 1.5
    alerts_o2_history_min_hours: Annotated[int, Field(ge=1)] = 3
    # o2_below_norm: this many consecutive operating hours whose O2 mean is under the floor of
    # normal operation of the outlet's source type (alerts_o2_norms_file, a TOML file of
    # [[norm]] tables; empty: config/o2_norms.toml). o2_against_flow: this many consecutive
    # operating hours whose O2 mean is at least alerts_o2_flow_shift_pct points under the mean
    # O2 of the outlet's hours of the alerts_o2_flow_history_hours before with a flow within
    # alerts_o2_flow_tolerance_pct % of the hour's (at least alerts_o2_flow_similar_min_hours).
    alerts_o2_norm_hours: Annotated[int, Field(ge=1)] = 3
    alerts_o2_norms_file: str = ""
    alerts_o2_flow_hours: Annotated[int, Field(ge=1)] = 3
    alerts_o2_flow_shift_pct: Annotated[float, Field(gt=0, le=21)] = 1.5
    alerts_o2_flow_tolerance_pct: Annotated[float, Field(gt=0, lt=100)] = 15.0
    alerts_o2_flow_similar_min_hours: Annotated[int, Field(ge=1)] = 3
    alerts_o2_flow_history_hours: Annotated[int, Field(ge=1)] = 48
    # near_constant: this many consecutive operating hours whose minute values' within-hour CV
    # is at most alerts_constant_ratio x the lower-quartile CV of the outlet's operating hours
    # before (at least alerts_constant_history_min_hours of them), on the judged pollutants and
    # these keys.
    alerts_constant_hours: Annotated[int, Field(ge=1)] = 3
    alerts_constant_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.25
    alerts_constant_history_min_hours: Annotated[int, Field(ge=1)] = 12
    alerts_constant_keys: tuple[str, ...] = ("o2", "flow", "temp", "water_flow")
    # flags_follow_readings: this many consecutive hours whose valid minutes' corrected mean is
    # at least alerts_flags_high_pct % of the limit and whose M/C/D/S-flagged share of minutes
    # is at least alerts_flags_min_pct % and alerts_flags_ratio x the share in the outlet's
    # other hours (at least alerts_flags_history_min_hours of them). manual_values: any S value.
    alerts_flags_hours: Annotated[int, Field(ge=1)] = 2
    alerts_flags_high_pct: Annotated[float, Field(gt=0)] = 80.0
    alerts_flags_min_pct: Annotated[float, Field(gt=0, le=100)] = 10.0
    alerts_flags_ratio: Annotated[float, Field(gt=1)] = 3.0
    alerts_flags_history_min_hours: Annotated[int, Field(ge=1)] = 12
    # device_mismatch: the hour means a device reports (HJ 212 CN 2061) against the service's
    # means of the same minutes; corrected_mismatch: the converted value it reports (ZsAvg)
    # against the conversion of its own mean (GB 13271-2014 §5.2 formula (1)). A mismatch
    # differs by more than alerts_device_tolerance_pct % of the larger value and more than
    # alerts_device_min_abs (the catalogue's unit), for alerts_device_hours hours running.
    alerts_device_tolerance_pct: Annotated[float, Field(gt=0)] = 5.0
    alerts_device_min_abs: Annotated[float, Field(ge=0)] = 0.1
    alerts_device_hours: Annotated[int, Field(ge=1)] = 1
    # copied_day: a local day at least alerts_copy_share_pct % of whose hours (and at least
    # alerts_copy_min_hours) repeat the minute values of the same hours of one of the
    # alerts_copy_days days before.
    alerts_copy_days: Annotated[int, Field(ge=1)] = 7
    alerts_copy_min_hours: Annotated[int, Field(ge=1)] = 12
    alerts_copy_share_pct: Annotated[float, Field(gt=0, le=100)] = 90.0
    # analyser_change: a change of an analyser's range, slope or intercept (HJ 212 CN 3020)
    # after which the valid hourly means of the alerts_analyser_hours hours are at least
    # alerts_analyser_drop_pct % under those of the hours before.
    alerts_analyser_hours: Annotated[int, Field(ge=1)] = 3
    alerts_analyser_drop_pct: Annotated[float, Field(gt=0, lt=100)] = 20.0
