"""python -m simulators: run a scenario's fleet, or a load test.

    python -m simulators --scenario config/scenarios/incidents.toml --clock backfill
    python -m simulators --scenario config/scenarios/demo.toml --clock backfill --follow
    python -m simulators --scenario FILE --clock accelerated --speed 60
    python -m simulators --scenario FILE --registry-only      # write registry and expectations
    python -m simulators --load --devices 1000 --rate 5000 --count 100000 --duration-s 60

A scenario run first writes the registry (and device secrets) the service must load, and the
expected outcome (``expected.json``: period, expectations, verdicts left out as ambiguous, the
operating-state marks the enterprises declare),
by default under ``var/scenarios/<name>/``. Broker settings come from the environment (EMS_*):
with EMS_SIM_DEVICE_LOGIN=true each device logs in as itself, else all as EMS_MQTT_USERNAME;
``hj212-tcp`` outlets connect to the gateway at EMS_SIM_GATEWAY_HOST:EMS_SIM_GATEWAY_PORT and
check its 9014 replies (unanswered uploads are counted and logged as errors). ``--follow``
backfills up to the present after the period, writes ``--caught-up FILE`` (by default
``caught-up.json`` next to the registry; removed when a run starts), then goes on in real time:
``devstack.run`` starts the compliance scheduler once that file is there. A file, not a log
line or an endpoint: the simulator's other outputs (registry, secrets, expected.json) are files
in its directory already, it serves nothing and has no port to be given, and what it wrote stays
to be read after it. ``python -m simulators.verify NAME`` runs a scenario through the whole local
stack and compares the outcome (``make scenario``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import orjson

from core.clock import Clock as WallClock
from core.clock import shifted
from core.logs import setup_logging
from core.standards import load_standards
from core.times import parse_ms
from simulators import hj212
from simulators.clocks import Backfill, Clock, Paced, realtime
from simulators.expected import expected_outcome
from simulators.links import Link, LinkError, MqttLink
from simulators.load import load_fleet, run_load
from simulators.marks import declared_marks
from simulators.registry import default_paths, write_registry
from simulators.runner import LinkFactory, ScenarioPublisher, link_factory
from simulators.scenario import Scenario, ScenarioError, load_scenario
from simulators.settings import SimSettings

log = logging.getLogger("simulators")
FOLLOW_MAX_MS = 30 * 24 * 3_600_000
MINUTE_MS = 60_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulators", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--scenario", type=Path, help="a scenario TOML file")
    what.add_argument("--load", action="store_true", help="load mode (benchmarks)")
    p.add_argument("--clock", choices=("backfill", "realtime", "accelerated"),
                   default="backfill")
    p.add_argument("--speed", type=float, default=60.0, help="accelerated: N x real time")
    p.add_argument("--start", help="scenario start, RFC 3339 (default: from the scenario)")
    p.add_argument("--follow", action="store_true",
                   help="after the scenario's period, go on in real time until stopped")
    p.add_argument("--registry", type=Path, help="where to write the registry")
    p.add_argument("--secrets", type=Path, help="where to write device passwords")
    p.add_argument("--expect", type=Path, help="where to write the expected outcome")
    p.add_argument("--caught-up", type=Path,
                   help="--follow: write this file once caught up with the present "
                        "(default: caught-up.json next to the registry)")
    p.add_argument("--registry-only", action="store_true",
                   help="write registry, secrets (and expectations), then exit")
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--rate", type=float, default=1000.0, help="load: messages per second")
    p.add_argument("--count", type=int, default=10_000, help="load: at most this many")
    p.add_argument("--duration-s", type=float, default=60.0, help="load: at most this long")
    p.add_argument("--connections", type=int, default=2, help="load: MQTT connections")
    return p.parse_args(argv)


def write_expected(scenario: Scenario, path: Path) -> int:
    outcome = expected_outcome(scenario)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({
        "scenario": scenario.name, "start_ms": scenario.start_ms, "end_ms": scenario.end_ms,
        "expectations": [e.to_dict() for e in outcome.expectations],
        "ambiguous": outcome.ambiguous,
        # the stops and start-ups the enterprises must declare (POST .../marks) before the
        # period is judged, for the expectations to hold
        "marks": [dataclasses.asdict(m) for m in declared_marks(scenario)]},
        option=orjson.OPT_INDENT_2))
    if outcome.ambiguous:
        log.warning("%d verdicts left out as too close to call, e.g. %s",
                    len(outcome.ambiguous), outcome.ambiguous[0])
    return len(outcome.expectations)


def make_clock(args: argparse.Namespace, scenario: Scenario) -> Clock:
    if args.clock == "backfill":
        return Backfill()
    if args.clock == "realtime":
        return realtime()
    return Paced(args.speed, scenario.start_ms)


def scenario_links(settings: SimSettings, passwords: dict[str, str]) -> LinkFactory:
    """Links as the settings say: per-device or shared broker login, the HJ 212 gateway."""
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    return link_factory(settings.mqtt_host, settings.mqtt_port,
                        username=settings.mqtt_username, password=password,
                        client_prefix=settings.sim_client_prefix,
                        gateway=(settings.sim_gateway_host, settings.sim_gateway_port)
                        if settings.sim_gateway_port else None,
                        device_passwords=passwords if settings.sim_device_login else None,
                        replies=hj212.DataReplies)


def run_scenario(args: argparse.Namespace, settings: SimSettings, stop: threading.Event) -> int:
    start_ms = None
    if args.start:
        try:
            start_ms = parse_ms(args.start)
        except ValueError as exc:
            raise ScenarioError(f"--start: {exc} (it needs an offset, e.g. Z or +08:00)"
                                ) from None
    scenario = load_scenario(args.scenario, load_standards(settings.limits_path),
                             now_ms=shifted(settings.clock_offset_s)(), start_ms=start_ms,
                             anchor="now" if args.clock == "realtime" else "end")
    reg_path, sec_path = default_paths(scenario)
    if args.registry:
        reg_path, sec_path = args.registry, args.registry.with_name("secrets.toml")
    sec_path = args.secrets or sec_path
    fleet = write_registry(scenario, reg_path, sec_path)
    expect = args.expect or reg_path.parent / "expected.json"
    n = write_expected(scenario, expect)
    log.info("scenario %s: %d outlets, %s .. %s; registry %s; %d expectations in %s",
             scenario.name, len(scenario.outlets), scenario.start_ms, scenario.end_ms,
             reg_path, n, expect)
    if args.registry_only:
        return 0
    caught_up = args.caught_up or reg_path.parent / "caught-up.json"
    caught_up.unlink(missing_ok=True)  # an earlier run's
    pub = ScenarioPublisher(scenario, scenario_links(settings, fleet.passwords),
                            passwords=fleet.passwords, encoder=hj212.encode,
                            max_outstanding=settings.sim_max_outstanding,
                            ack_timeout_s=settings.sim_ack_timeout_s)
    try:
        stats = pub.run(make_clock(args, scenario), stop=stop)
        log.info("scenario %s: %s", scenario.name, stats.line())
        if stats.reply_failures:
            log.error("%d HJ 212 uploads were not answered as they should have been",
                      stats.reply_failures)
        if args.follow and not stop.is_set():
            follow(pub, scenario, stop, shifted(settings.clock_offset_s), caught_up)
    finally:
        pub.close()
    return 0


def write_caught_up(path: Path, scenario: Scenario, from_ms: int) -> None:
    """Say (atomically) that the backfill reached the present: real time from ``from_ms``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(orjson.dumps({"scenario": scenario.name, "following_from_ms": from_ms,
                                   "pid": os.getpid()}))
    part.replace(path)


