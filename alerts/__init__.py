"""Judging and alerting (``python -m alerts``): the compliance scheduler and the offline judge.

    rules/       the regulators' rules as pure functions (hours, days, operating state, rates)
    io/          what a pass reads: minute data, hour tables, the broker's counters
    judging.py   hours and days of a pass;  alerting.py, dayalerts.py, status_alerts.py,
                 gaps.py, late.py  the alerts derived from them;  passes.py, job.py  the
                 scheduled pass;  cli.py, csv_input.py  the offline CSV judge

May import: ``core``, ``store``, ``mqtt`` (``alerts.rules``: ``core`` only).
"""
