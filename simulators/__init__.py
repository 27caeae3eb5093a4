"""Simulated fleets of factories, scripted incidents and the outcome they must produce.

Data flow (one concept per module):

    scenario.py   TOML scenario -> Scenario (outlets, incidents, period)
    process.py    per-industry behaviour of an outlet, minute by minute (nominal, no noise)
    incidents.py  what each scripted incident does to a minute
    plan.py       every message a scenario sends, deterministic (PlannedMessage)
    payloads.py   noise and encoding: JSON readings, HJ 212 frames (encoder plugged in)
    expected.py   the expected outcome, judged from the plan (pure)
    outcome.py    Expectation, Observed, compare(), report()
    registry.py   the registry and device secrets a scenario needs
    clocks.py     backfill, accelerated, real time
    links.py      MQTT and HJ 212 TCP connections of a device
    runner.py     ScenarioPublisher: plan -> payloads -> links, with flow control
    load.py       load mode for benchmarks
    fleet.py      simple generated fleets (tests, load mode)
"""