def follow(pub: ScenarioPublisher, scenario: Scenario, stop: threading.Event,
           now_ms: WallClock, caught_up: Path) -> None:
    """After the scenario's period: the time up to the last whole minute in backfill, then
    real time (the plan goes on: incidents that outlast the period keep acting); ``caught_up``
    is written in between."""
    present = now_ms() // MINUTE_MS * MINUTE_MS - MINUTE_MS
    start = scenario.end_ms
    if present > start:
        stats = pub.run(Backfill(), start_ms=start, stop_ms=present, stop=stop)
        log.info("scenario %s, backfilled to %s: %s", scenario.name, present, stats.line())
        start = present
    if stop.is_set():
        return
    write_caught_up(caught_up, scenario, start)
    log.info("caught up with the present: following in real time from %s (%s)", start,
             caught_up)
    stats = pub.run(realtime(), start_ms=start, stop_ms=start + FOLLOW_MAX_MS, stop=stop)
    log.info("scenario %s, followed: %s", scenario.name, stats.line())


def run_load_mode(args: argparse.Namespace, settings: SimSettings,
                  stop: threading.Event) -> int:
    fleet = load_fleet(args.devices)
    reg = args.registry or Path("var/load/registry.toml")
    fleet.write(reg, args.secrets or reg.with_name("secrets.toml"))
    log.info("load registry: %s (%d outlets)", reg, len(fleet.outlets))
    if args.registry_only:
        return 0
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    links: list[Link] = [MqttLink(settings.mqtt_host, settings.mqtt_port,
                                  f"{settings.sim_client_prefix}-load-{k}",
                                  username=settings.mqtt_username, password=password,
                                  max_inflight=1000)
                         for k in range(max(1, args.connections))]
    try:
        stats = run_load(fleet, links, devices=args.devices, rate=args.rate, count=args.count,
                         duration_s=args.duration_s, stop=stop,
                         ack_timeout_s=settings.sim_ack_timeout_s,
                         start_ms=shifted(settings.clock_offset_s)())
    finally:
        for link in links:
            link.close()
    print(stats.line(), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = SimSettings()
    setup_logging(settings.log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.load:
            return run_load_mode(args, settings, stop)
        return run_scenario(args, settings, stop)
    except (ScenarioError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    except LinkError as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
