"""Simulated fleets of factories, scripted incidents and the outcome they must produce.

Data flow (one concept per module):

    scenario.py   TOML scenario -> Scenario (outlets, incidents, period)
    process.py    per-industry behaviour of an outlet, minute by minute (nominal, no noise)
    incidents.py  what each scripted incident does to a minute
    plan.py       every message a scenario sends, deterministic (PlannedMessage)
    payloads.py   noise and encoding: JSON readings, HJ 212 frames (encoder plugged in)
    malformations.py  the ways a device breaks a message, and the rejections they get
    hj212.py      the HJ 212 encoder on the service's codec, and the 9014 reply matcher
    expected/     the expected outcome, judged from the plan (pure): hours, alerts,
                  evidence, rankings, rejections
    outcome.py    Expectation, Observed, compare(), report()
    registry.py   the registry and device secrets a scenario needs
    clocks.py     backfill, accelerated, real time
    links.py      MQTT and HJ 212 TCP connections of a device
    runner.py     ScenarioPublisher: plan -> payloads -> links, with flow control
    load.py       load mode for benchmarks
    fleet.py      simple generated fleets (tests, load mode)
    observe.py    what the service reports, read from its API into Observed
    verify.py     python -m simulators.verify NAME (make scenario): a scenario through the
                  whole local stack (devstack.stack), compared with its expectations

May import: ``core``, ``store``, ``hj212``, ``mqtt``, ``api`` (keys), ``devstack`` (verify).
"""
