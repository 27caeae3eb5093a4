"""``python -m simulators.verify NAME`` (``make scenario NAME=...``): a scenario through the real
local stack, checked against its expected outcome.

1. The scenario (``config/scenarios/NAME.toml``, or a path) is read with its period ending now;
   its registry, device secrets and expectations (``expected.json``) are written under
   ``var/scenarios/NAME/``.
2. A fresh ``devstack.stack.LocalStack`` starts there on free loopback ports: Mosquitto with
   per-device credentials and ACLs, InfluxDB, the ingester, the HJ 212 gateway and the API.
3. The scenario is sent in backfill, each device logged in to the broker as itself, HJ 212 TCP
   devices through the gateway with its 9014 replies checked; then the run waits until
   InfluxDB holds every value and rejection the plan says the ingester must store. The
   enterprises declare their stops and start-ups (``simulators.marks``) through the API, each
   with its own enterprise key.
4. The compliance scheduler judges the period (``python -m alerts once --until END``), the end
   of the scenario being its "now". A scenario with buffered outages (``link_outage``) is sent
   and judged in phases: up to the time a line is back (judged then, the outage's hours still
   empty), then the late upload and what follows, judged again, so that the hours that
   received late data are re-judged.
5. With an inspector key, the API's hours, days, alerts, ranking and rejections are compared
   with the expectations (``simulators.outcome``); every difference is printed, then
   ``scenario NAME: k/n expectations met``, after the line of the access audit trail's hash
   chain (``store.audit.verify``, once the API has stopped and written its queue). Exit status
   0 when all are met, every HJ 212 upload was answered and the chain holds, 1 otherwise, 2
   when the run itself could not be made.

A scenario with a ``[forwarding]`` table (``simulators.forwarding``) also runs a province: a
second stack the city forwards to, down for a while mid-scenario; each outlet's readings are
then counted in the province (``forwarded`` expectations). One with ``[[public_report]]``
tables (``simulators.public``) has the public report events of its period once it is judged;
each is then looked for beside its alerts in the inspector's queue, answered and closed
(``public_report`` expectations).

Files of the run stay in ``var/scenarios/NAME/``: ``observed.json``, ``report.txt`` and the
stack's logs (``stack/logs/``).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from api.keys import KeyStore, Role
from core.logs import setup_logging
from core.standards import load_standards
from core.times import format_ms
from devstack.servers import ServerError
from devstack.stack import LIMITS, ROOT, LocalStack, wait_for
from simulators import hj212
from simulators.__main__ import write_expected
from simulators.clocks import Backfill
from simulators.declare import declare
from simulators.forwarding import (
    Forwarder,
    ForwardingPlan,
    Province,
    city_registry,
    counted,
    forwarding_of,
    wait_forwarded,
)
from simulators.forwarding import expectations as forwarding_expectations
from simulators.links import LinkError
from simulators.marks import declared_marks
from simulators.observe import ApiError, observe
from simulators.outcome import Difference, Expectation, Observed, compare, report
from simulators.payloads import expected_rejections, stored_entries
from simulators.plan import PlannedMessage
from simulators.process import HOUR_MS
from simulators.public import expectations as public_expectations
from simulators.public import plans_of, walk
from simulators.registry import write_registry
from simulators.runner import RunStats, ScenarioPublisher, link_factory
from simulators.scenario import Scenario, ScenarioError, load_scenario
from store.audit import verify as verify_audit
from store.influx import InfluxStore, StoreError

log = logging.getLogger("verify")
SCENARIOS = ROOT / "config" / "scenarios"
VAR = ROOT / "var" / "scenarios"
JUDGE_TIMEOUT_S = 900.0


@dataclass
class Tally:
    """What the ingester must end up storing: distinct reading points and rejections."""

    scenario: Scenario
    points: set[tuple[int, str, int]] = field(default_factory=set)
    rejections: int = 0

    def __call__(self, msg: PlannedMessage, _topic: str, _payload: bytes) -> None:
        spec = self.scenario.outlets[msg.outlet]
        for key in stored_entries(msg, spec):
            self.points.add((msg.outlet, key, msg.stamp_ms))
        self.rejections += len(expected_rejections(msg, spec))


@dataclass
class Verdict:
    expectations: list[Expectation]
    differences: list[Difference]
    stats: RunStats
    text: str
    audit_ok: bool = True  # the audit trail's hash chain holds

    @property
    def ok(self) -> bool:
        return not self.differences and not self.stats.reply_failures and self.audit_ok


def scenario_path(name: str) -> Path:
    path = Path(name)
    return path if path.suffix == ".toml" else SCENARIOS / f"{name}.toml"


def publisher(stack: LocalStack, sc: Scenario, passwords: dict[str, str],
              tally: Tally) -> ScenarioPublisher:
    """A publisher of the scenario, each device logged in as itself."""
    links = link_factory("127.0.0.1", stack.ports.mqtt, client_prefix="verify",
                         gateway=("127.0.0.1", stack.ports.gateway), device_passwords=passwords,
                         replies=hj212.DataReplies)
    return ScenarioPublisher(sc, links, passwords=passwords, encoder=hj212.encode,
                             on_sent=tally)


def phases(sc: Scenario) -> list[tuple[tuple[int, int], int]]:
    """(window of send times, judged until) of each phase: one per time a buffered outage's
    line is back inside the period, then the rest up to the end."""
    backs = sorted({inc.end_ms for inc in sc.incidents if inc.kind == "link_outage"
                    and inc.get("buffered", True) and sc.start_ms < inc.end_ms < sc.end_ms})
    edges = [-(2**62), *backs, 2**62]
    return [((lo, hi), min(hi, sc.end_ms)) for lo, hi in itertools.pairwise(edges)]


def wait_stored(store: InfluxStore, tally: Tally, dead: Callable[[], str | None]) -> None:
    """Until InfluxDB holds every point and rejection the plan says it must; if some never
    arrive, the comparison goes on without them (their hours will differ) after a warning."""
    n = len(tally.points)
    deadline = time.monotonic() + 60 + n / 5000
    while True:
        got, rejected = store.count("reading"), store.count("rejection")
        if got >= n and rejected >= tally.rejections:
            break
        problem = dead()
        if problem:
            raise ServerError(problem)
        if time.monotonic() > deadline:
            log.warning("InfluxDB holds %d of %d readings and %d of %d rejections: going on",
                        got, n, rejected, tally.rejections)
            return
        time.sleep(0.2)
    if got != n:
        log.warning("InfluxDB holds %d reading points, the plan %d", got, n)


def judge(stack: LocalStack, sc: Scenario, until_ms: int | None = None) -> None:
    """One scheduler pass at ``until_ms`` (default: the scenario's end), reaching back to the
    scenario's start."""
    until = sc.end_ms if until_ms is None else until_ms
    hours = math.ceil((until - sc.start_ms) / HOUR_MS)
    child = stack.start("alerts", "once", "--until", format_ms(until), watched=False,
                        env={"EMS_ALERTS_CATCHUP_HOURS": str(hours)})
    try:
        code = child.proc.wait(JUDGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.proc.kill()
        code = child.proc.wait()
    if code != 0:
        raise ServerError(f"python -m alerts once exited with {code}:\n"
                          f"{child.log_text()[-1500:]}")


def send_and_judge(stack: LocalStack, sc: Scenario, passwords: dict[str, str], tally: Tally,
                   stop: threading.Event, t0: float) -> RunStats:
    """Send the scenario phase by phase (``phases``), declare its marks, judge each phase."""
    pub = publisher(stack, sc, passwords, tally)
    marks = declared_marks(sc)
    try:
        for n, (window, until) in enumerate(phases(sc)):
            stats = pub.run(Backfill(), stop=stop, sent_window=window)
            log.info("sent: %s", stats.line())
            if stop.is_set():
                raise ServerError("interrupted")
            wait_stored(stack.store(), tally, stack.dead)
            if n == 0 and marks:
                keys = KeyStore(stack.records(), cache_s=0)
                log.info("%d of %d marks declared", declare(stack.api_url, keys, marks),
                         len(marks))
            log.info("stored after %.1f s; judging until %s", time.monotonic() - t0,
                     format_ms(until))
            judge(stack, sc, until)
        log.info("judged after %.1f s; reading the API", time.monotonic() - t0)
        return stats
    finally:
        pub.close()


def send_forwarded(stack: LocalStack, province: Province, forwarder: Forwarder, sc: Scenario,
                   passwords: dict[str, str], tally: Tally, stop: threading.Event,
                   plan: ForwardingPlan) -> tuple[RunStats, str]:
    """Send the period's first part, wait until the province has it, stop the province for
    ``plan.outage_s`` while the rest is sent, start it again, wait for the backlog, judge."""
    pub = publisher(stack, sc, passwords, tally)
    mid = sc.start_ms + round((sc.end_ms - sc.start_ms) * plan.at)
    marks = declared_marks(sc)
    try:
        pub.run(Backfill(), stop=stop, sent_window=(-(2**62), mid))
        wait_stored(stack.store(), tally, stack.dead)
        if marks:
            keys = KeyStore(stack.records(), cache_s=0)
            log.info("%d of %d marks declared", declare(stack.api_url, keys, marks), len(marks))
        if not wait_forwarded(stack.store(), province.stack.store(), stack.dead, 120):
            log.warning("the province lacks city readings before its outage: going on")
        log.info("the province holds the first %s; stopping it for %.0f s",
                 format_ms(mid, "minutes"), plan.outage_s)
        province.stop()
        down = time.monotonic()
        stats = pub.run(Backfill(), stop=stop, sent_window=(mid, 2**62))
        wait_stored(stack.store(), tally, stack.dead)
        wait_for(lambda: forwarder.backlog() > 0, "a backlog while the province is down",
                 max(5.0, plan.outage_s - (time.monotonic() - down)), stack.dead)
        stop.wait(max(0.0, plan.outage_s - (time.monotonic() - down)))  # the outage itself
        backlog = forwarder.backlog()
        if stop.is_set():
            raise ServerError("interrupted")
        province.start()
        outage = time.monotonic() - down
        log.info("province back after %.0f s; %d items queued for it", outage, backlog)
        t = time.monotonic()
        if wait_forwarded(stack.store(), province.stack.store(), stack.dead,
                          120 + len(tally.points) / 500):
            after = f"all delivered {time.monotonic() - t:.1f} s after its return"
        else:
            after = "not all delivered"
            log.warning("the province lacks city readings after its outage: going on")
        note = (f"forwarding: the province down {outage:.0f} s with {backlog} items queued, "
                f"{after}")
        log.info("%s", note)
        judge(stack, sc)
        return stats, note
    finally:
        pub.close()


def read_back(stack: LocalStack, sc: Scenario, arrivals: tuple[int, int],
              ranks: bool) -> Observed:
    _, key = KeyStore(stack.records(), cache_s=0).create(Role.INSPECTOR)
    owners = {o.mn: o.enterprise for o in sc.outlets}
    with httpx.Client(base_url=stack.api_url, timeout=60.0,
                      headers={"Authorization": f"Bearer {key}"}) as client:
        return observe(client, sc.enterprises(), sc.start_ms, sc.end_ms, arrivals, owners,
                       ranks=ranks)


def run(path: Path, workdir: Path, *, influx_url: str | None = None,
        database: str = "emissions", stop: threading.Event | None = None) -> Verdict:
    """Run one scenario through a fresh stack under ``workdir``; see the module docstring."""
    stop = stop or threading.Event()
    standards = load_standards(LIMITS)
    sc = load_scenario(path, standards, now_ms=int(time.time() * 1000))
    registry, secrets = workdir / "registry.toml", workdir / "secrets.toml"
    fleet = write_registry(sc, registry, secrets)
    write_expected(sc, workdir / "expected.json")
    expectations = [Expectation.from_dict(e) for e in
                    orjson.loads((workdir / "expected.json").read_bytes())["expectations"]]
    plan = forwarding_of(path)
    reports = plans_of(path)
    expectations += public_expectations(sc, reports)
    province: Province | None = None
    notes: list[str] = []
    env = {"EMS_TIMEZONE": sc.tz.key}
    shutil.rmtree(workdir / "stack", ignore_errors=True)
    if plan is not None:
        expectations += forwarding_expectations(sc, plan)
        shutil.rmtree(workdir / "province", ignore_errors=True)
        province = Province(workdir / "province", registry, secrets, env)
        pw_env = city_registry(registry, fleet.passwords, province.gateway_port, plan,
                               workdir / "city-registry.toml")
        registry = workdir / "city-registry.toml"
    stack = LocalStack(workdir / "stack", registry, secrets, influx_url=influx_url,
                       database=database, extra_env=env)
    t0 = time.monotonic()
    try:
        stack.start_servers()
        for service in ("ingest", "gateway", "api"):
            stack.start(service)
        stack.wait_ready()
        tally = Tally(sc)
        since = int(time.time() * 1000) - 60_000
        if province is None or plan is None:
            log.info("stack up in %.1f s; sending %s", time.monotonic() - t0, sc.name)
            stats = send_and_judge(stack, sc, fleet.passwords, tally, stop, t0)
        else:
            province.start()
            forwarder = Forwarder.start(stack, sc, pw_env)
            log.info("city and province up in %.1f s; sending %s", time.monotonic() - t0,
                     sc.name)
            stats, note = send_forwarded(stack, province, forwarder, sc, fleet.passwords, tally,
                                         stop, plan)
            notes.append(note)
        public_seen = walk(stack.api_url, stack.records(), sc, reports) if reports else {}
        ranks = any(e.kind == "rank_below" for e in expectations)
        observed = read_back(stack, sc, (since, int(time.time() * 1000) + 60_000), ranks)
        observed.public_reports = public_seen
        if province is not None:
            observed.forwarded = counted(stack.store(), province.stack.store())
            total = sum(n for n, _ in observed.forwarded.values())
            there = sum(k for _, k in observed.forwarded.values())
            notes.append(f"forwarding: {there}/{total} city readings in the province")
    finally:
        stack.stop()
        if province is not None:
            province.stop()
    chain = verify_audit(stack.records())
    stack.stop()  # closes the records database again
    (workdir / "observed.json").write_bytes(orjson.dumps(observed, option=orjson.OPT_INDENT_2))
    differences = compare(expectations, observed)
    lines = [f"HJ 212 over TCP: {stats.replies_missing} uploads unanswered, "
             f"{stats.replies_bad} replies that answer none"] if stats.reply_failures else []
    lines += notes  # the forwarding counts; the audit chain's line comes last before the verdict
    lines.append(f"audit chain holds: {chain.batches} batches, {chain.events} events" if chain.ok
                 else f"audit chain broken at batch {chain.broken_seq}: {chain.reason}")
    text = "\n".join([*lines, report(sc.name, expectations, differences)])
    (workdir / "report.txt").write_text(text + "\n")
    log.info("done in %.1f s", time.monotonic() - t0)
    return Verdict(expectations, differences, stats, text, chain.ok)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulators.verify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a scenario of config/scenarios (clean, incidents, ...) or a "
                                "path to a scenario TOML file")
    p.add_argument("--workdir", type=Path, help="default: var/scenarios/NAME")
    args = p.parse_args(argv)
    setup_logging("INFO")
    path = scenario_path(args.name)
    if not path.exists():
        log.error("no scenario %s", path)
        return 2
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C: stop everything
    try:
        verdict = run(path, args.workdir or VAR / path.stem)
    except (ScenarioError, ServerError, LinkError, StoreError, ApiError, httpx.HTTPError) as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    print(verdict.text, flush=True)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
